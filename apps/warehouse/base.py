"""The warehouse interface every backend implements (embedded Delta+DuckDB, BigQuery).

Queries are written once, in the portable subset that DuckDB and GoogleSQL both run the
same way:

- double-quoted identifiers ("Master_Sales_View") and `$name` parameters, which each
  backend translates to its own quoting and binding;
- functions both have, with the same meaning: coalesce, substr, min/max, sum, count,
  count(DISTINCT ...), CAST(... AS STRING);
- conditional aggregates as `sum(CASE WHEN cond THEN x END)` and
  `count(DISTINCT CASE WHEN cond THEN x END)`, never DuckDB's `agg FILTER (WHERE ...)`;
- GROUP BY naming its columns (not GROUP BY ALL), and `GROUPING SETS` with one-argument
  `grouping(column)` flags (GoogleSQL has no multi-argument grouping bitmask);
- no any_value where the value shown can differ between rows (min/max pick the same row
  on both engines), and ORDER BY with explicit NULLS FIRST/LAST where NULLs can occur
  (the engines' defaults differ) and a total order where LIMIT cuts;
- no engine-specific types in casts (DOUBLE, HUGEINT, FLOAT64): sums come back as
  decimals or integers and callers convert them in Python;
- whatever has no common spelling goes through a method of the backend:
  `sql_date_trunc(column, grain)` for day/week/month periods.

The report parity test (tests/warehouse/test_report_parity.py) runs every report query
on both backends and compares the figures; it is what keeps the subset honest. The
BigQuery emulator it uses (local-bigquery, DuckDB underneath) accepts some DuckDB-only
SQL that Google's servers would refuse, so the rules above matter even where it passes.
"""

import datetime as dt
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pyarrow as pa
import pyarrow.parquet as pq

from apps.warehouse.fact import ViewSpec

if TYPE_CHECKING:
    from apps.warehouse.row_access import RowAccessPolicy

# Opens a fresh stream of the batch's rows: called again when a commit is retried.
BatchSource = Callable[[], pa.RecordBatchReader]
DATE_GRAINS = ("day", "week", "month")
BATCH_ROWS = 128 * 1024
_COLUMN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _no_pause() -> None:
    pass


@dataclass(frozen=True)
class ParquetBatch:
    """A batch already written as one local parquet file, in the fact table's schema (with
    the admin's added fields after the canonical ones).

    A backend may take the file as it is, without encoding its rows again: the embedded
    warehouse adds it to its Delta log, BigQuery loads it. Called, it streams the rows, as
    any BatchSource (every column nullable, as in the fact table).
    """

    path: Path
    # Called inside the commit, once the rows are in place and before they are published
    # (tests pause there, ETL_TEST_PAUSE_AT=committing, to kill a worker exactly there).
    committing: Callable[[], None] = _no_pause

    def __call__(self) -> pa.RecordBatchReader:
        source = pq.ParquetFile(self.path)
        schema = pa.schema([f.with_nullable(True) for f in source.schema_arrow])

        def batches() -> Iterator[pa.RecordBatch]:
            # DuckDB marks a column of constants NOT NULL; the fact table's columns are nullable.
            for batch in source.iter_batches(batch_size=BATCH_ROWS):
                yield pa.RecordBatch.from_arrays(batch.columns, schema=schema)

        return pa.RecordBatchReader.from_batches(schema, batches())

    def rows(self) -> int:
        return pq.ParquetFile(self.path).metadata.num_rows


@dataclass(frozen=True)
class DateSpan:
    """The first and last order day of an upload's rows (Upload.first_order_date and
    last_order_date): what bounds a write to the rows it touches (BigQuery: those partitions)."""

    first: dt.date
    last: dt.date

    def __post_init__(self) -> None:
        if self.first > self.last:
            raise ValueError(f"A span ends before it starts: {self.first} > {self.last}")

    def union(self, other: "DateSpan") -> "DateSpan":
        return DateSpan(min(self.first, other.first), max(self.last, other.last))


# The bound used where a span is unknown (rows loaded before spans were kept): explicit, so
# the statement still names order_date (a table with require_partition_filter takes it), but
# it prunes nothing: the statement is billed for the whole column, as it was before.
UNKNOWN_SPAN = DateSpan(dt.date(1900, 1, 1), dt.date(9999, 12, 31))


