"""An upload beside its shop's history, before it loads: the shop's recent loaded uploads read
from the database (their `summary`, written by their runs; never the warehouse), judged by
the pure apps/etl/pipeline/plausibility.py, and the small chart the upload's page draws."""

import math

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
    one (last, coloured; red when its figure is held), on a logarithmic scale (a figure a
    hundred times the usual leaves the others visible), with the history's median as a line.
    Geometry for an inline SVG; empty when the upload was not compared."""
    findings = upload.report.get("plausibility") or {}
    history = list(reversed(findings.get("history") or []))
    if not findings.get("checks") or not history:
        return []
    held = {c["key"] for c in findings["checks"] if c.get("held")}
    usual = {c["key"]: c.get("usual") for c in findings["checks"]}
    panels = []
    for key, label in CHARTED:
        points = [(p["name"], p.get(key)) for p in history] + [("this upload", upload.summary.get(key))]
        values = [v for _, v in points if v is not None and v > 0]
        if not values or not usual.get(key):
            continue
        scale = _log_scale([*values, usual[key]])
        width = (PANEL_W - BAR_GAP * len(points)) / len(points)
        bars = []
        for i, (name, value) in enumerate(points):
            height = scale(value)
            current = i == len(points) - 1
            bars.append({"x": round(i * (width + BAR_GAP), 1), "y": round(PANEL_H - height, 1), "w": round(width, 1),
                         "h": height, "title": f"{name}: {_figure(value)}", "current": current,
                         "held": current and key in held})  # fmt: skip
        panels.append({"label": label, "bars": bars, "usual_y": round(PANEL_H - scale(usual[key]), 1),
                       "usual": _figure(usual[key]), "value": _figure(upload.summary.get(key)),
                       "held": key in held})  # fmt: skip
    return panels


def _log_scale(values: list[float]):
    """Bar height for a value: the smallest value a quarter of the panel, the largest all of it."""
    low, high = math.log(min(values)), math.log(max(values))
    span = (high - low) or 1.0

    def height(value) -> float:
        if value is None or value <= 0:
            return 0.0
        return round(PANEL_H * (0.25 + 0.75 * (math.log(value) - low) / span), 1)

    return height


def plausibility_rows(upload: Upload) -> list[dict]:
    """The checks as the page's table shows them: each figure's value, usual, ratio and limit in words."""
    rows = []
    for check in (upload.report.get("plausibility") or {}).get("checks") or []:
        ratio = check.get("ratio")
        rows.append({"label": check["label"], "value": _figure(check.get("value")),
                     "usual": _figure(check.get("usual")), "ratio": f"{ratio:,.2f}" if ratio is not None else "",
                     "limit": _figure(check.get("limit")), "held": check.get("held")})  # fmt: skip
    return rows


def _figure(value) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if abs(value) >= 100 or float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:,.2f}"
