"""The overlap check of a run: the upload's lines (their business keys, apps/warehouse/fact.py)
compared, before loading, with what its shop has loaded from other uploads, and what the run
does about it: hold the upload (status overlap) until its uploader chooses, or act on the
choice stored on it (Upload.overlap_choice): load only the new lines, replace the other
uploads' overlapping lines with this file's, load everything anyway, or cancel.

Not counted as other uploads: the upload's own earlier batch (a run again) and the upload it
replaces (its rows go in the same commit). Lines with the same key under another shop are
reported, never held. Runs under the shop's load lock (shop_lock.py), with the commit.
"""

import time
from dataclasses import dataclass, field

import pyarrow as pa
from django.utils import timezone

from apps.uploads.models import Upload
from apps.warehouse.base import LineMatches, ParquetBatch
from apps.warehouse.services import warehouse

Choice = Upload.OverlapChoice


@dataclass
class Checked:
    matches: LineMatches
    seconds: float


@dataclass
class Plan:
    report: dict
    hold: str = ""  # a status to end with instead of loading (overlap, cancelled)
    skip_keys: pa.Table | None = None  # lines to leave out (new only)
    skipped: int = 0
    displace: dict[str, int] = field(default_factory=dict)  # other uploads' rows to replace


def overlap_check(upload: Upload, batch: ParquetBatch) -> Checked:
    """The batch's lines found under other uploads of the shop, and under other shops."""
    started = time.perf_counter()
    exclude = [str(upload.id), *([str(upload.replaces_id)] if upload.replaces_id else [])]
    found = warehouse().line_matches(
        store_id=upload.shop.code, batch=batch, exclude=exclude, keys=upload.overlap_choice == Choice.NEW_ONLY
    )
    return Checked(found, round(time.perf_counter() - started, 3))


def overlap_plan(upload: Upload, checked: Checked, *, waited: float = 0.0) -> Plan:
    """What the run does with the lines found: held with no choice made; else the choice."""
    found, choice = checked.matches, upload.overlap_choice
    report = overlap_report(found, choice=choice, seconds=checked.seconds, waited=waited)
    if not found.lines:
        return Plan(report)
    if not choice:
        return Plan(report, hold=Upload.Status.OVERLAP)
    if choice == Choice.CANCEL:
        return Plan(report, hold=Upload.Status.CANCELLED)
    if choice == Choice.NEW_ONLY:
        return Plan(report, skip_keys=found.keys, skipped=found.lines)
    if choice == Choice.REPLACE:
        report["displaced"] = dict(found.by_upload)  # the reconciliation looks at them too
        return Plan(report, displace=dict(found.by_upload))
    return Plan(report)  # all: loaded as it is, the choice recorded in its history


def overlap_report(found: LineMatches, *, choice: str, seconds: float, waited: float) -> dict:
    """The findings as the page, the API and the CLI show them: which uploads (file, date,
    who) hold how many of its lines, and the other shops with the same keys."""
    others = {str(u.pk): u for u in Upload.objects.select_related("uploaded_by").filter(pk__in=list(found.by_upload))}
    uploads = []
    for upload_id, lines in sorted(found.by_upload.items(), key=lambda item: (-item[1], item[0])):
        other = others.get(upload_id)
        uploads.append(
            {
                "id": upload_id,
                "name": other.original_name if other else "(an upload no longer recorded)",
                "uploaded_at": timezone.localtime(other.created_at).isoformat() if other else None,
                "uploaded_by": (other.uploaded_by.username if other.uploaded_by else "a command-line job")
                if other
                else "",
                "lines": lines,
            }
        )
    return {
        "lines": found.lines,
        "uploads": uploads,
        "other_shops": [{"shop": shop, "lines": n} for shop, n in sorted(found.other_shops.items())],
        "choice": choice,
        "seconds": seconds,
        "waited": waited,
    }


def overlap_message(report: dict, *, held: bool) -> str:
    """The sentence on the upload's page and in its email."""
    lines = report["lines"]
    where = ", ".join(f"'{u['name']}' ({u['lines']:,})" for u in report["uploads"][:5])
    more = f" and {len(report['uploads']) - 5} more" if len(report["uploads"]) > 5 else ""
    said = f"{lines:,} of its lines are loaded already from other uploads of the shop: {where}{more}."
    if held:
        return said + " Nothing was loaded: choose what to do on the upload's page."
    return said + " Cancelled, as chosen: nothing was loaded."
