"""The ETL benchmark (see bench/etl_bench.py and docs/performance.md). Not part of the app."""
