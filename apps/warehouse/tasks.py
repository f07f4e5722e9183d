"""Celery tasks of the warehouse (queue `load` on Redis): thin, each calls one service."""

from celery import shared_task

from apps.warehouse.base import WarehouseBusy
from apps.warehouse.services import warehouse_compact


@shared_task(
    acks_late=True,
    autoretry_for=(WarehouseBusy,),
    retry_backoff=True,
    max_retries=3,
    soft_time_limit=30 * 60,
    time_limit=35 * 60,
)
def compact_warehouse() -> dict:
    """Rewrite the embedded warehouse's small files into large ones. Safe to run twice:
    a compacted table compacts to itself."""
    return warehouse_compact()
