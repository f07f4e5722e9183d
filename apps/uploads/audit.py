"""The upload history (audit trail): one event per thing that happened to an upload."""

from apps.uploads.models import Upload, UploadEvent


def event_record(*, upload: Upload | str, kind: str, actor=None, detail: str = "") -> UploadEvent:
    upload_id = upload.pk if isinstance(upload, Upload) else upload
    return UploadEvent.objects.create(upload_id=upload_id, kind=kind, actor=actor, detail=detail[:500])
