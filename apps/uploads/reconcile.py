"""The reconciliation: what each upload says it loaded, compared with what the warehouse
holds, per upload id, in one grouped count (Warehouse.batch_rows), not a scan per upload.

An upload that has settled (not queued or running, and no replacement of it queued or
running) should hold its rows_loaded rows when it is in the warehouse and not replaced,
and none otherwise. A difference marks the upload (`warehouse_rows`, a history line; its
page and the admin show it; /readyz says "warehouse: mismatch" while one stands) and the
admins are emailed once per mismatch; an upload that agrees again is cleared. Run after
each load for that upload (and the one it replaced), and on a schedule for all
(`reconcile_warehouse`, beat); `manage.py warehouse_reconcile [--repair]` runs it too, and
repairs through services.upload_reprocess.
"""

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db.models import BooleanField, Exists, ExpressionWrapper, OuterRef, Q, QuerySet
from django.urls import reverse

from apps.uploads.models import Upload
from apps.uploads.transitions import upload_mismatch_clear, upload_mismatch_mark
from apps.warehouse.base import DateSpan, span_of
from apps.warehouse.services import warehouse

log = logging.getLogger(__name__)
CHUNK = 500


@dataclass(frozen=True)
class Mismatch:
    upload_id: str
    expected: int
    found: int

    @property
    def repair(self) -> str:
        """ "reprocess": its rows belong in the warehouse, a run loads them again (a replace:
        missing or doubled rows alike); "remove": none of its rows should be there (it was
        replaced, failed, was rejected, or an operator removed its rows), and a run would not
        take them out."""
        return "reprocess" if self.expected else "remove"


@dataclass
class Reconciliation:
    checked: int = 0
    mismatches: list[Mismatch] = field(default_factory=list)
    # Rows whose upload id no upload has (a batch loaded by hand, or its upload deleted).
    unknown: dict[str, int] = field(default_factory=dict)
    newly_marked: list[str] = field(default_factory=list)
    cleared: list[str] = field(default_factory=list)
    seconds: float = 0.0


def _settled(uploads: QuerySet[Upload]) -> QuerySet[Upload]:
    """Uploads whose rows are not about to change: not queued or running, and no
    replacement of them queued or running (its commit removes their rows before its ending
    is saved)."""
    pending = Upload.objects.filter(replaces=OuterRef("pk"), status__in=Upload.PENDING)
    return uploads.exclude(status__in=Upload.PENDING).filter(~Exists(pending))


def _current() -> Q:
    """In the warehouse and not replaced by a loaded upload."""
    replaced = Upload.objects.filter(replaces=OuterRef("pk"), status__in=Upload.IN_WAREHOUSE)
    return Q(status__in=Upload.IN_WAREHOUSE) & ~Q(Exists(replaced))


def expected_rows(ids: Iterable[str] | None = None) -> dict[str, int]:
    """The rows the warehouse should hold of settled uploads: of all that should hold some,
    or of each of `ids` that has settled (0 for one replaced, failed, rejected...)."""
    uploads = _settled(Upload.objects.all())
    if ids is None:
        found = uploads.filter(_current(), rows_loaded__gt=0).values_list("pk", "rows_loaded")
        return {str(pk): rows for pk, rows in found.iterator()}
    expected = {}
    ids = list(ids)
    current = ExpressionWrapper(_current(), output_field=BooleanField())
    for start in range(0, len(ids), CHUNK):
        chunk = uploads.filter(pk__in=ids[start : start + CHUNK]).annotate(is_current=current)
        for pk, rows, is_current in chunk.values_list("pk", "rows_loaded", "is_current"):
            expected[str(pk)] = (rows or 0) if is_current else 0
    return expected


def _compared(expected: dict[str, int], found: dict[str, int], ids: Iterable[str]) -> list[Mismatch]:
    return [Mismatch(i, expected[i], found.get(i, 0)) for i in ids if i in expected and expected[i] != found.get(i, 0)]


def uploads_reconcile() -> Reconciliation:
    """Every settled upload against the warehouse (one grouped count of the whole table);
    each difference seen is looked at again (its upload and its count read afresh) before it
    is marked, so that a load finishing meanwhile is not taken for a loss."""
    started = time.monotonic()
    expected = expected_rows()
    found = warehouse().batch_rows()
    others = [i for i in found if i not in expected]
    expected |= expected_rows(others)  # settled uploads whose rows should be gone
    differ = [m.upload_id for m in _compared(expected, found, expected)]
    known = _known(others)
    unknown = {i: found[i] for i in others if i not in known}
    # Looked at again: the upload first, then its rows (a load commits before it ends).
    again = expected_rows(differ)
    mismatches = (
        _compared(again, warehouse().batch_rows(upload_ids=differ, span=uploads_span(differ)), differ) if differ else []
    )
    result = Reconciliation(checked=len(expected), mismatches=mismatches, unknown=unknown)
    agree = Upload.objects.filter(warehouse_rows__isnull=False).exclude(pk__in=[m.upload_id for m in mismatches])
    agreeing = [str(pk) for pk in _settled(agree).values_list("pk", flat=True)]
    _record(result, agreeing={i: expected.get(i, 0) for i in agreeing})
    result.seconds = round(time.monotonic() - started, 3)
    if mismatches or unknown:
        log.error("warehouse reconciliation: %s mismatch(es), rows of %s unknown upload id(s)", len(mismatches),
                  len(unknown))  # fmt: skip
    return result


