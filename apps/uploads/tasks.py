"""Celery tasks, and the one way an upload is handed to a worker (`upload_enqueue`).

Tasks are thin interfaces, as views are: each takes ids and calls one service. Every entry
(web, API, CLI, admin action, the beat sweep) goes through apps/uploads/services.py or the
sweep, and they enqueue here.
"""

import logging

from celery import Task, shared_task

from apps.uploads.reconcile import uploads_reconcile
from apps.uploads.run import TRANSIENT_ERRORS, upload_failed, upload_run
from apps.uploads.sweep import upload_sweep

log = logging.getLogger(__name__)


def upload_enqueue(*, upload_id, force: bool = False, sheet: str | None = None) -> None:
    """Hand the upload to a worker. If the broker is unreachable the upload stays queued
    (the file and its record are safe) and the periodic sweep enqueues it again."""
    options = {**({"force": True} if force else {}), **({"sheet": sheet} if sheet else {})}
    try:
        process_upload.delay(str(upload_id), **options)
    except Exception:
        log.exception("could not enqueue upload %s; it stays queued for the sweep", upload_id)


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
    and a load replaces the upload's batch rather than adding to it. `force` runs a finished
    upload again; `sheet` names the workbook sheet to read when the user chose one."""
    return upload_run(upload_id=upload_id, force=force, sheet=sheet, task_id=self.request.id or "").status


@shared_task(acks_late=True, soft_time_limit=60, time_limit=90)
def sweep_uploads() -> int:
    """Periodic (Celery beat): enqueue again the uploads left queued or stuck processing."""
    found = upload_sweep()
    for upload_id in found:
        upload_enqueue(upload_id=upload_id)
    return len(found)


@shared_task(acks_late=True, soft_time_limit=15 * 60, time_limit=20 * 60)
def reconcile_warehouse() -> int:
    """Periodic (Celery beat): every upload's rows compared with the warehouse's; how many differ."""
    return len(uploads_reconcile().mismatches)
