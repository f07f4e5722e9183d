"""Storage write failure: the processed/ folder cannot be created for one run. The upload
fails with a message that says so, the warehouse is left as it was (no rows of a failed
upload), and once storage is fixed a reprocess loads it, exactly."""

import pytest

from apps.uploads.models import Upload
from apps.uploads.services import upload_reprocess

from .conftest import wait_finished

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("broker", ["filesystem"], indirect=True)
def test_storage_failure_fails_clearly_then_a_reprocess_loads_the_upload(
    celery_worker, data_dir, cast, upload_sample, warehouse_count
):
    # A file where the processed/ folder should be: creating it fails, even for root
    # (for whom a read-only folder would not be read-only).
    blocker = data_dir / "files" / "processed"
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_text("not a folder")

    upload = upload_sample(cast["mgr_us_nyc"], "US-NYC", "bernasiakk_usa.csv", enqueue=True)
    failed = wait_finished(upload.pk, describe=celery_worker.describe)

    assert failed.status == Upload.Status.FAILED, (failed.status, failed.message)
    assert failed.message.startswith("Could not store processed/ file"), failed.message
    assert "Reprocess the upload once storage is fixed." in failed.message
    assert warehouse_count('SELECT count(*) FROM "orders-cleaned"') == 0

    blocker.unlink()
    upload_reprocess(upload_id=upload.pk)
    done = wait_finished(upload.pk, describe=celery_worker.describe)

    assert done.status == Upload.Status.LOADED, (done.status, done.message)
    assert (done.rows_read, done.rows_loaded, done.message) == (291, 291, "")
    assert warehouse_count('SELECT count(*) FROM "orders-cleaned"') == 291
    assert (data_dir / "files" / "processed").is_dir()
