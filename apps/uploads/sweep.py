"""The periodic sweep: finds the uploads a broker outage or a dead worker left behind, to be
enqueued again, sends the emails a dead worker left unsent, and removes the work folders no
live run holds. Celery beat runs it (apps/uploads/tasks.py `sweep_uploads`)."""

import logging
from datetime import timedelta

from django.conf import settings
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from apps.uploads.audit import event_record
from apps.uploads.files import work_dirs_remove
from apps.uploads.models import Upload, UploadEvent
from apps.uploads.notify import upload_notify, uploads_unnotified
from apps.uploads.transitions import run_died

log = logging.getLogger(__name__)


def uploads_to_sweep() -> list[Upload]:
    """Uploads queued for longer than UPLOAD_SWEEP_QUEUED_AFTER and not re-enqueued since
    (the broker lost them or was down), and uploads whose run died (no heartbeat for
    UPLOAD_HEARTBEAT_STALE seconds, whatever the broker did with its message). The claim lets
    only one run of each go ahead."""
    waited = timezone.now() - timedelta(seconds=settings.UPLOAD_SWEEP_QUEUED_AFTER)
    recent = UploadEvent.objects.filter(upload=OuterRef("pk"), kind=UploadEvent.Kind.REQUEUED, at__gte=waited)
    left = Q(status=Upload.Status.QUEUED, created_at__lt=waited) | run_died()
    return list(Upload.objects.filter(left).filter(~Exists(recent)))


def upload_sweep() -> list[str]:
    """The ids of the uploads `uploads_to_sweep` finds, each recorded as queued again (the
    caller enqueues them); the uploaders a dead worker left unwarned emailed; the work
    folders of dead runs removed. Safe to run any time."""
    found = uploads_to_sweep()
    for upload in found:
        event_record(upload=upload, kind=UploadEvent.Kind.REQUEUED, detail=f"was {upload.status}")
    if found:
        log.info("sweep re-enqueues %s upload(s)", len(found))
    emailed = sum(upload_notify(upload=upload) for upload in uploads_unnotified())
    if emailed:
        log.info("sweep emailed the uploaders of %s upload(s) whose worker stopped before it", emailed)
    if removed := work_dirs_remove():
        log.info("sweep removed %s work folder(s) no live run holds: %s", len(removed), ", ".join(removed))
    return [str(upload.id) for upload in found]
