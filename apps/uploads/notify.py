"""Email to the uploader when an upload needs their attention: rows rejected, failed, its
columns to match, or held for lines loaded before."""

import logging
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db.models import Exists, OuterRef
from django.urls import reverse
from django.utils import timezone

from apps.uploads.audit import event_record
from apps.uploads.models import Upload, UploadEvent

log = logging.getLogger(__name__)
NOTIFY_STATUSES = (
    Upload.Status.LOADED_WITH_ERRORS,
    Upload.Status.REJECTED,
    Upload.Status.FAILED,
    Upload.Status.NEEDS_MAPPING,
    Upload.Status.IMPLAUSIBLE,
    Upload.Status.OVERLAP,
)
# How long after an ending the sweep still sends a missed email (a mail server down that
# long, or an address it refuses, is given up on).
NOTIFY_WITHIN = timedelta(days=1)


def upload_notify(*, upload: Upload) -> bool:
    """Send the email once per ending (a second run of the task sends nothing); whether sent."""
    user = upload.uploaded_by
    if upload.status not in NOTIFY_STATUSES or user is None or not user.email:
        return False
    already = upload.events.filter(kind=UploadEvent.Kind.NOTIFIED, at__gte=upload.finished_at or upload.created_at)
    if already.exists():
        return False
    site = settings.SITE_URL.rstrip("/")
    subject = f"[Sales] {upload.original_name}: {upload.get_status_display()}"
    if upload.status == Upload.Status.NEEDS_MAPPING:
        lines = [
            f"Your upload '{upload.original_name}' for shop {upload.shop.code} waits for you: {upload.message}",
            "",
            f"Match its columns once (the next files with these headers are matched by themselves): "
            f"{site}{reverse('uploads:mapping', args=[upload.id])}",
        ]
    elif upload.status == Upload.Status.IMPLAUSIBLE:
        lines = [
            f"Your upload '{upload.original_name}' for shop {upload.shop.code} is held: {upload.message}",
            "",
            f"Nothing of it is loaded. Confirm it (it then loads) or cancel it: "
            f"{site}{reverse('uploads:detail', args=[upload.id])}",
        ]
    elif upload.status == Upload.Status.OVERLAP:
        lines = [
            f"Your upload '{upload.original_name}' for shop {upload.shop.code} waits for you: {upload.message}",
            "",
            f"Choose there: load only the new lines, replace the earlier uploads' copies, load everything, or "
            f"cancel: {site}{reverse('uploads:detail', args=[upload.id])}",
        ]
    else:
        lines = [
            f"Your upload '{upload.original_name}' for shop {upload.shop.code} ended: {upload.get_status_display()}.",
            upload.message,
            f"Rows read {upload.rows_read or 0:,}, loaded {upload.rows_loaded or 0:,}, "
            f"rejected {upload.rows_rejected or 0:,}.",
            "",
            f"Details, the rejected rows and a way to upload a corrected file: "
            f"{site}{reverse('uploads:detail', args=[upload.id])}",
        ]
    try:
        send_mail(subject, "\n".join(line for line in lines if line is not None), None, [user.email])
    except Exception:
        # Mail is a courtesy: a mail server outage must not fail the upload.
        log.exception("could not email %s about upload %s", user.email, upload.id)
        return False
    event_record(upload=upload, kind=UploadEvent.Kind.NOTIFIED, detail=user.email)
    return True


def uploads_unnotified() -> list[Upload]:
    """Uploads whose ending calls for an email that was not sent: their worker died (or the
    mail server failed) after the ending was saved. Only endings older than the task's hard
    time limit (the worker that ended it is done by then) and younger than NOTIFY_WITHIN."""
    now = timezone.now()
    sent = UploadEvent.objects.filter(
        upload=OuterRef("pk"), kind=UploadEvent.Kind.NOTIFIED, at__gte=OuterRef("finished_at")
    )
    ended = Upload.objects.filter(
        status__in=NOTIFY_STATUSES,
        finished_at__lt=now - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT),
        finished_at__gte=now - NOTIFY_WITHIN,
        uploaded_by__email__gt="",
    )
    return list(ended.filter(~Exists(sent)).select_related("uploaded_by", "shop"))
