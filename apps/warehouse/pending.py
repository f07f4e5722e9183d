"""The group commit's state in the app database (PendingApply) and its writer lock:
PostgreSQL's session advisory lock on a connection of its own (as apps/uploads/shop_lock.py
takes a shop's), so the lock goes when a killed worker's connection closes; on SQLite (one
host by nature) an flock on DATA_DIR/locks/bigquery-writer.lock."""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from django.db.models import F

from apps.warehouse.base import DateSpan
from apps.warehouse.commits import APPLIED, GROUP_CAP, PENDING, Pending
from apps.warehouse.models import PendingApply
from salesapp.locks import process_lock

# The advisory lock's keys: its own namespace (the shop locks use 0x5A1E), and one lock.
ADVISORY_NAMESPACE = 0x5A1F
WRITER_KEY = 1


def _span(first, last) -> DateSpan | None:
    return None if first is None else DateSpan(first, last)


def _pending_of(row: PendingApply) -> Pending:
    return Pending(
        upload_id=row.upload_id,
        staging=row.staging,
        span=_span(row.first_order_date, row.last_order_date),
        removes=_span(row.removes_first, row.removes_last),
        retired=tuple(row.retired),
        displaced=tuple(row.displaced),
        stores=tuple(row.stores),
        id=row.id,
        state=row.state,
        attempts=row.attempts,
        error=row.error,
        created=row.created,
    )


class DatabaseCommits:
    """apps/warehouse/commits.py's Commits on the app database."""

    def record(self, pending: Pending) -> None:
        PendingApply.objects.create(
            id=pending.id,
            upload_id=pending.upload_id,
            staging=pending.staging,
            first_order_date=pending.span and pending.span.first,
            last_order_date=pending.span and pending.span.last,
            removes_first=pending.removes and pending.removes.first,
            removes_last=pending.removes and pending.removes.last,
            retired=list(pending.retired),
            displaced=list(pending.displaced),
            stores=list(pending.stores),
            state=pending.state,
            created=pending.created,
        )

    @contextmanager
    def writer(self) -> Iterator[None]:
        with process_lock(namespace=ADVISORY_NAMESPACE, key=WRITER_KEY, name="bigquery-writer"):
            yield

    def get(self, pending_id: str) -> Pending | None:
        row = PendingApply.objects.filter(pk=pending_id).first()
        return None if row is None else _pending_of(row)

    def waiting(self, limit: int = GROUP_CAP) -> list[Pending]:
        return [_pending_of(r) for r in PendingApply.objects.filter(state=PENDING).order_by("created")[:limit]]

    def mark(self, pending: Pending, state: str, *, error: str = "") -> None:
        PendingApply.objects.filter(pk=pending.id).update(state=state, error=error)

    def attempt(self, pendings: Sequence[Pending]) -> None:
        PendingApply.objects.filter(pk__in=[p.id for p in pendings]).update(attempts=F("attempts") + 1)

    def loaded_spans(self, upload_id: str) -> list[DateSpan]:
        rows = PendingApply.objects.filter(upload_id=upload_id, state__in=[PENDING, APPLIED])
        rows = rows.exclude(first_order_date=None).values_list("first_order_date", "last_order_date")
        return [DateSpan(first, last) for first, last in rows]

    def prune(self, *, older_than: float) -> int:
        return PendingApply.objects.filter(created__lt=older_than).exclude(state=PENDING).delete()[0]
