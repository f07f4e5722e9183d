"""Reads for uploads, always within the viewer's scope."""

import datetime as dt
from dataclasses import dataclass

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from apps.accounts.access import Scope
from apps.accounts.models import Region, Shop
from apps.etl.countries import COUNTRY_ALIASES
from apps.etl.country_mappings import country_choices, country_value_key, is_placeholder, shop_country_mappings
from apps.etl.pipeline.rules import UNKNOWN_COUNTRY
from apps.uploads.models import CountryAliasRequest, Upload, UploadEvent

# The stages a user sees, in order, and the share of the progress bar each one takes
# (reading and validating dominate on big files; the load is one commit).
STAGES = (("queued", 0.0), ("reading", 0.05), ("validating", 0.4), ("loading", 0.8), ("done", 1.0))


@dataclass(frozen=True)
class UploadFilter:
    status: str = ""
    shop: str = ""
    date_from: dt.date | None = None
    date_to: dt.date | None = None


def upload_list(*, scope: Scope, filters: UploadFilter | None = None) -> QuerySet[Upload]:
    uploads = scope.filter_uploads(Upload.objects.select_related("shop__region", "uploaded_by"))
    f = filters or UploadFilter()
    if f.status:
        uploads = uploads.filter(status=f.status)
    if f.shop:
        uploads = uploads.filter(shop__code=f.shop)
    if f.date_from:
        uploads = uploads.filter(created_at__date__gte=f.date_from)
    if f.date_to:
        uploads = uploads.filter(created_at__date__lte=f.date_to)
    return uploads


def upload_get(*, scope: Scope, upload_id) -> Upload:
    """The upload if the scope allows it; 404 otherwise (never reveal that it exists)."""
    return get_object_or_404(upload_list(scope=scope), pk=upload_id)


def shops_visible(*, scope: Scope) -> QuerySet[Shop]:
    return scope.filter_shops(Shop.objects.select_related("region"))


def shop_codes_visible(*, scope: Scope) -> list[str]:
    return list(shops_visible(scope=scope).values_list("code", flat=True))


def upload_current_of_content(*, shop: Shop, sha256: str) -> Upload | None:
    """The shop's current upload of this content (the one that claimed it: not cancelled, not
    a held duplicate, not replaced by a loaded upload since), if any."""
    found = Upload.objects.filter(shop=shop, sha256=sha256, content_current=True)
    return found.select_related("uploaded_by").first()


def upload_replacement_pending(upload: Upload) -> Upload | None:
    """The replacement of this upload that is queued or running, if any (at most one)."""
    return upload.replacements.filter(status__in=Upload.PENDING).select_related("uploaded_by").first()


def upload_replaced_by(upload: Upload) -> Upload | None:
    """The loaded upload that took this one's place in the warehouse, if any."""
    return upload.replacements.filter(status__in=Upload.IN_WAREHOUSE).order_by("-created_at").first()


def uploads_replaced_by(ids) -> dict:
    """upload_replaced_by for many uploads in one query: id -> the latest loaded replacement's id."""
    found = Upload.objects.filter(replaces_id__in=ids, status__in=Upload.IN_WAREHOUSE).order_by("created_at")
    return dict(found.values_list("replaces_id", "id"))  # the latest last: it wins


def upload_mismatch_note(upload: Upload) -> str:
    """What the reconciliation found, while the warehouse does not hold the upload's rows as
    loaded (the history line that marked it); empty otherwise."""
    if not upload.warehouse_mismatch:
        return ""
    marked = upload.events.filter(kind=UploadEvent.Kind.MISMATCH).order_by("-at", "-id").first()
    return marked.detail if marked else f"The warehouse holds {upload.warehouse_rows:,} rows of this upload."


def upload_outside_regions_note(upload: Upload) -> str:
    """How many of the upload's loaded rows are for countries no region covers (from its
    run's report: no warehouse read), e.g. "1,259 rows are for countries outside any region:
    India (1,259)"; empty when none are (or the run predates the count)."""
    counts = upload.report.get("countries") if upload.status in Upload.IN_WAREHOUSE else None
    if not isinstance(counts, dict) or not counts:
        return ""
    covered = set(Region.objects.values_list("country_code", flat=True))
    outside = sorted(((c, n) for c, n in counts.items() if c not in covered), key=lambda item: (-item[1], item[0]))
    total = sum(n for _, n in outside)
    if not total:
        return ""
    names = ", ".join(f"{_country_name(code)} ({n:,})" for code, n in outside)
    verb = "row is" if total == 1 else "rows are"
    return (
        f"{total:,} {verb} for countries outside any region: {names}. They count under the shop's region "
        f"({upload.shop.region.name}), so its head sees them with the shop's other sales."
    )


def _country_name(code: str) -> str:
    names = COUNTRY_ALIASES.get(code)
    return names[0] if names else code


