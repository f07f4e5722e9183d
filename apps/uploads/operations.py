"""What an operator can do to an upload after the fact (admin actions and CLI)."""

from django.db import transaction

from apps.uploads.models import Upload
from apps.warehouse.services import warehouse

ROWS_DELETED_MESSAGE = "Its rows were removed from the warehouse by an operator; reprocess it to load them again."


def upload_reprocess(*, upload_id, inline: bool = False) -> Upload:
    """Run the upload's ETL again from its raw file: its rows in the warehouse are replaced
    (or removed, if it is now rejected or fails). Queued for a worker unless `inline`."""
    from apps.etl.services import pipeline_run
    from apps.etl.tasks import process_upload

    upload = Upload.objects.get(pk=upload_id)
    if inline:
        return pipeline_run(upload_id=upload.id, force=True)
    Upload.objects.filter(pk=upload.id).update(status=Upload.Status.QUEUED, stage="", message="")
    transaction.on_commit(lambda: process_upload.delay(str(upload.id), force=True))
    upload.refresh_from_db()
    return upload


def upload_delete_rows(*, upload_id) -> int:
    """Remove exactly this upload's rows from the warehouse; return how many went."""
    upload = Upload.objects.get(pk=upload_id)
    removed = warehouse().delete_batch(upload_id=str(upload.id))
    Upload.objects.filter(pk=upload.id).update(rows_loaded=0, message=ROWS_DELETED_MESSAGE)
    return removed
