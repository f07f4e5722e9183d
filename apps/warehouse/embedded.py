"""The embedded warehouse: a Delta Lake table on disk, queried by DuckDB.

A DuckDB database file can be opened by one process only, so the fact table is a Delta
table instead: workers commit batches atomically from any number of processes, and every
reader gets a consistent snapshot. Readers query the snapshot's parquet files with an
in-memory DuckDB, where the views are defined.

delta-rs starts a runtime that does not survive fork(): nothing here runs at import time,
and the per-process cache is rebuilt if the process id changes.
"""

import fcntl
import json
import logging
import os
import random
import shutil
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
from deltalake import DeltaTable, WriterProperties, write_deltalake
from deltalake.exceptions import CommitFailedError, TableNotFoundError
from deltalake.transaction import AddAction

from apps.warehouse import delta_files
from apps.warehouse.base import (
    BATCH_ROWS,
    MATCH_COUNTS,
    MATCH_KEYS,
    BatchSource,
    Capabilities,
    DateSpan,
    LineMatches,
    ParquetBatch,
    ResultPage,
    WarehouseBusy,
    date_trunc_checked,
    line_matches_of,
)
from apps.warehouse.fact import FACT_SCHEMA, FACT_TABLE, LINE_KEY_PARTS_DUCKDB, ViewSpec, line_key_duckdb

log = logging.getLogger(__name__)
COMMIT_ATTEMPTS = 8
# Files an old snapshot may still be reading are kept this long after a compaction.
VACUUM_RETENTION_HOURS = 1


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _batch_predicate(upload_id: str, *also: str) -> str:
    # The ids are UUIDs (validated here), so they can be written into the Delta predicate.
    ids = [f"'{uuid.UUID(str(u))}'" for u in (upload_id, *also)]
    return f"upload_id = {ids[0]}" if len(ids) == 1 else f"upload_id IN ({', '.join(ids)})"


# DuckDB's spelling of the fact table's column types, for a column no file has yet.
_DUCKDB_TYPES = {"string": "VARCHAR", "int64": "BIGINT", "date32[day]": "DATE", "bool": "BOOLEAN"}


def _duckdb_type(arrow: pa.DataType) -> str:
    if pa.types.is_timestamp(arrow):
        return "TIMESTAMPTZ" if arrow.tz else "TIMESTAMP"
    if pa.types.is_decimal(arrow):
        return f"DECIMAL({arrow.precision}, {arrow.scale})"
    return _DUCKDB_TYPES[str(arrow)]


def keyed_rows_sql(source: str, where: str) -> str:
    """The rows of `source` matching `where`, with their line key: as stored, or, for a row
    loaded before keys were stored (line_key NULL), computed from its columns as the ETL
    computes it (the occurrence counted within its upload, in source_row order). Columns:
    upload_id, source_row, store_id, line_key."""
    occurrence = "row_number() OVER (PARTITION BY upload_id, _key_parts ORDER BY source_row)"
    return f"""
        SELECT upload_id, source_row, store_id, line_key FROM {source} WHERE ({where}) AND line_key IS NOT NULL
        UNION ALL
        SELECT upload_id, source_row, store_id, {line_key_duckdb("_key_parts", occurrence)}
        FROM (SELECT upload_id, source_row, store_id, {LINE_KEY_PARTS_DUCKDB} AS _key_parts
              FROM {source} WHERE ({where}) AND line_key IS NULL)"""


def _column_or_null(name: str, found) -> str:
    if name in found:
        return _quote(name)
    kind = _duckdb_type(FACT_SCHEMA.field(name).type) if name in FACT_SCHEMA.names else "VARCHAR"
    return f"CAST(NULL AS {kind}) AS {_quote(name)}"


def _column_names(table: DeltaTable) -> list[str]:
    """The table's columns now: the canonical ones, then any an admin's field added."""
    return [f.name for f in table.schema().fields]


def spill_folders_of_dead_processes_remove(spill_dir: Path) -> None:
    """A reader's spill folder outlives its process only when the process was killed: it is
    removed by the next process that opens a reader."""
    for folder in spill_dir.glob("reader-*"):
        pid = folder.name.removeprefix("reader-")
        if pid.isascii() and pid.isdigit() and not Path(f"/proc/{pid}").exists():
            shutil.rmtree(folder, ignore_errors=True)


