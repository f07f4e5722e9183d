"""File downloads of an upload, streamed from storage, within the viewer's scope: the raw
file as uploaded, and the rejected rows (original rows + errors) as CSV or Excel."""

from django.contrib.auth.decorators import login_required
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest
from django.views.decorators.http import require_GET

from apps.accounts.access import scope_for
from apps.audit.models import AuditEvent
from apps.audit.services import audit_record
from apps.uploads import selectors
from apps.uploads.audit import event_record
from apps.uploads.models import Upload, UploadEvent
from apps.uploads.rejected import rejected_downloads

CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def stream(path: str, *, filename: str, content_type: str = "application/octet-stream") -> FileResponse:
    if not path or not default_storage.exists(path):
        raise Http404("That file is not available.")
    return FileResponse(
        default_storage.open(path, "rb"), as_attachment=True, filename=filename, content_type=content_type
    )


def raw_file_response(*, upload: Upload, user) -> FileResponse:
    response = stream(upload.raw_path, filename=upload.original_name)
    event_record(upload=upload, kind=UploadEvent.Kind.RAW_DOWNLOADED, actor=user)
    return response


def rejected_response(*, upload: Upload, fmt: str) -> FileResponse:
    path = rejected_downloads(upload).get(fmt)
    if path is None:
        raise Http404("This upload has no rejected rows in that format.")
    stem = upload.original_name.rsplit(".", 1)[0]
    return stream(path, filename=f"{stem}.rejected.{fmt}", content_type=CONTENT_TYPES[fmt])


@login_required
@require_GET
def upload_raw(request: HttpRequest, upload_id) -> FileResponse:
    scope = scope_for(request.user)
    upload = selectors.upload_get(scope=scope, upload_id=upload_id)
    response = raw_file_response(upload=upload, user=request.user)
    detail = {"file": upload.original_name, "shop": upload.shop.code}
    audit_record(request=request, scope=scope, action=AuditEvent.Action.RAW_DOWNLOAD, target=upload.id, detail=detail)
    return response


@login_required
@require_GET
def upload_rejected(request: HttpRequest, upload_id, fmt: str) -> FileResponse:
    scope = scope_for(request.user)
    upload = selectors.upload_get(scope=scope, upload_id=upload_id)
    response = rejected_response(upload=upload, fmt=fmt)
    detail = {"file": upload.original_name, "shop": upload.shop.code, "format": fmt}
    audit_record(
        request=request, scope=scope, action=AuditEvent.Action.REJECTED_DOWNLOAD, target=upload.id, detail=detail
    )
    return response
