"""Readiness: can this process reach everything an upload needs?

A component is a name and its checks, run in order until one fails. A check returns when its
part is ready and raises when it is not: `NotReady` with the word to show (such as
"mismatch"), or any other error, shown as "unavailable". That word is all /readyz tells
anyone but staff; the error itself goes to the log, with its traceback, and to staff."""

import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.core.files.storage import default_storage
from django.db import connection

from apps.uploads.reconcile import uploads_mismatched
from apps.warehouse.services import warehouse

logger = logging.getLogger(__name__)

OK = "ok"
UNAVAILABLE = "unavailable"
DETAIL_CHARS = 300


class NotReady(Exception):
    """A check's own verdict: `state` is the one word /readyz shows everyone ("mismatch"),
    the message the detail for the log and staff. A verdict that is not `blocking` says
    something is wrong without taking the process out of service (the web can still serve
    and be used to repair it): /readyz then answers 200, "degraded"."""

    def __init__(self, state: str, detail: str, *, blocking: bool = True) -> None:
        super().__init__(detail)
        self.state, self.blocking = state, blocking


@dataclass(frozen=True)
class Readiness:
    state: str  # OK, UNAVAILABLE or a NotReady's word
    detail: str = ""  # the error's type and first line, for staff; "" when ok
    blocking: bool = True  # a state other than OK takes the process out of service


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


def warehouse_rows_check() -> None:
    """The reconciliation (apps/uploads/reconcile.py) left no upload marked: the warehouse
    holds the rows each one says it loaded. A mismatch is shown, not blocking: the figures of
    those uploads are wrong, the rest of the platform serves (and the repair runs from it)."""
    if count := uploads_mismatched():
        detail = f"{count} upload(s) hold other rows than they loaded; see manage.py warehouse_reconcile"
        raise NotReady("mismatch", detail, blocking=False)


# A new check goes into its component's tuple (after the checks it relies on), or a new
# component into this dict: /readyz, its status and the log take it from here.
COMPONENTS: dict[str, tuple[Callable[[], None], ...]] = {
    "database": (database_check,),
    "broker": (broker_check,),
    "storage": (storage_check,),
    # Reachable first, then the reconciliation of loaded rows (NotReady "mismatch").
    "warehouse": (warehouse_check, warehouse_rows_check),
}


def component_readiness(name: str, checks: tuple[Callable[[], None], ...]) -> Readiness:
    for check in checks:
        try:
            check()
        except NotReady as exc:
            logger.warning("readyz: %s: %s: %s", name, exc.state, exc)
            return Readiness(exc.state, _first_line(str(exc)), exc.blocking)
        except Exception as exc:  # any failure means not ready; the reason goes to the log
            logger.warning("readyz: %s: %s", name, UNAVAILABLE, exc_info=exc)
            return Readiness(UNAVAILABLE, _first_line(f"{type(exc).__name__}: {exc}"))
    return Readiness(OK)


def readiness() -> dict[str, Readiness]:
    """Each component's state and, when it is not ok, why."""
    return {name: component_readiness(name, checks) for name, checks in COMPONENTS.items()}


def _first_line(text: str) -> str:
    # A Delta error's message goes on with a backtrace of the Rust library: staff get the
    # first line, the log all of it.
    first = text.strip().partition("\n")[0]
    return first if len(first) <= DETAIL_CHARS else first[: DETAIL_CHARS - 3] + "..."
