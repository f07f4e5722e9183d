"""The upload history (audit trail): one event per thing that happened to an upload."""

from apps.uploads.models import Upload, UploadEvent


def event_record(*, upload: Upload | str, kind: str, actor=None, detail: str = "") -> UploadEvent:
    upload_id = upload.pk if isinstance(upload, Upload) else upload
    return UploadEvent.objects.create(upload_id=upload_id, kind=kind, actor=actor, detail=detail[:500])


def ending_record(upload: Upload) -> UploadEvent:
    """How a run ended ("Processing ended": the status and the counts). Recorded in the same
    transaction as the status, so that a worker killed right after cannot leave an ended
    upload without it."""
    return event_record(upload=upload, kind=UploadEvent.Kind.FINISHED, detail=ending_detail(upload))


def ending_detail(upload: Upload) -> str:
    counted = (("read", upload.rows_read), ("loaded", upload.rows_loaded), ("rejected", upload.rows_rejected))
    counts = ", ".join(f"{what} {rows or 0:,}" for what, rows in counted)
    ending = f"{upload.get_status_display()}: {counts}, duplicates dropped {upload.rows_dropped or 0:,}, "
    return f"{ending}totals rows dropped {upload.rows_totals or 0:,}. {upload.message}"
