"""The Celery task is safe to run twice: a finished upload is left alone, and a forced
rerun replaces the upload's batch instead of adding to it. (In-process `apply`; the real
worker does the same in test_worker_end_to_end.)"""

from apps.uploads.models import Upload
from apps.uploads.tasks import process_upload


def test_running_the_upload_task_twice_and_forced_leaves_the_same_rows(cast, upload_sample, warehouse_count):
    upload = upload_sample(cast["mgr_us_nyc"], "US-NYC", "bernasiakk_usa.csv", enqueue=False)

    first = process_upload.apply(args=[str(upload.id)])
    assert (first.status, first.result) == ("SUCCESS", Upload.Status.LOADED)
    assert warehouse_count('SELECT count(*) FROM "orders-cleaned"') == 291
    loaded = Upload.objects.get(pk=upload.id)

    second = process_upload.apply(args=[str(upload.id)])
    assert (second.status, second.result) == ("SUCCESS", Upload.Status.LOADED)
    assert Upload.objects.get(pk=upload.id).finished_at == loaded.finished_at  # nothing was run again
    assert warehouse_count('SELECT count(*) FROM "orders-cleaned"') == 291

    forced = process_upload.apply(args=[str(upload.id)], kwargs={"force": True})
    assert (forced.status, forced.result) == ("SUCCESS", Upload.Status.LOADED)
    rerun = Upload.objects.get(pk=upload.id)
    assert rerun.finished_at > loaded.finished_at
    assert (rerun.rows_read, rerun.rows_loaded) == (291, 291)
    assert warehouse_count('SELECT count(*) FROM "orders-cleaned"') == 291
    assert warehouse_count('SELECT count(DISTINCT source_row) FROM "orders-cleaned"') == 291
    assert warehouse_count('SELECT count(DISTINCT upload_id) FROM "orders-cleaned"') == 1
