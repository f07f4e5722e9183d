"""The report filters: parsed and validated here, and nowhere else.

A `ReportFilter` is built from the URL's query string once per request. Values that do not
validate are dropped (and said so), never passed on. The SQL it produces names columns from
code only; every value is a bound `$parameter`.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from urllib.parse import urlencode

from apps.accounts.access import Scope
from apps.warehouse.fact import MASTER_VIEW

PRESETS = {
    "7d": "Last 7 days",
    "30d": "Last 30 days",
    "90d": "Last 90 days",
    "month": "This month",
    "quarter": "This quarter",
    "year": "This year",
    "custom": "Custom",
}
DEFAULT_PRESET = "90d"
GRAINS = {"day": "Day", "week": "Week", "month": "Month"}
# The URL parameters a filter owns, in the order they are written back.
PARAMS = ("preset", "start", "end", "grain", "country", "shop", "product", "category")
COUNTRY_RE = re.compile(r"^[A-Z]{2}$")
SHOP_RE = re.compile(r"^[A-Z0-9][A-Z0-9-]{1,31}$")
MAX_TEXT = 128
MAX_DAYS = 366 * 5


@dataclass(frozen=True)
class ReportFilter:
    start: date
    end: date
    preset: str = DEFAULT_PRESET
    grain: str = "day"
    country: str = ""
    shop: str = ""
    product: str = ""
    category: str = ""
    # Set by code (the country page), never from the URL: the warehouse view to read.
    view: str = MASTER_VIEW
    problems: tuple[str, ...] = field(default=(), compare=False)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> "ReportFilter":
        """The period of the same length just before this one."""
        length = timedelta(days=self.days)
        return replace(self, start=self.start - length, end=self.end - length)

    def query(self, **changes: str) -> str:
        """This filter as a query string, with some parameters changed ('' removes one)."""
        values = {
            "preset": self.preset,
            "start": self.start.isoformat() if self.preset == "custom" else "",
            "end": self.end.isoformat() if self.preset == "custom" else "",
            "grain": "" if self.grain == "day" else self.grain,
            "country": self.country,
            "shop": self.shop,
            "product": self.product,
            "category": self.category,
        }
        values.update(changes)
        if values.get("preset") == DEFAULT_PRESET:
            values["preset"] = ""
        pairs = [(k, values[k]) for k in PARAMS if values.get(k)]
        return urlencode(pairs)


def report_filter_parse(
    params: Mapping[str, str], *, scope_shops: frozenset[str], latest: date | None, today: date, **fixed: str
) -> ReportFilter:
    """Build the filter from the query string. `fixed` values (the country page's country and
    view) come from code and win over the URL; `latest` is the newest day with data in scope."""
    problems: list[str] = []
    anchor = min(latest, today) if latest else today
    preset = params.get("preset", "") or DEFAULT_PRESET
    if preset not in PRESETS:
        problems.append("Unknown date range; showing the last 90 days.")
        preset = DEFAULT_PRESET
    start, end = _period(preset, anchor)
    if preset == "custom":
        start, end = _custom_period(params, start, end, problems)
    grain = params.get("grain", "day")
    if grain not in GRAINS:
        problems.append("Unknown time grain; showing days.")
        grain = "day"
    country = _code(params.get("country", ""), COUNTRY_RE, "country", problems)
    shop = _code(params.get("shop", ""), SHOP_RE, "shop", problems)
    if shop and shop not in scope_shops:
        # `scope_shops`: the scope's own shops and any shop with rows in it. Not echoed
        # back: the name of a shop outside the scope is not shown.
        problems.append("That shop is not in your reports; the shop filter was dropped.")
        shop = ""
    values = {
        "start": start,
        "end": end,
        "preset": preset,
        "grain": grain,
        "country": country,
        "shop": shop,
        "product": _text(params.get("product", "")),
        "category": _text(params.get("category", "")),
    }
    values.update(fixed)
    return ReportFilter(**values, problems=tuple(problems))


def _period(preset: str, anchor: date) -> tuple[date, date]:
    if preset in ("7d", "30d", "90d"):
        return anchor - timedelta(days=int(preset[:-1]) - 1), anchor
    if preset == "month":
        return anchor.replace(day=1), anchor
    if preset == "quarter":
        return date(anchor.year, 3 * ((anchor.month - 1) // 3) + 1, 1), anchor
    if preset == "year":
        return date(anchor.year, 1, 1), anchor
    return anchor - timedelta(days=89), anchor


def _custom_period(params: Mapping[str, str], start: date, end: date, problems: list[str]) -> tuple[date, date]:
    try:
        start = date.fromisoformat(params.get("start", "")) if params.get("start") else start
        end = date.fromisoformat(params.get("end", "")) if params.get("end") else end
    except ValueError:
        problems.append("Dates are written YYYY-MM-DD; showing the default range.")
        return start, end
    if end < start:
        start, end = end, start
    if (end - start).days > MAX_DAYS:
        problems.append("Ranges are limited to five years; the start was moved.")
        start = end - timedelta(days=MAX_DAYS)
    return start, end


def _code(value: str, pattern: re.Pattern, what: str, problems: list[str]) -> str:
    value = value.strip().upper()
    if value and not pattern.match(value):
        problems.append(f"That {what} code is not valid; the {what} filter was dropped.")
        return ""
    return value


def _text(value: str) -> str:
    return value.strip()[:MAX_TEXT]


def filter_where(scope: Scope, report: ReportFilter, *, dates: bool = True) -> tuple[str, dict]:
    """The scope's predicate ANDed with this filter's, for the fact table's columns."""
    where, params = scope.warehouse_predicate()
    clauses, params = [f"({where})"], dict(params)
    if dates:
        clauses.append("order_date BETWEEN $f_start AND $f_end")
        params.update(f_start=report.start, f_end=report.end)
    for column, value, name in (
        ("country_code", report.country, "f_country"),
        ("store_id", report.shop, "f_shop"),
        ("product_id", report.product, "f_product"),
        ("category", report.category, "f_category"),
    ):
        if value:
            clauses.append(f"{column} = ${name}")
            params[name] = value
    return " AND ".join(clauses), params
