"""Celery tasks: thin interfaces that take an id and call one service."""

from celery import Task, shared_task

from apps.etl.services import TRANSIENT_ERRORS
from apps.uploads.lifecycle import upload_failed, upload_run, upload_sweep


class UploadTask(Task):
    def on_failure(self, exc, task_id, args, kwargs, einfo) -> None:
        # Retries exhausted (or an unexpected error): the upload must not stay queued.
        upload_failed(upload_id=args[0] if args else kwargs["upload_id"], message=f"Processing failed: {exc}")


@shared_task(
    bind=True,
    base=UploadTask,
    acks_late=True,
    autoretry_for=TRANSIENT_ERRORS,
    retry_backoff=True,
    retry_backoff_max=120,
    max_retries=5,
)
def process_upload(self, upload_id: str, force: bool = False, sheet: str | None = None) -> str:
    """Run the ETL for one upload. Safe to run twice: a finished upload is left as it is,
    and a load replaces the upload's batch rather than adding to it. `sheet` names the
    workbook sheet to read when the user chose one."""
    return upload_run(upload_id=upload_id, force=force, sheet=sheet, task_id=self.request.id or "").status


@shared_task(acks_late=True, soft_time_limit=60, time_limit=90)
def sweep_uploads() -> int:
    """Periodic (Celery beat): re-enqueue uploads left queued or stuck processing."""
    return upload_sweep()