def span_of(*spans: "DateSpan | None") -> DateSpan | None:
    """The union of the spans; UNKNOWN_SPAN if one of them is unknown (None); None if none."""
    found: DateSpan | None = None
    for span in spans:
        span = UNKNOWN_SPAN if span is None else span
        found = span if found is None else found.union(span)
    return found


def removal_span(removes: "Iterable[DateSpan | None] | None") -> DateSpan | None:
    """Where the rows a replace removes can be: None (the caller does not know) is unknown;
    an empty sequence is nothing earlier (a first load)."""
    return UNKNOWN_SPAN if removes is None else span_of(*removes)


@dataclass(frozen=True)
class LineMatches:
    """A batch's lines found in the table (by line key, apps/warehouse/fact.py) under other
    uploads: the overlap check's findings."""

    # Another upload of the shop -> how many of its rows have one of the batch's keys (what
    # replacing its overlapping lines removes from it).
    by_upload: dict[str, int]
    # How many of the batch's lines the shop has loaded already (from any other upload).
    lines: int
    # Another shop -> how many of the batch's lines it has under the same key (shown, not held).
    other_shops: dict[str, int]
    # The batch's keys found under the shop (one column, line_key), when asked for: to load
    # only the new lines.
    keys: pa.Table | None = None


# Shared by the backends: `_hits` (store_id, upload_id, line_key: the table's rows, other
# uploads only, whose key is one of the batch's) is their own CTE; these select from it.
MATCH_COUNTS = """
    SELECT store_id, upload_id, count(*) AS n FROM _hits WHERE store_id = $store GROUP BY store_id, upload_id
    UNION ALL
    SELECT store_id, CAST(NULL AS STRING) AS upload_id, count(DISTINCT line_key) AS n FROM _hits GROUP BY store_id"""
MATCH_KEYS = " SELECT DISTINCT line_key FROM _hits WHERE store_id = $store"


def line_matches_of(counts: pa.Table, *, store_id: str, keys: pa.Table | None = None) -> LineMatches:
    """LineMatches from MATCH_COUNTS' rows (and MATCH_KEYS' when asked)."""
    by_upload, lines, other_shops = {}, 0, {}
    for row in counts.to_pylist():
        if row["upload_id"] is not None:
            by_upload[str(row["upload_id"])] = int(row["n"])
        elif row["store_id"] == store_id:
            lines = int(row["n"])
        else:
            other_shops[str(row["store_id"])] = int(row["n"])
    return LineMatches(by_upload=by_upload, lines=lines, other_shops=other_shops, keys=keys)


@dataclass(frozen=True)
class ResultPage:
    """Rows `start` to `start + size` of a query's result, how many rows the result has, and
    where the backend keeps the whole result (BigQuery: its result table), to read another
    page of it without running the query again; empty where it keeps none."""

    rows: pa.Table
    total: int
    result: str = ""


class WarehouseError(Exception):
    """A permanent failure with a reason an operator can act on (the upload fails with it)."""


class WarehouseBusy(Exception):
    """A transient failure that outlasted the backend's own retries (another writer kept
    committing first, the service was busy or unreachable): try the task again later."""


@dataclass(frozen=True)
class Capabilities:
    """What a backend can do, declared by the backend: callers ask this record instead of
    probing its attributes or catching its own exceptions (dlt's `capabilities()`)."""

    # The fact file the ETL writes for it: "v2" (V2 data pages, newer encodings) or "v1".
    parquet_version: str
    # Whether `compact()` rewrites small files (the embedded table); BigQuery manages its own.
    compaction: bool
    # Which of the backend's own errors are retryable conflicts or transient faults: its
    # methods retry them, and raise WarehouseBusy once their retries are spent.
    retryable: Callable[[BaseException], bool]
    # Whether `row_access_sync()` puts row access policies on the fact table (BigQuery's
    # row-level security); the embedded warehouse has one reader, the app, which scopes itself.
    row_access: bool = False


class Mismatch(str):
    """A difference between the warehouse and what the app expects that a sync cannot fix
    (a column of another type): said as it is, by `warehouse_sync` and by its --check."""