def _commit_conflict(exc: BaseException) -> bool:
    """Another process committed first: the commit is planned again and retried."""
    return isinstance(exc, CommitFailedError)


class EmbeddedWarehouse:
    name = "embedded"
    capabilities = Capabilities(
        # The load's parquet file is written with V2 data pages and newer encodings (delta-
        # packed integers): 40% smaller and 0.03 s quicker to write per million rows. Its
        # readers (DuckDB, delta-rs' compaction, pyarrow) all read them.
        parquet_version="v2",
        compaction=True,
        retryable=_commit_conflict,
    )

    def __init__(
        self, root: Path, *, compact_files: int = 0, reader_memory_limit: str = "", spill_dir: Path | None = None
    ) -> None:
        self.root = Path(root)
        # Compact after a load once the table has this many files (0: never on load).
        self.compact_files = compact_files
        # The reader's DuckDB (a web process's reports and exports): at most this much memory
        # (DuckDB's own syntax, e.g. "1GB"; empty: DuckDB's default, 80% of the machine), and
        # what does not fit (a big sort, a big aggregate) spills to a folder of this process's
        # own under `spill_dir`.
        self.reader_memory_limit = reader_memory_limit
        self.spill_dir = Path(spill_dir) if spill_dir else None
        self.table_uri = str(self.root / FACT_TABLE)
        self.views_file = self.root / "views.json"
        self._lock = threading.Lock()
        self._pid = 0
        self._con: duckdb.DuckDBPyConnection | None = None
        self._snapshot: tuple[int, float] | None = None
        self._table: DeltaTable | None = None

    # -- writes ---------------------------------------------------------------------------
    def ensure_schema(
        self, *, views: Sequence[ViewSpec], added: Sequence[pa.Field] = (), dry_run: bool = False
    ) -> list[str]:
        changes = []
        if not DeltaTable.is_deltatable(self.table_uri):
            changes.append(f"create table {FACT_TABLE}")
            if not dry_run:
                self.root.mkdir(parents=True, exist_ok=True)
                DeltaTable.create(self.table_uri, schema=FACT_SCHEMA, mode="ignore", name=FACT_TABLE)
        else:
            changes += self._columns_add(dry_run, added)
        wanted = [{"name": v.name, "country_code": v.country_code} for v in views]
        current = json.loads(self.views_file.read_text()) if self.views_file.exists() else []
        if wanted != current:
            changes += [f"create or replace view {v['name']}" for v in wanted if v not in current]
            changes += [f"drop view {v['name']}" for v in current if v not in wanted]
            if not dry_run:
                tmp = self.views_file.with_suffix(".tmp")
                tmp.write_text(json.dumps(wanted, indent=2))
                tmp.replace(self.views_file)  # atomic: readers see the old or the new list
        return changes

    def _columns_add(self, dry_run: bool, added: Sequence[pa.Field] = ()) -> list[str]:
        """The fact table's columns the Delta table lacks (line_key, on a table made before
        it; the admin's added fields), added as nullable columns: a metadata commit; older
        files read them as NULL."""
        from deltalake.schema import Field

        table = DeltaTable(self.table_uri)
        have = set(_column_names(table))
        missing = [f for f in [*FACT_SCHEMA, *added] if f.name not in have]
        if missing and not dry_run:
            fields = [Field.from_arrow(f.with_nullable(True)) for f in missing]
            self._commit_shared(lambda: DeltaTable(self.table_uri).alter.add_columns(fields))
        return [f"add column {f.name} to {FACT_TABLE}" for f in missing]

    def replace_batch(
        self,
        *,
        upload_id: str,
        table: "pa.Table | BatchSource",
        retire: Sequence[str] = (),
        source_uri: str | None = None,
        displace: Sequence[str] = (),
        removes: "Sequence[DateSpan | None] | None" = None,
    ) -> int:
        """One Delta commit replaces the rows of the upload and of those it retires, and
        removes the rows of the uploads in `displace` whose line key is one of the batch's
        (those uploads' other rows written again, in the same commit).

        A ParquetBatch's file goes into the table as it is, when the files it replaces each
        hold rows of one of these uploads only and its columns are the table's. Otherwise (a
        compacted file mixing uploads, a field an admin added) the rows are streamed into
        write_deltalake, whose schema_mode="merge" adds the new nullable column; older files
        simply lack it and read as NULL.
        """
        ids = [str(uuid.UUID(str(u))) for u in (upload_id, *retire)]
        if displace:
            if not isinstance(table, ParquetBatch):
                raise TypeError("displacing lines needs the batch as a ParquetBatch")
            displaced = [str(uuid.UUID(str(u))) for u in displace]
            source = self._displacing(table, displaced)
            self._commit_shared(lambda: self._write_stream([*ids, *displaced], source))
            rows = table.rows()
        elif isinstance(table, ParquetBatch):
            rows = self._replace_with_file(ids, table)
        else:
            counted = {"rows": 0}
            self._commit_shared(lambda: counted.update(rows=self._write_stream(ids, table)))
            rows = counted["rows"]
        if self.compact_files and len(DeltaTable(self.table_uri).file_uris()) >= self.compact_files:
            self.compact(wait=False)  # another process compacting or loading: a later load will
        return rows

    def _replace_with_file(self, ids: list[str], batch: ParquetBatch) -> int:
        """The batch's own file added to the log and the files it replaces removed, in one
        commit (no second encoding of the rows); streamed when that cannot be."""
        stats = delta_files.batch_stats(batch.path, ids[0])
        placed: list[AddAction] = []
        streamed: dict[str, int | None] = {"rows": None}

        def write() -> None:
            # Planned again on each attempt: a conflicting commit may have changed the files.
            table = DeltaTable(self.table_uri)
            removes = None
            if stats and delta_files.same_schema(table, batch.path):
                removes = delta_files.files_replaced(table, ids)
            if removes is None:
                streamed["rows"] = self._write_stream(ids, batch)
                return
            streamed["rows"] = None
            if not placed:
                placed.append(delta_files.place(batch.path, self.table_uri, stats=stats))
            batch.committing()
            delta_files.commit(table, [placed[0], *removes], ids=ids)

        self._commit_shared(write)
        if streamed["rows"] is not None:
            if placed:  # placed by an attempt that conflicted, then streamed: in no snapshot
                (Path(self.table_uri) / placed[0].path).unlink(missing_ok=True)
            return streamed["rows"]
        return batch.rows()

    def _displacing(self, batch: ParquetBatch, displaced: list[str]) -> BatchSource:
        """The batch's rows, then the rows of the `displaced` uploads whose line key is not
        one of the batch's (their key filled in where it was computed), as one stream: what
        those uploads' predicate overwrite writes. Read from the latest snapshot on each
        attempt of the commit."""
        fact = _quote(FACT_TABLE)
        keyed = keyed_rows_sql(fact, "upload_id IN (SELECT unnest(CAST($ids AS VARCHAR[])))")
        sql = f"""
            WITH _mine AS (SELECT line_key FROM read_parquet($file)),
            _keyed AS ({keyed}),
            _gone AS (SELECT upload_id, source_row FROM _keyed SEMI JOIN _mine ON _mine.line_key = _keyed.line_key),
            _kept AS (SELECT f.* REPLACE (k.line_key AS line_key) FROM {fact} f
                      JOIN _keyed k ON k.upload_id = f.upload_id AND k.source_row = f.source_row
                      WHERE f.upload_id IN (SELECT unnest(CAST($ids AS VARCHAR[])))
                      AND NOT EXISTS (SELECT 1 FROM _gone g WHERE g.upload_id = f.upload_id
                                      AND g.source_row = f.source_row))
            SELECT * FROM read_parquet($file) UNION ALL BY NAME SELECT * FROM _kept"""
        params = {"file": str(batch.path), "ids": displaced}

        def stream() -> pa.RecordBatchReader:
            cursor = self._reader().cursor()
            reader = cursor.sql(sql, params=params).to_arrow_reader(BATCH_ROWS)
            batch.committing()
            return reader

        return stream

    def _write_stream(self, ids: list[str], table: "pa.Table | BatchSource") -> int:
        """write_deltalake: the rows replace those of `ids` (matched by predicate, so files
        mixing uploads are rewritten without them). Returns the rows written."""
        reader = table() if callable(table) else pa.RecordBatchReader.from_batches(table.schema, table.to_batches())
        committing = table.committing if isinstance(table, ParquetBatch) else None
        counted = {"rows": 0}

        def batches():
            if committing:
                committing()
            for batch in reader:
                counted["rows"] += batch.num_rows
                yield batch

        write_deltalake(
            self.table_uri,
            pa.RecordBatchReader.from_batches(reader.schema, batches()),
            mode="overwrite",
            predicate=_batch_predicate(*ids),
            schema_mode="merge",
            # Snappy: a third faster to write than delta-rs's default, for slightly larger files.
            writer_properties=WriterProperties(compression="SNAPPY"),
            commit_properties=delta_files.batch_claims(ids),
        )
        return counted["rows"]

    def line_matches(
        self, *, store_id: str, batch: ParquetBatch, exclude: Sequence[str] = (), keys: bool = False
    ) -> LineMatches:
        """The batch's line keys against the table's rows of the batch's order dates (the
        rows of `exclude` left out), in the reader's DuckDB over the latest snapshot; the
        batch's parquet file is read where it is, no copy of its keys made."""
        where = (
            "order_date BETWEEN (SELECT min(order_date) FROM _mine) AND (SELECT max(order_date) FROM _mine) "
            "AND upload_id NOT IN (SELECT unnest(CAST($exclude AS VARCHAR[])))"
        )
        hits = f"""
            WITH _mine AS (SELECT line_key, order_date FROM read_parquet($file)),
            _keyed AS ({keyed_rows_sql(_quote(FACT_TABLE), where)}),
            _hits AS (SELECT k.store_id, k.upload_id, k.line_key FROM _keyed k
                      SEMI JOIN _mine m ON m.line_key = k.line_key)"""
        params = {"file": str(batch.path), "exclude": [str(uuid.UUID(str(u))) for u in exclude], "store": store_id}
        cursor = self._reader().cursor()
        try:
            counts = cursor.sql(hits + MATCH_COUNTS, params=params).to_arrow_table()
            found = cursor.sql(hits + MATCH_KEYS, params=params).to_arrow_table() if keys else None
        finally:
            cursor.close()
        return line_matches_of(counts, store_id=store_id, keys=found)

    def delete_batch(self, *, upload_id: str, span: DateSpan | None = None) -> int:
        # `span` (like replace_batch's `removes`) is a cost bound for billed backends: a
        # Delta delete reads the files' statistics, not a billed column.
        predicate = _batch_predicate(upload_id)
        metrics: dict = {}
        self._commit_shared(lambda: metrics.update(DeltaTable(self.table_uri).delete(predicate)))
        return int(metrics.get("num_deleted_rows", 0))

    def compact(self, *, retention_hours: float = VACUUM_RETENTION_HOURS, wait: bool = True) -> dict[str, int]:
        """Rewrite many small files into few large ones, checkpoint the log, and delete the
        files no snapshot younger than `retention_hours` needs.

        Every upload is a commit of its own file(s); 2,000 small uploads are 2,000 parquet
        files that each report query would open. Compaction is a commit like any other
        (retried on conflict), and readers never see a partial result. It runs alone (the
        table's lock held exclusively): delta-rs let two concurrent compactions both commit,
        each adding the rows of files the other had already rewritten (under load, batches
        counted 2, 4, 8 times). With `wait=False` it is skipped (files_now -1) when a load
        or another compaction holds the lock."""
        with self._table_lock(exclusive=True, wait=wait) as held:
            if not held:
                return {"files_added": 0, "files_removed": 0, "files_vacuumed": 0, "files_now": -1}
            return self._compact(retention_hours)

    def _compact(self, retention_hours: float) -> dict[str, int]:
        metrics: dict = {}
        # Snappy, as write_deltalake writes, so a compacted file decodes like one written
        # by a single load (optimize's own default is zstd).
        snappy = WriterProperties(compression="SNAPPY")
        self._commit(lambda: metrics.update(DeltaTable(self.table_uri).optimize.compact(writer_properties=snappy)))
        table = DeltaTable(self.table_uri)
        table.create_checkpoint()
        table.cleanup_metadata()
        # full: files in no snapshot at all (a load killed before its commit) go too, once
        # older than the retention (a younger one may be a load about to commit).
        removed = table.vacuum(
            retention_hours=int(retention_hours), dry_run=False, enforce_retention_duration=False, full=True
        )
        result = {
            "files_added": int(metrics.get("numFilesAdded", 0)),
            "files_removed": int(metrics.get("numFilesRemoved", 0)),
            "files_vacuumed": len(removed),
            "files_now": len(table.file_uris()),
        }
        log.info("warehouse compaction: %s", result)
        return result

    def _commit_shared(self, write) -> None:
        """A load's or a delete's commit: concurrent with others, never with a compaction."""
        with self._table_lock(exclusive=False):
            self._commit(write)

    @contextmanager
    def _table_lock(self, *, exclusive: bool, wait: bool = True) -> Iterator[bool]:
        """flock on <root>/commit.lock (one host, as the table's folder is): shared for loads
        and deletes, exclusive for a compaction. Yields whether it was taken."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / "commit.lock", "a") as fh:
            mode = (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | (0 if wait else fcntl.LOCK_NB)
            try:
                fcntl.flock(fh, mode)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _commit(self, write) -> None:
        """Run a Delta commit, retrying when another process committed first; WarehouseBusy
        when every attempt lost."""
        for attempt in range(1, COMMIT_ATTEMPTS + 1):
            try:
                write()
                return
            except Exception as exc:
                if not self.capabilities.retryable(exc):
                    raise
                if attempt == COMMIT_ATTEMPTS:
                    raise WarehouseBusy(f"Another load kept committing first ({COMMIT_ATTEMPTS} tries): {exc}") from exc
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

    def query_batches(
        self, sql: str, params: Mapping[str, Any] | None = None, *, batch_rows: int = 50_000
    ) -> Iterator[pa.RecordBatch]:
        cursor = self._reader().cursor()
        try:
            reader = cursor.sql(sql, params=dict(params or {})).to_arrow_reader(batch_rows)
            yield from reader
        finally:
            cursor.close()

    def query_page(
        self, sql: str, params: Mapping[str, Any] | None = None, *, start: int, size: int, result: str = ""
    ) -> ResultPage:
        """The page cut by LIMIT/OFFSET and the rows counted, on the snapshot (DuckDB reads
        the local files: cheap, and nothing is kept between pages)."""
        params = dict(params or {})
        cursor = self._reader().cursor()
        try:
            page = f"{sql} LIMIT $page_size OFFSET $page_start"
            rows = cursor.sql(page, params=params | {"page_size": size, "page_start": start}).to_arrow_table()
            total = cursor.execute(f"SELECT count(*) FROM ({sql}) AS listing", params).fetchall()[0][0]
        finally:
            cursor.close()
        return ResultPage(rows=rows, total=int(total))

    def batch_rows(self, *, upload_ids: Sequence[str] | None = None, span: DateSpan | None = None) -> dict[str, int]:
        """Counted in the files of the log as it is on disk now (a fresh snapshot, not this
        process's cached one: a log file damaged under a long-running worker shows), by a
        DuckDB of its own reading the upload_id column only; with `upload_ids`, only the files
        whose upload_id range may hold them (a load's file holds one upload)."""
        ids = None if upload_ids is None else [str(uuid.UUID(str(u))) for u in upload_ids]
        if ids == []:
            return {}
        table = DeltaTable(self.table_uri)
        paths = table.file_uris() if ids is None else delta_files.files_holding(table, ids)
        if not paths:
            return {}
        files = [p if "://" in p or p.startswith("/") else str(Path(self.table_uri) / p) for p in paths]
        listed = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
        where = "" if ids is None else " WHERE upload_id IN (SELECT unnest($ids))"
        source = f"read_parquet([{listed}], union_by_name = true)"
        sql = f"SELECT upload_id, count(*) FROM {source}{where} GROUP BY upload_id"
        con = duckdb.connect()
        try:
            found = con.execute(sql, {"ids": ids} if ids is not None else {}).fetchall()
        finally:
            con.close()
        return {upload_id: int(rows) for upload_id, rows in found}

    def sql_date_trunc(self, column: str, grain: str) -> str:
        column, grain = date_trunc_checked(column, grain)
        if grain == "day":
            return column
        # DuckDB's week starts on Monday (ISO); date_trunc of a DATE is a TIMESTAMP here.
        return f"CAST(date_trunc('{grain}', {column}) AS DATE)"

    def ping(self) -> None:
        self.query("SELECT count(*) FROM " + _quote(FACT_TABLE) + " WHERE FALSE")

    def version(self) -> int:
        return DeltaTable(self.table_uri).version()

    def _reader(self) -> duckdb.DuckDBPyConnection:
        """An in-memory DuckDB whose views point at the latest committed snapshot."""
        views_mtime = self.views_file.stat().st_mtime if self.views_file.exists() else 0.0
        with self._lock:
            if self._pid != os.getpid() or self._con is None:
                self._con, self._pid, self._snapshot, self._table = self._reader_connect(), os.getpid(), None, None
            table = self._latest_table()
            snapshot = (table.version(), views_mtime)
            if self._snapshot != snapshot:
                self._define_views(self._con, table.file_uris(), _column_names(table))
                self._snapshot = snapshot
            return self._con

    def _reader_connect(self) -> duckdb.DuckDBPyConnection:
        con = duckdb.connect()
        # Each view's definition reads the files' footers again, as does each query:
        # kept once read (the table's files never change; a new commit adds new ones).
        con.execute("SET parquet_metadata_cache = true")
        if self.reader_memory_limit:
            con.execute("SET memory_limit = $limit", {"limit": self.reader_memory_limit})
        if self.spill_dir:
            # DuckDB makes the folder (not its parents) when it first spills, and removes it
            # when the connection closes; one per process, as each removes its own.
            self.spill_dir.mkdir(parents=True, exist_ok=True)
            spill_folders_of_dead_processes_remove(self.spill_dir)
            con.execute("SET temp_directory = $dir", {"dir": str(self.spill_dir / f"reader-{os.getpid()}")})
        return con

    def _latest_table(self) -> DeltaTable:
        """The table at its latest version. Loading a DeltaTable replays its checkpoint
        (after a compaction, with a tombstone per replaced file) on every query; keeping
        it and reading only new commits costs a fraction of that."""
        if self._table is None:
            try:
                self._table = DeltaTable(self.table_uri)
            except TableNotFoundError as exc:
                raise RuntimeError(
                    "The embedded warehouse has no table yet: run `python manage.py warehouse_sync`."
                ) from exc
        elif (Path(self.table_uri) / "_delta_log" / f"{self._table.version() + 1:020d}.json").exists():
            # A Delta commit is the atomic creation of the next numbered log file: if it
            # is not there, nothing changed, and the log folder need not be listed.
            self._table.update_incremental()
        return self._table

    def _define_views(self, con: duckdb.DuckDBPyConnection, files: list[str], names: list[str]) -> None:
        if files:
            listed = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
            # Files written before a column was added lack it: union by name reads it as NULL.
            source = f"read_parquet([{listed}], union_by_name = true)"
            # A column added to the table (line_key) that no file has yet reads as NULL.
            found = {row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()}
        else:
            # A registered Arrow table is seen by its own connection only, and queries run on
            # cursors: copy it into a table of the in-memory database, which cursors share.
            con.register("_empty_fact_arrow", FACT_SCHEMA.empty_table())
            con.execute("CREATE OR REPLACE TABLE _empty_fact AS SELECT * FROM _empty_fact_arrow")
            con.unregister("_empty_fact_arrow")
            source = "_empty_fact"
            names = found = FACT_SCHEMA.names
        cols = ", ".join(_column_or_null(n, found) for n in names)
        con.execute(f"CREATE OR REPLACE VIEW {_quote(FACT_TABLE)} AS SELECT {cols} FROM {source}")
        views = json.loads(self.views_file.read_text()) if self.views_file.exists() else []
        for view in views:
            where = "TRUE" if view["country_code"] is None else "country_code = '" + view["country_code"] + "'"
            con.execute(
                f"CREATE OR REPLACE VIEW {_quote(view['name'])} AS SELECT * FROM {_quote(FACT_TABLE)} WHERE {where}"
            )
