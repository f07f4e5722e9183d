"""Email to the uploader when an upload needs their attention: rows rejected, or failed."""

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.urls import reverse

from apps.uploads.audit import event_record
from apps.uploads.models import Upload, UploadEvent

log = logging.getLogger(__name__)
NOTIFY_STATUSES = (
    Upload.Status.LOADED_WITH_ERRORS,
    Upload.Status.REJECTED,
    Upload.Status.FAILED,
    Upload.Status.NEEDS_MAPPING,
)


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
            f"{site}{reverse('etl:mapping', args=[upload.id])}",
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
