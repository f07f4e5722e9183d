"""Two workers never run one upload at once; a dead worker's upload is not stuck forever."""

from datetime import timedelta

from django.utils import timezone

from apps.uploads.models import Upload
from apps.uploads.run import pipeline_run
from apps.uploads.tasks import process_upload
from apps.uploads.transitions import upload_claim
from tests.factories import upload_of


def test_a_queued_upload_is_claimed_once(cast, sample):
    upload = upload_of(cast["mgr_us_nyc"], "US-NYC", sample("bernasiakk_usa.csv"))

    assert upload_claim(upload.id) is True
    assert upload_claim(upload.id) is False


def test_a_task_delivered_again_after_its_run_died_claims_its_upload_again(cast, sample):
    """Celery requeues a task whose pool process was killed (reject_on_worker_lost); the
    upload is still 'processing' under that task's id, and nobody else runs it."""
    upload = upload_of(cast["mgr_us_nyc"], "US-NYC", sample("bernasiakk_usa.csv"))
    assert upload_claim(upload.id, task_id="task-1") is True

    assert upload_claim(upload.id, task_id="task-2") is False
    assert upload_claim(upload.id) is False
    assert upload_claim(upload.id, task_id="task-1") is True


def test_an_upload_being_processed_is_not_run_again_even_when_forced(cast, sample):
    upload = upload_of(cast["mgr_us_nyc"], "US-NYC", sample("bernasiakk_usa.csv"))
    upload_claim(upload.id)

    again = pipeline_run(upload_id=upload.id, force=True)

    assert again.status == Upload.Status.PROCESSING
    assert again.rows_loaded is None


def test_an_upload_left_processing_past_the_time_limit_is_claimed_again(cast, sample, settings):
    upload = upload_of(cast["mgr_us_nyc"], "US-NYC", sample("bernasiakk_usa.csv"))
    long_ago = timezone.now() - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 60)
    Upload.objects.filter(pk=upload.pk).update(status=Upload.Status.PROCESSING, started_at=long_ago)

    done = pipeline_run(upload_id=upload.id)

    assert (done.status, done.rows_loaded) == (Upload.Status.LOADED, 291)


def test_a_task_that_gives_up_marks_its_upload_failed(cast, sample):
    upload = upload_of(cast["mgr_us_nyc"], "US-NYC", sample("bernasiakk_usa.csv"))

    process_upload.on_failure(TimeoutError("warehouse unreachable"), "task-1", (str(upload.id),), {}, None)

    upload.refresh_from_db()
    assert upload.status == Upload.Status.FAILED
    assert "warehouse unreachable" in upload.message
