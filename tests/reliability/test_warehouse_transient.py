"""Warehouse transient errors are retried, then the load succeeds with exact rows.

1. A real conflict between processes: the worker is held inside its Delta commit of a
   reprocess (ETL_TEST_PAUSE_AT=committing for 3 s) while this test process, as an operator
   would (upload_delete_rows), removes the upload's earlier rows. The worker's commit then
   fails with delta-rs's CommitFailedError; the warehouse retries it and the load ends right.
2. Faults that outlast the backend's own retries (CommitFailedError each time, or a
   WarehouseBusy) make the task itself retry. These are injected in this process with
   monkeypatch (the real exception classes, raised by the first calls), and the task runs
   with apply(), Celery's in-process execution, which runs its retries too.
"""

import uuid

import pytest
from deltalake.exceptions import CommitFailedError

from apps.uploads.models import Upload, UploadEvent
from apps.uploads.services import upload_delete_rows
from apps.uploads.tasks import process_upload
from apps.warehouse import delta_files, embedded
from apps.warehouse.base import WarehouseBusy
from apps.warehouse.services import warehouse
from tests.integration.warehouse_processes import fact_rows

from .conftest import kill_9, wait_finished, worker_start

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("broker", ["filesystem"], indirect=True)
def test_a_commit_conflicting_with_a_delete_in_another_process_is_retried(
    publisher, data_dir, tmp_path, cast, upload_sample, warehouse_count
):
    env = {"ETL_TEST_PAUSE_AT": "committing", "ETL_TEST_PAUSE_SECONDS": "3"}
    worker = worker_start(publisher, data_dir, tmp_path, env=env)
    try:
        upload = upload_sample(cast["mgr_us_nyc"], "US-NYC", "bernasiakk_usa.csv", enqueue=False)
        # Rows an earlier run of this upload left, and another upload's.
        other = str(uuid.uuid4())
        warehouse().replace_batch(upload_id=str(upload.pk), table=fact_rows(str(upload.pk), 5))
        warehouse().replace_batch(upload_id=other, table=fact_rows(other, 7))
        process_upload.delay(str(upload.pk))
        worker.wait_for_log("paused at committing", timeout=30)
        assert upload_delete_rows(upload_id=upload.pk) == 5

        done = wait_finished(upload.pk, describe=worker.describe)
    finally:
        kill_9(worker)

    assert "warehouse commit conflict, retry 1" in worker.log(tail=100_000)
    assert (done.status, done.rows_loaded) == (Upload.Status.LOADED, 291), done.message
    assert warehouse_count(f"SELECT count(*) FROM \"orders-cleaned\" WHERE upload_id = '{upload.pk}'") == 291
    assert warehouse_count('SELECT count(*) FROM "orders-cleaned"') == 291 + 7


def failing_first(calls: int, exc: Exception, real):
    """`real`, except that its first `calls` calls raise `exc`."""
    seen = {"n": 0}

    def call(*args, **kwargs):
        seen["n"] += 1
        if seen["n"] <= calls:
            raise exc
        return real(*args, **kwargs)

    call.seen = seen
    return call


@pytest.mark.parametrize(
    ("target", "name", "fails", "exc", "calls"),
    [
        # Three commit conflicts against two attempts a task run: the first run gives up, the
        # second retries its one conflict itself: 4 commits, 2 task runs.
        # (The commit of the upload's parquet file as it is, the ETL's way into the table.)
        (delta_files, "commit", 3, CommitFailedError("conflict"), 4),
        (embedded.EmbeddedWarehouse, "replace_batch", 1, WarehouseBusy("busy"), 2),
    ],
    ids=["CommitFailedError", "WarehouseBusy"],
)
def test_a_task_retries_warehouse_faults_that_outlast_the_backends_retries(
    monkeypatch, caplog, target, name, fails, exc, calls, cast, upload_sample, warehouse_count
):
    monkeypatch.setattr(embedded, "COMMIT_ATTEMPTS", 2)
    injected = failing_first(fails, exc, getattr(target, name))
    monkeypatch.setattr(target, name, injected)
    upload = upload_sample(cast["mgr_us_nyc"], "US-NYC", "bernasiakk_usa.csv", enqueue=False)

    result = process_upload.apply(args=[str(upload.pk)])

    done = Upload.objects.get(pk=upload.pk)
    assert (done.status, done.rows_loaded, done.message) == (Upload.Status.LOADED, 291, ""), result.traceback
    assert injected.seen["n"] == calls
    retried = [r.getMessage() for r in caplog.records if " retry: Retry in " in r.getMessage()]
    # The backend reports a conflict it could not get past as WarehouseBusy (no caller names
    # delta-rs's own errors).
    assert len(retried) == 1 and "WarehouseBusy" in retried[0], retried
    assert UploadEvent.objects.filter(upload=done, kind=UploadEvent.Kind.FINISHED).count() == 1
    assert warehouse_count('SELECT count(*) FROM "orders-cleaned"') == 291
