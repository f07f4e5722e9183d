"""A loader process for the compaction race test: spawned, no Django, like a worker child
that loads and compacts once the table has `compact_files` files."""

import uuid
from pathlib import Path

from apps.warehouse.embedded import EmbeddedWarehouse
from tests.integration.warehouse_processes import fact_rows


def loader(root: str, batches: int, rows: int, compact_files: int, results) -> None:
    try:
        warehouse = EmbeddedWarehouse(Path(root), compact_files=compact_files)
        ids = []
        for _ in range(batches):
            upload_id = str(uuid.uuid4())
            warehouse.replace_batch(upload_id=upload_id, table=fact_rows(upload_id, rows))
            ids.append(upload_id)
        results.put(ids)
    except BaseException as exc:
        results.put(repr(exc))
