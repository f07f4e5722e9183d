"""The warehouse interface every backend implements (embedded Delta+DuckDB, BigQuery)."""

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import pyarrow as pa

from apps.warehouse.fact import ViewSpec

# Opens a fresh stream of the batch's rows: called again when a commit is retried.
BatchSource = Callable[[], pa.RecordBatchReader]


class Warehouse(Protocol):
    name: str

    def ensure_schema(self, *, views: Sequence[ViewSpec]) -> list[str]:
        """Create or upgrade the fact table and the views; return what changed."""

    def replace_batch(self, *, upload_id: str, table: "pa.Table | BatchSource") -> int:
        """Atomically make `table` the rows of this upload (running it twice changes nothing).

        A big batch comes as a BatchSource, streamed in one commit; columns the table lacks
        (fields an admin added) are added to it as nullable columns."""

    def delete_batch(self, *, upload_id: str) -> int:
        """Remove this upload's rows; return how many were removed."""

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> pa.Table:
        """Run a read-only query; parameters are written `$name` and always bound."""