class Warehouse(Protocol):
    name: str
    capabilities: Capabilities

    def ensure_schema(
        self, *, views: Sequence[ViewSpec], added: Sequence[pa.Field] = (), dry_run: bool = False
    ) -> list[str]:
        """Create or upgrade the fact table and the views; return what changed (or would).
        `added` are the admin's fields beyond the canonical columns (the active schema's):
        nullable columns after them. A difference it cannot fix is a `Mismatch` in the list."""

    def row_access_sync(self, *, policies: Sequence["RowAccessPolicy"], dry_run: bool = False) -> list[str]:
        """Make the fact table's row access policies these (only where `capabilities.row_access`)."""

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
        """Atomically make `table` the rows of this upload (running it twice changes nothing).

        A big batch comes as a BatchSource, streamed in one commit, or as a ParquetBatch whose
        file the backend may commit as it is; columns the table lacks
        (fields an admin added) are added to it as nullable columns. The batches of the
        uploads in `retire` are removed in the same commit: a corrected upload replaces its
        predecessor without a moment where both, or neither, are counted. So are the rows of
        the uploads in `displace` whose line key is one of the batch's (the overlap choice
        "replace": this file's lines take the place of theirs; `table` a ParquetBatch then).
        `source_uri` is
        where the same rows are stored as parquet (gs://...), for backends that load faster
        from there than from bytes sent by this process.

        `removes` says where the rows this replace removes lie: one span per earlier load
        (this upload's own earlier run, each upload it retires), None in it for a load whose
        span is unknown; () when nothing was loaded before; None (the default) when the
        caller does not know. A backend that bills by partitions (BigQuery) bounds its
        statement by these and the batch's own span; one that does not may ignore them."""

    def line_matches(
        self, *, store_id: str, batch: ParquetBatch, exclude: Sequence[str] = (), keys: bool = False
    ) -> LineMatches:
        """The batch's lines (its rows' line keys) that the table holds already under other
        uploads: per upload of `store_id`, per other shop, and in all for the shop (the
        uploads in `exclude`, the batch's own and the one it replaces, not counted). Reads
        only the table's rows of the batch's order dates (BigQuery: those partitions). A row
        loaded before keys were stored has its key computed from its columns."""

    def delete_batch(self, *, upload_id: str, span: DateSpan | None = None) -> int:
        """Remove this upload's rows; return how many were removed. `span` is where they lie
        (None: unknown); a backend that bills by partitions reads only those."""

    def batch_rows(self, *, upload_ids: Sequence[str] | None = None, span: "DateSpan | None" = None) -> dict[str, int]:
        """Rows per upload id, in one grouped count (`SELECT upload_id, count(*) ... GROUP BY
        upload_id`): of `upload_ids` only (ids without rows left out), or of every upload in
        the table. What the table holds now, as a new reader would see it: the reconciliation
        compares it with what each upload says it loaded (apps/uploads/reconcile.py). `span`:
        the order days their rows are in (BigQuery reads those partitions; None: unknown, all)."""

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> pa.Table:
        """Run a read-only query; parameters are written `$name` and always bound."""

    def query_batches(
        self, sql: str, params: Mapping[str, Any] | None = None, *, batch_rows: int = 50_000
    ) -> Iterator[pa.RecordBatch]:
        """Like `query`, but yields the result in record batches (for streamed exports)."""

    def query_page(
        self, sql: str, params: Mapping[str, Any] | None = None, *, start: int, size: int, result: str = ""
    ) -> ResultPage:
        """Rows `start` to `start + size` of a query ending in a total ORDER BY, and its row
        count. `result`: what an earlier page of the same query returned as its result; the
        backend reads from it when it still exists, else runs the query again."""

    def sql_date_trunc(self, column: str, grain: str) -> str:
        """SQL for the first day (a DATE) of the `grain` ("day", "week": ISO weeks starting
        on Monday, or "month") holding the DATE `column`, in the backend's own spelling."""

    def ping(self) -> None:
        """Raise unless the warehouse is reachable and its fact table exists."""

    def compact(self, *, wait: bool = True) -> dict[str, int]:
        """Rewrite small files into large ones (only where `capabilities.compaction`)."""


def date_trunc_checked(column: str, grain: str) -> tuple[str, str]:
    """The arguments of `sql_date_trunc`, checked: both are written into SQL text."""
    if not _COLUMN.fullmatch(column):
        raise ValueError(f"Not a plain column name: {column!r}")
    if grain not in DATE_GRAINS:
        raise ValueError(f"Unknown date grain: {grain!r}")
    return column, grain
