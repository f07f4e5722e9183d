"""What happens around an upload's ETL run, in the worker: the run itself (which saves its
ending in the history with its status), then the rejected-rows files and the email to the
uploader; and the periodic sweep that re-enqueues uploads a broker outage or a dead worker
left behind, and sends the emails a dead worker left unsent."""

import logging
from datetime import timedelta

from django.conf import settings
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from apps.uploads.audit import event_record
from apps.uploads.models import Upload, UploadEvent
from apps.uploads.notify import upload_notify, uploads_unnotified
from salesapp.logs import upload_log_context

log = logging.getLogger(__name__)


def upload_run(*, upload_id, force: bool = False, sheet: str | None = None, task_id: str = "") -> Upload:
    """Run the ETL for one upload (which records its ending in the history with its status),
    then write its rejected-rows files and email the uploader (once per ending)."""
    from apps.etl.services import local_copy, pipeline_run, test_pause

    already_finished = Upload.objects.filter(pk=upload_id, status__in=Upload.FINISHED).exists()
    upload = pipeline_run(upload_id=upload_id, force=force, sheet=sheet, task_id=task_id)
    if not upload.is_finished or (already_finished and not force):
        return upload  # another run did (or does) the rest
    test_pause("ended")
    # What follows the run (the rejected rows read again from the file, the email) logs under
    # the upload too.
    with upload_log_context(upload.id):
        if upload.rows_rejected:
            from apps.uploads.exports import rejected_exports_write

            try:
                with local_copy(upload.raw_path) as path:
                    rejected_exports_write(upload=upload, path=path)
            except Exception:
                # The load stands; only the convenience files are missing (the problems CSV is kept).
                log.exception("could not write the rejected-rows files of upload %s", upload.id)
        upload_notify(upload=upload)
    return upload


def upload_failed(*, upload_id, message: str) -> None:
    """The task gave up: mark the upload failed (unless it ended) and tell the uploader (the
    run may have marked it failed itself before raising)."""
    from apps.etl.services import upload_fail

    upload_fail(upload_id=upload_id, message=message)
    upload = Upload.objects.select_related("uploaded_by", "shop").filter(pk=upload_id).first()
    if upload is not None and upload.status == Upload.Status.FAILED:
        upload_notify(upload=upload)


def uploads_to_sweep() -> list[Upload]:
    """Uploads queued for longer than UPLOAD_SWEEP_QUEUED_AFTER and not re-enqueued since
    (the broker lost them or was down), and uploads processing past the task's hard time
    limit (their worker died). The claim lets only one run of each go ahead."""
    now = timezone.now()
    waited = now - timedelta(seconds=settings.UPLOAD_SWEEP_QUEUED_AFTER)
    died = now - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT)
    recent = UploadEvent.objects.filter(upload=OuterRef("pk"), kind=UploadEvent.Kind.REQUEUED, at__gte=waited)
    queued = Q(status=Upload.Status.QUEUED, created_at__lt=waited)
    left = queued | Q(status=Upload.Status.PROCESSING, started_at__lt=died)
    return list(Upload.objects.filter(left).filter(~Exists(recent)))


def upload_sweep() -> int:
    """Enqueue again what `uploads_to_sweep` finds; how many. Email the uploaders a dead
    worker left unwarned (`uploads_unnotified`). Safe to run any time."""
    from apps.uploads.services import upload_enqueue

    found = uploads_to_sweep()
    for upload in found:
        event_record(upload=upload, kind=UploadEvent.Kind.REQUEUED, detail=f"was {upload.status}")
        upload_enqueue(upload_id=upload.id)
    if found:
        log.info("sweep re-enqueued %s upload(s)", len(found))
    emailed = sum(upload_notify(upload=upload) for upload in uploads_unnotified())
    if emailed:
        log.info("sweep emailed the uploaders of %s upload(s) whose worker stopped before it", emailed)
    return len(found)
