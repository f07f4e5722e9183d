"""An upload beside its shop's history, before it loads: the shop's recent loaded uploads read
from the database (their `summary`, written by their runs; never the warehouse), judged by
the pure apps/etl/pipeline/plausibility.py, and the small chart the upload's page draws."""

from django.db.models import Exists, OuterRef
from django.utils import timezone

from apps.etl.pipeline.plausibility import HISTORY_SIZE, Earlier, plausibility_judge
from apps.uploads.models import Upload


def shop_history(upload: Upload) -> list[Earlier]:
    """The shop's latest loaded uploads from before this one (newest first, at most
    HISTORY_SIZE), whose rows are in the warehouse (not replaced since) and whose runs
    recorded a summary."""
    replaced = Upload.objects.filter(replaces=OuterRef("pk"), status__in=Upload.IN_WAREHOUSE)
    found = (
        Upload.objects.filter(shop_id=upload.shop_id, status__in=Upload.IN_WAREHOUSE, created_at__lt=upload.created_at)
        .exclude(pk=upload.pk)
        .filter(~Exists(replaced))
        .order_by("-created_at")
        .values_list("id", "original_name", "created_at", "summary")
    )
    earlier = []
    for upload_id, name, created_at, summary in found[: HISTORY_SIZE * 2]:
        if summary:  # uploads loaded before summaries were kept have none, until reprocessed
            earlier.append(Earlier(str(upload_id), name, timezone.localdate(created_at), summary))
    return earlier[:HISTORY_SIZE]


def upload_plausibility(upload: Upload, summary: dict) -> dict:
    """The findings (plausibility_judge's) of this upload's summary beside its shop's history;
    `hold` says whether the run holds it (not once the uploader confirmed it)."""
    uploaded_on = timezone.localdate(upload.created_at)
    findings = plausibility_judge(summary, uploaded_on=uploaded_on, history=shop_history(upload))
    findings["accepted"] = upload.plausibility_accepted
    findings["hold"] = findings["held"] and not upload.plausibility_accepted
    return findings


# The figures the chart compares, with how the page names them.
CHARTED = (
    ("lines", "Valid lines"),
    ("sales", "Sales"),
    ("aov", "Average order value"),
    ("median_price", "Median price"),
)
PANEL_W, PANEL_H, BAR_GAP = 220, 70, 2


def plausibility_chart(upload: Upload) -> list[dict]:
    """One small bar chart per figure: the shop's recent uploads (oldest first, grey) and this
    one (last, coloured when its figure is held), on the same scale, with the history's
    median as a line. Geometry for an inline SVG; empty when the upload was not compared."""
    findings = upload.report.get("plausibility") or {}
    history = list(reversed(findings.get("history") or []))
    if not findings.get("checks") or not history:
        return []
    held = {c["key"] for c in findings["checks"] if c.get("held")}
    usual = {c["key"]: c.get("usual") for c in findings["checks"]}
    panels = []
    for key, label in CHARTED:
        points = [(p["name"], p.get(key)) for p in history] + [("this upload", upload.summary.get(key))]
        values = [v for _, v in points if v is not None]
        if not values or key not in usual:
            continue
        top = max([*values, usual[key] or 0]) or 1
        width = (PANEL_W - BAR_GAP * len(points)) / len(points)
        bars = []
        for i, (name, value) in enumerate(points):
            height = round(PANEL_H * (value or 0) / top, 1)
            current = i == len(points) - 1
            bars.append({"x": round(i * (width + BAR_GAP), 1), "y": round(PANEL_H - height, 1), "w": round(width, 1),
                         "h": height, "title": f"{name}: {_figure(value)}", "current": current,
                         "held": current and key in held})  # fmt: skip
        line = round(PANEL_H - PANEL_H * (usual[key] or 0) / top, 1)
        panels.append({"label": label, "bars": bars, "usual_y": line, "usual": _figure(usual[key]),
                       "value": _figure(upload.summary.get(key)), "held": key in held})  # fmt: skip
    return panels


def _figure(value) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}"
