"""Data coverage: which shops uploaded for which days, whether a period is complete, and
which shops are late with their uploads.

An upload covers the days from its first to its last order date, so a day inside an
upload with no sales (a shop closed on Sunday) is covered, and a day no upload reaches is
a gap.
"""

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from django.db.models import Max, Min, Q, QuerySet, Sum

from apps.accounts.access import Scope
from apps.accounts.models import Shop
from apps.reports.days import scope_days
from apps.reports.filters import ReportFilter
from apps.uploads.models import Upload

LOADED = (Upload.Status.LOADED, Upload.Status.LOADED_WITH_ERRORS)
GRID_MAX_DAYS = 62


def shops_in_scope(*, scope: Scope, report: ReportFilter | None = None) -> QuerySet[Shop]:
    shops = scope.filter_shops(Shop.objects.select_related("region"))
    if report and report.shop:
        shops = shops.filter(code=report.shop)
    if report and report.country:
        shops = shops.filter(region__country_code=report.country)
    return shops


def upload_spans(*, scope: Scope, report: ReportFilter) -> dict[str, list[tuple[date, date]]]:
    """Per shop, the first and last order day of each upload's rows in the scope, the view and
    the filter's country and shop, for the uploads that reach into the period. From the app
    database (the uploads' days, kept at load time): no warehouse query."""
    days = scope_days(scope=scope, view=report.view, country=report.country, shop=report.shop)
    found = (
        days.values("store_id", "upload_id")
        .annotate(first_day=Min("order_date"), last_day=Max("order_date"))
        .filter(last_day__gte=report.start, first_day__lte=report.end)
        .order_by()
    )
    spans: dict[str, list[tuple[date, date]]] = {}
    for row in found:
        spans.setdefault(row["store_id"], []).append((row["first_day"], row["last_day"]))
    return spans


def _covered_days(spans: list[tuple[date, date]], start: date, end: date) -> set[date]:
    days: set[date] = set()
    for first, last in spans:
        day = max(first, start)
        while day <= min(last, end):
            days.add(day)
            day += timedelta(days=1)
    return days


@dataclass(frozen=True)
class Completeness:
    complete: bool
    missing_shops: tuple[str, ...]
    missing_shop_days: int

    @property
    def note(self) -> str:
        if self.complete:
            return ""
        names = ", ".join(self.missing_shops[:5]) + ("…" if len(self.missing_shops) > 5 else "")
        return f"Incomplete: {self.missing_shop_days} shop-days have no upload ({names})."


def period_completeness(*, scope: Scope, report: ReportFilter) -> Completeness:
    """Complete when every shop in view that has ever loaded data has uploads covering every
    day of the period."""
    expected = list(
        shops_in_scope(scope=scope, report=report)
        .filter(uploads__status__in=LOADED)
        .distinct()
        .values_list("code", flat=True)
    )
    spans = upload_spans(scope=scope, report=report) if expected else {}
    missing: dict[str, int] = {}
    for shop in expected:
        gap = report.days - len(_covered_days(spans.get(shop, []), report.start, report.end))
        if gap:
            missing[shop] = gap
    return Completeness(not missing, tuple(sorted(missing)), sum(missing.values()))


def coverage_grid(*, scope: Scope, report: ReportFilter) -> dict:
    """A shop x day grid for the last GRID_MAX_DAYS days of the period: the lines of each shop
    and day, and the days its uploads cover, from the app database (no warehouse query)."""
    start = max(report.start, report.end - timedelta(days=GRID_MAX_DAYS - 1))
    window = replace(report, start=start, product="", category="")
    days = scope_days(scope=scope, view=report.view, country=report.country, shop=report.shop)
    per_day = days.filter(order_date__range=(start, report.end)).values("store_id", "order_date")
    sales = {(r["store_id"], r["order_date"]): r["lines"] for r in per_day.annotate(lines=Sum("lines")).order_by()}
    spans = upload_spans(scope=scope, report=window)
    shops = sorted(set(shops_in_scope(scope=scope, report=report).values_list("code", flat=True)) | set(spans))
    days = [start + timedelta(days=i) for i in range((report.end - start).days + 1)]
    rows = []
    for shop in shops:
        covered = _covered_days(spans.get(shop, []), start, report.end)
        cells = []
        for day in days:
            lines = sales.get((shop, day), 0)
            state = "sales" if lines else ("covered" if day in covered else "missing")
            cells.append({"day": day, "state": state, "lines": lines})
        rows.append({"shop": shop, "cells": cells, "missing": sum(c["state"] == "missing" for c in cells)})
    return {"days": days, "rows": rows, "trimmed": start > report.start}


@dataclass(frozen=True)
class LateShop:
    code: str
    name: str
    every_days: int
    last_upload: datetime | None
    days_late: int | None


def late_shops(*, scope: Scope, today: date) -> list[LateShop]:
    """Shops with an expected cadence whose last loaded upload is older than that cadence."""
    shops = (
        shops_in_scope(scope=scope)
        .filter(expected_upload_every_days__isnull=False)
        .annotate(last_upload=Max("uploads__created_at", filter=Q(uploads__status__in=LOADED)))
    )
    late = []
    for shop in shops:
        if shop.last_upload is None:
            late.append(LateShop(shop.code, shop.name, shop.expected_upload_every_days, None, None))
            continue
        overdue = (today - shop.last_upload.date()).days - shop.expected_upload_every_days
        if overdue > 0:
            late.append(LateShop(shop.code, shop.name, shop.expected_upload_every_days, shop.last_upload, overdue))
    return sorted(late, key=lambda s: (s.last_upload is not None, -(s.days_late or 0)))
