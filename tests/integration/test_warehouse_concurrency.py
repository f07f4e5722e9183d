"""The embedded warehouse (Delta table read by DuckDB) while separate processes load and
read at once, and the replace/delete semantics that make a rerun of the ETL harmless."""

import multiprocessing
import queue
import uuid

import pytest

from apps.warehouse.embedded import EmbeddedWarehouse
from apps.warehouse.fact import MASTER_VIEW, ViewSpec

from .warehouse_processes import BATCH_QUERY, fact_rows, reader, writer

WRITERS, BATCHES, ROWS = 2, 15, 1000
WAIT_SECONDS = 120


@pytest.fixture
def embedded(tmp_path) -> EmbeddedWarehouse:
    warehouse = EmbeddedWarehouse(tmp_path / "warehouse")
    warehouse.ensure_schema(views=[ViewSpec("USA_Sales_View", "US"), ViewSpec(MASTER_VIEW)])
    return warehouse


def batch_counts(warehouse: EmbeddedWarehouse) -> dict[str, int]:
    table = warehouse.query(BATCH_QUERY).to_pydict()
    return dict(zip(table["upload_id"], table["n"], strict=True))


def next_result(results, role: str, received: list[dict]) -> dict:
    """The next result of a `role` process (others that come first are kept in `received`)."""
    while True:
        try:
            result = results.get(timeout=WAIT_SECONDS)
        except queue.Empty:
            pytest.fail(f"no result from a {role} within {WAIT_SECONDS}s; so far: {received}")
        received.append(result)
        if result["role"] == role:
            return result


@pytest.mark.integration
def test_two_loader_processes_and_a_reader_process_see_only_whole_batches(embedded):
    ctx = multiprocessing.get_context("spawn")  # fresh interpreters: delta-rs does not survive fork()
    results, go, stop = ctx.Queue(), ctx.Event(), ctx.Event()
    root = str(embedded.root)
    # The writers start committing once the reader has run its first query.
    processes = [ctx.Process(target=reader, args=(root, ROWS, go, stop, results), name="reader")] + [
        ctx.Process(target=writer, args=(root, BATCHES, ROWS, go, results), name=f"writer-{i}") for i in range(WRITERS)
    ]
    received: list[dict] = []
    try:
        for process in processes:
            process.start()
        writers = [next_result(results, "writer", received) for _ in range(WRITERS)]
        stop.set()
        read = next((r for r in received if r["role"] == "reader"), None) or next_result(results, "reader", received)
        for process in processes:
            process.join(timeout=30)
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
                process.join(timeout=5)
            if process.is_alive():
                process.kill()
                process.join()

    assert [w["error"] for w in writers] == [None] * WRITERS, writers
    assert read["error"] is None, read["error"]
    assert [p.exitcode for p in processes] == [0] * len(processes)
    # Every batch the reader saw was whole, and it saw loads in progress.
    assert read["partial_batches"] == [], read
    assert any(0 < n < WRITERS * BATCHES for n in read["batches_seen"]), read
    assert read["batches_seen"][-1] == WRITERS * BATCHES, read
    # All 30 batches are there, whole.
    loaded = [upload_id for w in writers for upload_id in w["ids"]]
    assert len(set(loaded)) == WRITERS * BATCHES
    assert batch_counts(embedded) == dict.fromkeys(loaded, ROWS)
    assert embedded.query('SELECT count(*) FROM "Master_Sales_View"').column(0)[0].as_py() == WRITERS * BATCHES * ROWS


def test_replacing_a_batch_keeps_only_the_new_rows_and_delete_removes_only_that_batch(embedded):
    upload, other = str(uuid.uuid4()), str(uuid.uuid4())
    embedded.replace_batch(upload_id=upload, table=fact_rows(upload, 1000, product_id="FIRST"))
    embedded.replace_batch(upload_id=other, table=fact_rows(other, 300))
    embedded.replace_batch(upload_id=upload, table=fact_rows(upload, 400, product_id="SECOND"))

    assert batch_counts(embedded) == {upload: 400, other: 300}
    products = embedded.query(
        'SELECT DISTINCT product_id FROM "orders-cleaned" WHERE upload_id = $upload', {"upload": upload}
    )
    assert products.column(0).to_pylist() == ["SECOND"]

    assert embedded.delete_batch(upload_id=upload) == 400
    assert batch_counts(embedded) == {other: 300}
    assert embedded.delete_batch(upload_id=upload) == 0
    assert batch_counts(embedded) == {other: 300}
