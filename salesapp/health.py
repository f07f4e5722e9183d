"""Readiness: can this process reach everything an upload needs? Each check raises if not."""

from collections.abc import Callable

from django.core.files.storage import default_storage
from django.db import connection

from apps.uploads.reconcile import uploads_mismatched
from apps.warehouse.services import warehouse


def database_check() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def broker_check() -> None:
    from salesapp.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=3)


def storage_check() -> None:
    # A metadata read: for GCS this is a request that needs the bucket and the credentials.
    default_storage.exists("readyz-probe")


def warehouse_check() -> None:
    warehouse().ping()
    warehouse_rows_check()


class Mismatch(Exception):
    """The warehouse answers, but does not hold the rows some uploads loaded."""


def warehouse_rows_check() -> None:
    """The reconciliation (apps/uploads/reconcile.py) left no upload marked: the warehouse
    holds the rows each one says it loaded."""
    if count := uploads_mismatched():
        raise Mismatch(f"{count} upload(s) hold other rows than they loaded; see manage.py warehouse_reconcile")


CHECKS: dict[str, Callable[[], None]] = {
    "database": database_check,
    "broker": broker_check,
    "storage": storage_check,
    "warehouse": warehouse_check,
}


def readiness() -> dict[str, str]:
    """'ok' or the reason, per dependency."""
    results = {}
    for name, check in CHECKS.items():
        try:
            check()
            results[name] = "ok"
        except Exception as exc:  # any failure means not ready; the reason is the message
            results[name] = f"{type(exc).__name__}: {str(exc)[:300]}"
    return results