def upload_overlap_found(upload: Upload) -> dict | None:
    """The overlap check's findings to show (report["overlap"]), when it found any of the
    upload's lines under other uploads of its shop or under other shops; None otherwise."""
    found = upload.report.get("overlap") or {}
    if not (found.get("lines") or found.get("other_shops")):
        return None
    uploads = [
        {**u, "uploaded_at": dt.datetime.fromisoformat(u["uploaded_at"]) if u.get("uploaded_at") else None}
        for u in found.get("uploads", [])
    ]
    return {**found, "uploads": uploads}


def upload_sheets(upload: Upload) -> list[str]:
    """The sheets of the upload's workbook, as its last run listed them (none for a CSV)."""
    sheets = (upload.report.get("file") or {}).get("sheets") or []
    return [s for s in sheets if isinstance(s, str)]


def upload_sheet_choices(upload: Upload) -> list[str]:
    """The sheets to offer: none when there is nothing to choose (a CSV, or a workbook's
    only sheet, read)."""
    sheets = upload_sheets(upload)
    if len(sheets) < 2 and (upload.report.get("file") or {}).get("sheet"):
        return []
    return sheets


def upload_progress(upload: Upload) -> dict:
    """Where the upload is: its stage among STAGES and a fraction for the progress bar."""
    if upload.is_finished:
        # "done" only for an upload in the warehouse: one that failed, was rejected or
        # cancelled marks no stage (its bar turns red, its status says why).
        stage = "done" if upload.status in Upload.IN_WAREHOUSE else "stopped"
        return {"stage": stage, "fraction": 1.0, "rows_processed": upload.rows_processed}
    stage = upload.stage if upload.status == Upload.Status.PROCESSING else "queued"
    names = [name for name, _ in STAGES]
    index = names.index(stage) if stage in names else 0
    start, end = STAGES[index][1], STAGES[min(index + 1, len(STAGES) - 1)][1]
    within = 0.0
    if upload.stage_progress is not None:  # the engine's estimate within a long statement
        within = min(1.0, upload.stage_progress)
    elif upload.rows_read and upload.rows_processed is not None:
        within = min(1.0, upload.rows_processed / upload.rows_read)
    fraction = round(start + (end - start) * within, 3)
    return {"stage": names[index], "fraction": fraction, "rows_processed": upload.rows_processed}


def unknown_country_values(upload: Upload) -> dict[str, int]:
    """The country values no alias named when the upload ran, with their rows."""
    found = upload.report.get("unknown_countries")
    if found is None:  # a report from before the values were counted: its first problems
        found = {}
        for e in upload.report.get("first_errors", []):
            if e.get("reason") == UNKNOWN_COUNTRY and e.get("value"):
                found[e["value"]] = found.get(e["value"], 0) + 1
    return dict(found)


def alias_requests_pending(*, scope: Scope) -> QuerySet[CountryAliasRequest]:
    """The country alias requests waiting for an admin (none for anyone else)."""
    if not scope.everything:
        return CountryAliasRequest.objects.none()
    pending = CountryAliasRequest.objects.filter(decision=CountryAliasRequest.Decision.PENDING)
    return pending.select_related("upload__shop", "requested_by").order_by("requested_at")


def upload_country_fixes(upload: Upload, *, can_fix: bool) -> list[dict]:
    """The upload's unknown country values, each with its rows, the countries it may be
    mapped to (for whoever may fix them), and its request waiting for an admin, if any."""
    values = unknown_country_values(upload)
    if not values:
        return []
    pending = {r.value: r for r in upload.alias_requests.filter(decision=CountryAliasRequest.Decision.PENDING)}
    mapped = shop_country_mappings(shop_id=upload.shop_id)
    return [
        {
            "value": value,
            "rows": rows,
            "choices": country_choices(shop=upload.shop, value=value) if can_fix else [],
            # A value that names no country (Unspecified): the shop's own, chosen already.
            "suggested": upload.shop.region.country_code if is_placeholder(value) else "",
            "request": pending.get(country_value_key(value)),
            "mapped_to": mapped.get(country_value_key(value), ""),
        }
        for value, rows in values.items()
    ]


def upload_status(upload: Upload) -> dict:
    progress = upload_progress(upload)
    return {
        "id": str(upload.id),
        "status": upload.status,
        "status_label": upload.get_status_display(),
        "stage": upload.stage,
        "finished": upload.is_finished,
        # Held for the user's choice: a duplicate, or lines loaded before.
        "awaits_choice": upload.awaits_choice or upload.awaits_overlap_choice,
        "message": upload.message,
        "rows_read": upload.rows_read,
        "rows_loaded": upload.rows_loaded,
        "rows_rejected": upload.rows_rejected,
        "rows_dropped": upload.rows_dropped,
        "rows_totals": upload.rows_totals,
        "rows_processed": progress["rows_processed"],
        "progress_stage": progress["stage"],
        "progress": progress["fraction"],
        "created_at": upload.created_at.isoformat(),
        "started_at": upload.started_at.isoformat() if upload.started_at else None,
        "finished_at": upload.finished_at.isoformat() if upload.finished_at else None,
        "timings": upload.report.get("timings", {}),
    }
