"""The warehouse interface every backend implements (embedded Delta+DuckDB, BigQuery).

Queries are written once, in the portable subset both engines run the same way:
double-quoted identifiers ("Master_Sales_View"), `$name` parameters, functions both have
(coalesce, substr, CAST(... AS STRING), count(DISTINCT ...)) and GROUP BY by position.
Each backend translates quoting and parameters to its own dialect; the report parity test
(tests/warehouse/test_report_parity.py) is what keeps the subset honest.
"""

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Protocol

import pyarrow as pa

from apps.warehouse.fact import ViewSpec

# Opens a fresh stream of the batch's rows: called again when a commit is retried.
BatchSource = Callable[[], pa.RecordBatchReader]


class WarehouseError(Exception):
    """A permanent failure with a reason an operator can act on (the upload fails with it)."""


class WarehouseBusy(Exception):
    """A transient failure that outlasted the backend's own retries: try the task again later."""


class Warehouse(Protocol):
    name: str

    def ensure_schema(self, *, views: Sequence[ViewSpec], dry_run: bool = False) -> list[str]:
        """Create or upgrade the fact table and the views; return what changed (or would)."""

    def replace_batch(
        self,
        *,
        upload_id: str,
        table: "pa.Table | BatchSource",
        retire: Sequence[str] = (),
        source_uri: str | None = None,
    ) -> int:
        """Atomically make `table` the rows of this upload (running it twice changes nothing).

        A big batch comes as a BatchSource, streamed in one commit; columns the table lacks
        (fields an admin added) are added to it as nullable columns. The batches of the
        uploads in `retire` are removed in the same commit: a corrected upload replaces its
        predecessor without a moment where both, or neither, are counted. `source_uri` is
        where the same rows are stored as parquet (gs://...), for backends that load faster
        from there than from bytes sent by this process."""

    def delete_batch(self, *, upload_id: str) -> int:
        """Remove this upload's rows; return how many were removed."""

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> pa.Table:
        """Run a read-only query; parameters are written `$name` and always bound."""

    def query_batches(
        self, sql: str, params: Mapping[str, Any] | None = None, *, batch_rows: int = 50_000
    ) -> Iterator[pa.RecordBatch]:
        """Like `query`, but yields the result in record batches (for streamed exports)."""

    def ping(self) -> None:
        """Raise unless the warehouse is reachable and its fact table exists."""
