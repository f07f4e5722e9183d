"""The embedded warehouse: a Delta Lake table on disk, queried by DuckDB.

A DuckDB database file can be opened by one process only, so the fact table is a Delta
table instead: workers commit batches atomically from any number of processes, and every
reader gets a consistent snapshot. Readers query the snapshot's parquet files with an
in-memory DuckDB, where the views are defined.

delta-rs starts a runtime that does not survive fork(): nothing here runs at import time,
and the per-process cache is rebuilt if the process id changes.
"""

import json
import logging
import os
import random
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
from deltalake import DeltaTable, WriterProperties, write_deltalake
from deltalake.exceptions import CommitFailedError, TableNotFoundError

from apps.warehouse.base import BatchSource
from apps.warehouse.fact import FACT_SCHEMA, FACT_TABLE, ViewSpec

log = logging.getLogger(__name__)
COMMIT_ATTEMPTS = 8


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _batch_predicate(upload_id: str) -> str:
    # The id is a UUID (validated here), so it can be written into the Delta predicate.
    return f"upload_id = '{uuid.UUID(str(upload_id))}'"


def _column_names(table: DeltaTable) -> list[str]:
    """The table's columns now: the canonical ones, then any an admin's field added."""
    return [f.name for f in table.schema().fields]


class EmbeddedWarehouse:
    name = "embedded"

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.table_uri = str(self.root / FACT_TABLE)
        self.views_file = self.root / "views.json"
        self._lock = threading.Lock()
        self._pid = 0
        self._con: duckdb.DuckDBPyConnection | None = None
        self._snapshot: tuple[int, float] | None = None

    # -- writes ---------------------------------------------------------------------------
    def ensure_schema(self, *, views: Sequence[ViewSpec]) -> list[str]:
        changes = []
        self.root.mkdir(parents=True, exist_ok=True)
        if not DeltaTable.is_deltatable(self.table_uri):
            DeltaTable.create(self.table_uri, schema=FACT_SCHEMA, mode="ignore", name=FACT_TABLE)
            changes.append(f"created table {FACT_TABLE}")
        wanted = [{"name": v.name, "country_code": v.country_code} for v in views]
        current = json.loads(self.views_file.read_text()) if self.views_file.exists() else []
        if wanted != current:
            tmp = self.views_file.with_suffix(".tmp")
            tmp.write_text(json.dumps(wanted, indent=2))
            tmp.replace(self.views_file)  # atomic: readers see the old or the new list
            changes += [f"view {v['name']}" for v in wanted if v not in current]
        return changes

    def replace_batch(self, *, upload_id: str, table: "pa.Table | BatchSource") -> int:
        """One Delta commit replaces the upload's rows, however many batches stream in.

        schema_mode="merge" lets an admin's new field add a nullable column; older files
        simply lack it and read as NULL.
        """
        predicate = _batch_predicate(upload_id)
        counted = {"rows": 0}

        def stream() -> pa.RecordBatchReader:
            reader = table() if callable(table) else pa.RecordBatchReader.from_batches(table.schema, table.to_batches())
            counted["rows"] = 0

            def batches():
                for batch in reader:
                    counted["rows"] += batch.num_rows
                    yield batch

            return pa.RecordBatchReader.from_batches(reader.schema, batches())

        self._commit(
            lambda: write_deltalake(
                self.table_uri,
                stream(),
                mode="overwrite",
                predicate=predicate,
                schema_mode="merge",
                # Snappy: a third faster to write than delta-rs's default, for slightly larger files.
                writer_properties=WriterProperties(compression="SNAPPY"),
            )
        )
        return counted["rows"]

    def delete_batch(self, *, upload_id: str) -> int:
        predicate = _batch_predicate(upload_id)
        metrics: dict = {}
        self._commit(lambda: metrics.update(DeltaTable(self.table_uri).delete(predicate)))
        return int(metrics.get("num_deleted_rows", 0))

    def _commit(self, write) -> None:
        """Run a Delta commit, retrying when another process committed first."""
        for attempt in range(1, COMMIT_ATTEMPTS + 1):
            try:
                write()
                return
            except CommitFailedError:
                if attempt == COMMIT_ATTEMPTS:
                    raise
                delay = min(2.0, 0.05 * 2**attempt) * (0.5 + random.random())
                log.info("warehouse commit conflict, retry %s in %.2fs", attempt, delay)
                time.sleep(delay)

    # -- reads ----------------------------------------------------------------------------
    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> pa.Table:
        cursor = self._reader().cursor()
        try:
            return cursor.sql(sql, params=dict(params or {})).to_arrow_table()
        finally:
            cursor.close()

    def version(self) -> int:
        return DeltaTable(self.table_uri).version()

    def _reader(self) -> duckdb.DuckDBPyConnection:
        """An in-memory DuckDB whose views point at the latest committed snapshot."""
        try:
            table = DeltaTable(self.table_uri)
        except TableNotFoundError as exc:
            raise RuntimeError(
                "The embedded warehouse has no table yet: run `python manage.py warehouse_sync`."
            ) from exc
        views_mtime = self.views_file.stat().st_mtime if self.views_file.exists() else 0.0
        snapshot = (table.version(), views_mtime)
        with self._lock:
            if self._pid != os.getpid() or self._con is None:
                self._con, self._pid, self._snapshot = duckdb.connect(), os.getpid(), None
            if self._snapshot != snapshot:
                self._define_views(self._con, table.file_uris(), _column_names(table))
                self._snapshot = snapshot
            return self._con

    def _define_views(self, con: duckdb.DuckDBPyConnection, files: list[str], names: list[str]) -> None:
        if files:
            listed = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
            # Files written before a column was added lack it: union by name reads it as NULL.
            source = f"read_parquet([{listed}], union_by_name = true)"
        else:
            # A table, not a registered Arrow object: queries run on cursors, which do not
            # see objects registered on their parent connection.
            con.register("_empty_arrow", FACT_SCHEMA.empty_table())
            con.execute("CREATE OR REPLACE TABLE _empty_fact AS SELECT * FROM _empty_arrow")
            con.unregister("_empty_arrow")
            source = "_empty_fact"
            names = FACT_SCHEMA.names
        cols = ", ".join(_quote(n) for n in names)
        con.execute(f"CREATE OR REPLACE VIEW {_quote(FACT_TABLE)} AS SELECT {cols} FROM {source}")
        views = json.loads(self.views_file.read_text()) if self.views_file.exists() else []
        for view in views:
            where = "TRUE" if view["country_code"] is None else "country_code = '" + view["country_code"] + "'"
            con.execute(
                f"CREATE OR REPLACE VIEW {_quote(view['name'])} AS SELECT * FROM {_quote(FACT_TABLE)} WHERE {where}"
            )
