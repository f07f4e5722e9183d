"""kill -9 the worker at several points of a load, start another: the upload ends once,
loaded, and the warehouse holds its 291 rows exactly once.

ETL_TEST_PAUSE_AT makes the first worker sleep at the stage (apps/uploads/run.py), so the
kill lands there every time. What brings the task back is the real mechanism of each broker:
Redis hands the unacknowledged message out again after its visibility timeout; the
filesystem broker loses it with the worker, and the sweep (Celery beat's task, called here)
enqueues the upload again once it has been processing past the hard time limit.
"""

import os
import re
import signal
import time

import pytest
from django.core import mail

from apps.uploads.models import Upload, UploadEvent
from apps.uploads.tasks import sweep_uploads
from tests.integration.processes import children_of

from .conftest import FAST_RECOVERY, fast_recovery_here, kill_9, wait_finished, worker_start

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize(
    ("broker", "stage", "rows_at_kill"),
    [
        ("redis", "validating", 0),  # file read, nothing written (as at "reading")
        ("redis", "committing", 0),  # inside the commit: the file in the table folder, no log entry
        ("filesystem", "committed", 291),  # rows committed, the upload not yet marked loaded
    ],
    indirect=["broker"],
)
def test_upload_killed_mid_load_completes_once_with_exact_rows(
    broker, publisher, data_dir, tmp_path, settings, cast, upload_sample, warehouse_count, stage, rows_at_kill
):
    fast_recovery_here(settings)
    first = worker_start(publisher, data_dir, tmp_path, env={**FAST_RECOVERY, "ETL_TEST_PAUSE_AT": stage}, name="w1")
    try:
        upload = upload_sample(cast["mgr_us_nyc"], "US-NYC", "bernasiakk_usa.csv", enqueue=True)
        first.wait_for_log(f"paused at {stage}", timeout=30)
        kill_9(first)
    finally:
        if first.proc.poll() is None:
            kill_9(first)

    left = Upload.objects.get(pk=upload.pk)
    assert left.status == Upload.Status.PROCESSING, left.status
    assert warehouse_count('SELECT count(*) FROM "orders-cleaned"') == rows_at_kill

    second = worker_start(publisher, data_dir, tmp_path, env=FAST_RECOVERY, name="w2")
    try:
        if broker.name == "filesystem":
            # The message died with the worker: the sweep finds the upload once its run is stale.
            stale_at = left.started_at.timestamp() + settings.CELERY_TASK_TIME_LIMIT + 0.5
            time.sleep(max(0.0, stale_at - time.time()))
            assert sweep_uploads() == 1
        done = wait_finished(upload.pk, describe=second.describe)
    finally:
        kill_9(second)

    assert done.status == Upload.Status.LOADED, (done.message, second.describe())
    assert (done.rows_read, done.rows_loaded, done.rows_rejected, done.rows_dropped) == (291, 291, 0, 0)
    assert UploadEvent.objects.filter(upload=done, kind=UploadEvent.Kind.FINISHED).count() == 1
    assert warehouse_count('SELECT count(*) FROM "orders-cleaned"') == 291
    assert warehouse_count('SELECT count(DISTINCT source_row) FROM "orders-cleaned"') == 291
    assert warehouse_count('SELECT count(*) FROM "USA_Sales_View"') == 291


def pool_children(worker) -> list[int]:
    """The worker's pool processes (children of its main process)."""
    return children_of(worker.proc.pid)


@pytest.mark.parametrize("broker", ["redis"], indirect=True)  # the filesystem broker: the same, 10 s slower
def test_a_killed_pool_process_is_replaced_and_the_requeued_task_loads_the_upload(
    broker, publisher, data_dir, tmp_path, cast, upload_sample, warehouse_count
):
    """kill -9 the pool process running the task, not the worker: the worker requeues the
    task (reject_on_worker_lost) and runs it again. Default time limits: the upload is not
    stale, so the requeued task itself must be let through, not the sweep an hour later."""
    env = {"ETL_TEST_PAUSE_AT": "validating", "ETL_TEST_PAUSE_SECONDS": "4"}  # each run waits 4 s
    worker = worker_start(publisher, data_dir, tmp_path, env=env)
    try:
        upload = upload_sample(cast["mgr_us_nyc"], "US-NYC", "bernasiakk_usa.csv", enqueue=True)
        worker.wait_for_log("paused at validating", timeout=30)
        pid = int(re.search(r"paused at validating in pid (\d+)", worker.log(tail=100_000)).group(1))
        assert pid in pool_children(worker)
        os.kill(pid, signal.SIGKILL)
        done = wait_finished(upload.pk, describe=worker.describe, timeout=45)
    finally:
        kill_9(worker)

    assert worker.log(tail=100_000).count("paused at validating") == 2, worker.describe()
    assert (done.status, done.rows_loaded) == (Upload.Status.LOADED, 291), done.message
    assert UploadEvent.objects.filter(upload=done, kind=UploadEvent.Kind.FINISHED).count() == 1
    assert warehouse_count('SELECT count(*) FROM "orders-cleaned"') == 291


@pytest.mark.parametrize("broker", ["redis"], indirect=True)
def test_a_worker_killed_after_the_ending_leaves_it_in_the_history_and_the_sweep_sends_the_email(
    broker, publisher, data_dir, tmp_path, settings, cast, upload_sample
):
    """kill -9 once the run has saved how it ended, before the rejected-rows files and the
    email: the history holds the ending (saved with the status), and the sweep emails the
    uploader once the task's time limit has passed (the killed run's email never left)."""
    fast_recovery_here(settings)
    worker = worker_start(publisher, data_dir, tmp_path, env={**FAST_RECOVERY, "ETL_TEST_PAUSE_AT": "ended"})
    try:
        upload = upload_sample(cast["mgr_uk_lon"], "UK-LON", "online_retail_sample_vikash_head.csv", enqueue=True)
        worker.wait_for_log("paused at ended", timeout=30)
    finally:
        kill_9(worker)

    done = Upload.objects.get(pk=upload.pk)
    assert done.status == Upload.Status.LOADED_WITH_ERRORS, done.message
    assert UploadEvent.objects.filter(upload=done, kind=UploadEvent.Kind.FINISHED).count() == 1
    assert mail.outbox == []

    time.sleep(max(0.0, done.finished_at.timestamp() + settings.CELERY_TASK_TIME_LIMIT + 0.5 - time.time()))
    sweep_uploads()
    sweep_uploads()

    assert [m.to for m in mail.outbox] == [[done.uploaded_by.email]]
    assert f"rejected {done.rows_rejected:,}" in mail.outbox[0].body
