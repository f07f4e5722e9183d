"""Found by the load test: two worker processes that both compact after a load counted
batches two, four, eight times (delta-rs let both compactions commit). Compaction now takes
the table's lock exclusively; loads share it."""

import multiprocessing

import pytest

from apps.warehouse.embedded import EmbeddedWarehouse
from apps.warehouse.fact import MASTER_VIEW, ViewSpec

from .compaction_processes import loader

LOADERS, BATCHES, ROWS, COMPACT_FILES = 2, 40, 10, 10


@pytest.mark.integration
def test_two_processes_loading_and_compacting_at_once_count_every_row_once(tmp_path):
    root = tmp_path / "warehouse"
    EmbeddedWarehouse(root).ensure_schema(views=[ViewSpec(MASTER_VIEW)])
    ctx = multiprocessing.get_context("spawn")  # delta-rs does not survive fork()
    results = ctx.Queue()
    processes = [
        ctx.Process(target=loader, args=(str(root), BATCHES, ROWS, COMPACT_FILES, results)) for _ in range(LOADERS)
    ]
    for process in processes:
        process.start()
    loaded = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=30)

    assert all(isinstance(ids, list) for ids in loaded), loaded
    counts = EmbeddedWarehouse(root).query('SELECT upload_id, count(*) AS n FROM "orders-cleaned" GROUP BY 1')
    assert dict(zip(*counts.to_pydict().values(), strict=True)) == {u: ROWS for ids in loaded for u in ids}
