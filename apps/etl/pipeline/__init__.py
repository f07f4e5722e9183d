"""The ETL stages: pure functions (no ORM, settings, storage or warehouse).

extract -> map -> dedupe -> validate -> clean -> transform. The stages share one DuckDB
work connection (in memory, spilling to a temp folder past its memory limit), so a file
of any size is read once into a table and then handled by vectorised SQL that streams
through it: memory does not grow with the file. Each stage takes table names and a
frozen SchemaSpec and returns table names and plain results; `etl.services.pipeline_run`
is the one orchestrator that touches the ORM, storage and the warehouse.
"""
