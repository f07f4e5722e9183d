"""Reads for uploads, always within the viewer's scope."""

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from apps.accounts.access import Scope
from apps.uploads.models import Upload


def upload_list(*, scope: Scope) -> QuerySet[Upload]:
    return scope.filter_uploads(Upload.objects.select_related("shop__region", "uploaded_by"))


def upload_get(*, scope: Scope, upload_id) -> Upload:
    """The upload if the scope allows it; 404 otherwise (never reveal that it exists)."""
    return get_object_or_404(upload_list(scope=scope), pk=upload_id)


def upload_status(upload: Upload) -> dict:
    return {
        "id": str(upload.id),
        "status": upload.status,
        "status_label": upload.get_status_display(),
        "stage": upload.stage,
        "finished": upload.is_finished,
        "message": upload.message,
        "rows_read": upload.rows_read,
        "rows_loaded": upload.rows_loaded,
        "rows_rejected": upload.rows_rejected,
        "rows_dropped": upload.rows_dropped,
    }
