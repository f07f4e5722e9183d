"""Celery tasks: thin interfaces that take an id and call one service."""

from celery import shared_task

from apps.etl.services import TRANSIENT_ERRORS, pipeline_run


@shared_task(
    bind=True,
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
    return pipeline_run(upload_id=upload_id, force=force, sheet=sheet).status
