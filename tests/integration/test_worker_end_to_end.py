"""A real Celery worker process drives an upload from the broker to the warehouse views,
once over the embedded filesystem broker and once over a real Redis server."""

import pytest

from apps.uploads import tasks
from apps.uploads.models import Upload
from apps.uploads.tasks import process_upload

from .processes import Worker, wait_until

pytestmark = [
    pytest.mark.integration,
    # The worker is another process: the rows must be committed for it to see them. The flush
    # after the test removes the migrations' country aliases; `cast` puts them back.
    pytest.mark.django_db(transaction=True),
]
FINISH_SECONDS = 60


@pytest.fixture
def etl_runs_here(monkeypatch) -> list:
    """Any ETL run inside the test process (it must all happen in the worker)."""
    runs: list = []

    def refuse(**kwargs):
        runs.append(kwargs)
        raise AssertionError("the ETL ran in the test process, not in the worker")

    monkeypatch.setattr(tasks, "upload_run", refuse)
    return runs


def wait_finished(worker: Worker, upload_id, *, finished_after=None) -> tuple[Upload, list[str]]:
    """Poll the upload's row until the worker records an end; also the statuses seen."""
    seen: list[str] = []

    def finished() -> Upload | None:
        upload = Upload.objects.get(pk=upload_id)
        if not seen or seen[-1] != upload.status:
            seen.append(upload.status)
        done = upload.is_finished and (finished_after is None or upload.finished_at > finished_after)
        return upload if done else None

    upload = wait_until(
        finished,
        timeout=FINISH_SECONDS,
        what=f"upload {upload_id} to finish",
        details=lambda: f"{seen}\n{worker.describe()}",
    )
    return upload, seen


def test_worker_process_loads_an_upload_and_a_second_run_leaves_the_same_rows(
    celery_worker, cast, upload_sample, published_tasks, etl_runs_here, warehouse_count
):
    upload = upload_sample(cast["mgr_us_nyc"], "US-NYC", "bernasiakk_usa.csv", enqueue=True)

    # upload_create returned with the upload queued and its task published (on commit).
    assert upload.status == Upload.Status.QUEUED
    assert [(t["task"], t["args"]) for t in published_tasks] == [(process_upload.name, [str(upload.id)])]
    upload, seen = wait_finished(celery_worker, upload.id)

    assert upload.status == Upload.Status.LOADED, (upload.message, seen)
    assert (upload.rows_read, upload.rows_loaded, upload.rows_rejected, upload.rows_dropped) == (291, 291, 0, 0)
    assert upload.started_at is not None, seen
    assert upload.created_at <= upload.started_at <= upload.finished_at
    assert set(seen) <= {Upload.Status.QUEUED, Upload.Status.PROCESSING, Upload.Status.LOADED}, seen
    # The message went through the broker to the worker, which ran the ETL.
    celery_worker.wait_for_log(f"process_upload[{published_tasks[0]['id']}] succeeded")
    assert etl_runs_here == []
    assert warehouse_count('SELECT count(*) FROM "USA_Sales_View"') == 291
    assert warehouse_count('SELECT count(*) FROM "Master_Sales_View"') == 291
    assert warehouse_count('SELECT count(*) FROM "UK_Sales_View"') == 0

    # A second delivery of the same task: the upload has ended, so nothing changes.
    duplicate = process_upload.delay(str(upload.id))
    celery_worker.wait_for_log(f"process_upload[{duplicate.id}] succeeded")
    again = Upload.objects.get(pk=upload.id)
    assert (again.status, again.finished_at) == (Upload.Status.LOADED, upload.finished_at)
    assert warehouse_count('SELECT count(*) FROM "orders-cleaned"') == 291

    # A forced rerun loads the batch again, replacing it rather than adding to it.
    process_upload.delay(str(upload.id), force=True)
    rerun, _ = wait_finished(celery_worker, upload.id, finished_after=upload.finished_at)
    assert (rerun.status, rerun.rows_loaded) == (Upload.Status.LOADED, 291)
    assert warehouse_count('SELECT count(*) FROM "orders-cleaned"') == 291
    assert warehouse_count('SELECT count(DISTINCT source_row) FROM "orders-cleaned"') == 291
    assert etl_runs_here == []

    # Everything the worker keeps (files, warehouse, broker queues) is under DATA_DIR;
    # kombu's filesystem transport would otherwise write ./control in its working directory.
    assert list(celery_worker.cwd.iterdir()) == []
