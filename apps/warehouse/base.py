"""The warehouse interface every backend implements (embedded Delta+DuckDB, BigQuery)."""

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Protocol

import pyarrow as pa

from apps.warehouse.fact import ViewSpec


class Warehouse(Protocol):
    name: str

    def ensure_schema(self, *, views: Sequence[ViewSpec]) -> list[str]:
        """Create or upgrade the fact table and the views; return what changed."""

    def replace_batch(self, *, upload_id: str, table: pa.Table, retire: Sequence[str] = ()) -> int:
        """Atomically make `table` the rows of this upload (running it twice changes nothing).
        The batches of the uploads in `retire` are removed in the same commit: a corrected
        upload replaces its predecessor without a moment where both, or neither, are counted."""

    def delete_batch(self, *, upload_id: str) -> int:
        """Remove this upload's rows; return how many were removed."""

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> pa.Table:
        """Run a read-only query; parameters are written `$name` and always bound."""

    def query_batches(
        self, sql: str, params: Mapping[str, Any] | None = None, *, batch_rows: int = 50_000
    ) -> Iterator[pa.RecordBatch]:
        """Like `query`, but yields the result in record batches (for streamed exports)."""
