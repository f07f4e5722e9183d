"""The ETL stages: pure functions over Arrow tables (no ORM, settings, storage or warehouse).

extract -> map_columns -> parse -> validate -> clean -> transform. Each takes frames and a
frozen SchemaSpec and returns frames and plain results; `etl.services.pipeline_run` is the
one orchestrator that touches the ORM, storage and the warehouse.
"""