def uploads_span(ids: list[str]) -> DateSpan | None:
    """The order days the rows of these uploads are in (None: unknown for one of them, or
    none is known): what bounds the count of their rows."""
    spans = [u.warehouse_span for u in Upload.objects.filter(pk__in=ids).only("first_order_date", "last_order_date")]
    return span_of(*spans) if spans else None


def upload_reconcile(upload: Upload) -> Reconciliation:
    """After a run: the upload, the one it replaces and those whose lines it replaced,
    against the warehouse (one count of their rows, reading only the files that may hold
    them)."""
    ids = [str(upload.pk), *([str(upload.replaces_id)] if upload.replaces_id else [])]
    # The uploads whose overlapping lines its load replaced.
    ids += list((upload.report.get("overlap") or {}).get("displaced") or {})
    expected = expected_rows(ids)
    found = warehouse().batch_rows(upload_ids=list(expected), span=uploads_span(list(expected)))
    result = Reconciliation(checked=len(expected), mismatches=_compared(expected, found, expected))
    marked = set(map(str, Upload.objects.filter(pk__in=ids, warehouse_rows__isnull=False).values_list("pk", flat=True)))
    mismatched = {m.upload_id for m in result.mismatches}
    _record(result, agreeing={i: expected[i] for i in marked - mismatched if i in expected})
    if result.mismatches:
        log.error("upload %s: the warehouse does not hold the rows it loaded: %s", upload.pk, result.mismatches)
    return result


def _known(ids: list[str]) -> set[str]:
    known = set()
    for start in range(0, len(ids), CHUNK):
        found = Upload.objects.filter(pk__in=ids[start : start + CHUNK]).values_list("pk", flat=True)
        known |= {str(pk) for pk in found}
    return known


def _record(result: Reconciliation, *, agreeing: dict[str, int]) -> None:
    """Mark the mismatches, clear the uploads that agree again, email the admins of the new ones."""
    for m in result.mismatches:
        if upload_mismatch_mark(m.upload_id, found=m.found, expected=m.expected):
            result.newly_marked.append(m.upload_id)
    for upload_id, rows in agreeing.items():
        if upload_mismatch_clear(upload_id, rows=rows):
            result.cleared.append(upload_id)
    if result.newly_marked:
        admins_notify([m for m in result.mismatches if m.upload_id in result.newly_marked])


def uploads_mismatched() -> int:
    """How many uploads the reconciliation marked and that are not cleared (/readyz)."""
    return Upload.objects.filter(warehouse_rows__isnull=False).count()


def admins_notify(mismatches: list[Mismatch]) -> bool:
    """One email to the admins (staff, superusers, the admin role) with an address, listing
    the new mismatches; whether it was sent."""
    users = get_user_model().objects.filter(
        Q(is_staff=True) | Q(is_superuser=True) | Q(profile__role="admin"), is_active=True, email__gt=""
    )
    recipients = sorted(set(users.values_list("email", flat=True)))
    if not recipients:
        log.error("warehouse mismatch found and no admin has an email address to tell")
        return False
    uploads = {
        str(u.pk): u for u in Upload.objects.select_related("shop").filter(pk__in=[m.upload_id for m in mismatches])
    }
    site = settings.SITE_URL.rstrip("/")
    lines = ["The warehouse does not hold the rows these uploads loaded:", ""]
    for m in mismatches:
        upload = uploads.get(m.upload_id)
        name = f"'{upload.original_name}' ({upload.shop.code})" if upload else m.upload_id
        lines.append(f"- {name}: {m.found:,} rows in the warehouse, {m.expected:,} expected. "
                     f"{site}{reverse('uploads:detail', args=[m.upload_id])}")  # fmt: skip
    lines += [
        "",
        "Reports count these uploads wrongly until repaired: `manage.py warehouse_reconcile --repair` reprocesses "
        "the uploads whose rows are missing or doubled, and removes the rows of uploads that should have none "
        "(replaced, failed, rejected).",
    ]
    subject = f"[Sales] Warehouse mismatch: {len(mismatches)} upload(s)"
    try:
        send_mail(subject, "\n".join(lines), None, recipients)
    except Exception:
        log.exception("could not email the admins about %s warehouse mismatch(es)", len(mismatches))
        return False
    return True
