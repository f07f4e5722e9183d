"""Reads for the report pages: KPIs, the breakdown behind the charts, the days with data
(the newest, and the lines of each), and whether a shop has rows in a scope.

The KPIs and the breakdown are warehouse reads described as data (apps/reports/query.py
writes and runs their SQL, always within the scope and the period); the page's charts share
one scan (GROUPING SETS), and a dashboard runs its two reads at once, so it costs about as
much as its slower one. The days with data come from the app database (apps/reports/days.py).
"""

from dataclasses import dataclass, field
from datetime import date

import pyarrow as pa
from django.db.models import Max, Sum

from apps.accounts.access import Scope
from apps.reports.days import scope_days
from apps.reports.filters import DataDays, ReportFilter
from apps.reports.query import PERIOD, Measure, Read, read_table, read_tables, report_read

TOP_PRODUCTS = 15
KPI_MEASURES = (
    Measure("revenue", "sum", "revenue_reporting"),
    Measure("revenue_local", "sum", "revenue"),
    Measure("orders", "count_distinct", "order_id"),
    Measure("units", "sum", "quantity"),
    Measure("lines", "count"),
    Measure("returns", "count", only_if="is_return"),
    Measure("shops", "count_distinct", "store_id"),
    Measure("currencies", "count_distinct", "currency"),
    Measure("currency", "min", "currency"),
)


def latest_order_date(*, scope: Scope, view: str, country: str = "") -> date | None:
    """The newest day with data in scope: date presets count back from it, not from today.
    From the app database (apps/reports/days.py): no warehouse query."""
    return scope_days(scope=scope, view=view, country=country).aggregate(last=Max("order_date"))["last"]


def days_with_data(*, scope: Scope, view: str) -> DataDays:
    """The lines of each day with data in the view and the scope, oldest first: where the
    bulk of the data lies places the presets' window, the rest is said to be outside it.
    From the app database: as many rows back as days with data, no warehouse query."""
    days = scope_days(scope=scope, view=view).values("order_date").annotate(n=Sum("lines")).order_by("order_date")
    return DataDays(tuple((row["order_date"], int(row["n"])) for row in days))


def shop_has_rows(*, scope: Scope, view: str, shop: str) -> bool:
    """Whether a shop has rows the scope sees: a regional head sees another region's shop
    in the rows of their countries (its customers there), and may filter on it."""
    return scope_days(scope=scope, view=view, shop=shop).exists()


def dashboard_figures(*, scope: Scope, report: ReportFilter) -> tuple[dict[str, dict], "Breakdown"]:
    """The KPIs and the breakdown of a dashboard: two warehouse reads, run at once (or none,
    when both are cached)."""
    kpis, breakdown = read_tables(_kpi_read(scope=scope, report=report), _breakdown_read(scope=scope, report=report))
    return _kpis_of(kpis), _breakdown_of(breakdown)


def kpi_figures(*, scope: Scope, report: ReportFilter) -> dict[str, dict]:
    """Each KPI for this period and the previous period of the same length (one scan)."""
    return _kpis_of(read_table(_kpi_read(scope=scope, report=report)))


def _kpi_read(*, scope: Scope, report: ReportFilter) -> Read:
    dates = (report.previous().start, report.end)
    return report_read(scope=scope, report=report, dates=dates, split_at=report.start, measures=KPI_MEASURES)


def _kpis_of(table: pa.Table) -> dict[str, dict]:
    row = table.to_pylist()[0]
    return {"current": _kpi(row, "cur_"), "previous": _kpi(row, "prev_")}


def _kpi(row: dict, prefix: str) -> dict:
    values = {name[len(prefix) :]: value for name, value in row.items() if name.startswith(prefix)}
    revenue = float(values["revenue"] or 0)
    orders = int(values["orders"] or 0)
    lines = int(values["lines"] or 0)
    return {
        "revenue": revenue,
        "revenue_local": float(values["revenue_local"] or 0),
        "currency": values["currency"] if values["currencies"] == 1 else "",
        "orders": orders,
        "units": int(values["units"] or 0),
        "aov": revenue / orders if orders else None,
        "return_rate": int(values["returns"] or 0) / lines if lines else None,
        "shops": int(values["shops"] or 0),
    }


@dataclass
class Breakdown:
    """What the charts and tables of one page show, from one scan."""

    over_time: list[dict] = field(default_factory=list)
    by_country: list[dict] = field(default_factory=list)
    by_shop: list[dict] = field(default_factory=list)
    products: list[dict] = field(default_factory=list)
    categories: list[dict] = field(default_factory=list)


# The grouping sets of the breakdown, by their grouping() flags for
# (period, country_code, store_id, product_id, category): 1 = rolled up in that set.
BREAKDOWN_SETS = {
    (0, 0, 1, 1, 1): "over_time",
    (1, 0, 1, 1, 1): "by_country",
    (1, 0, 0, 1, 1): "by_shop",
    (1, 1, 1, 0, 1): "products",
    (1, 1, 1, 1, 0): "categories",
}
BREAKDOWN_KEYS = (PERIOD, "country_code", "store_id", "product_id", "category")
BREAKDOWN_GROUPS = ((PERIOD, "country_code"), ("country_code",), ("store_id", "country_code"), ("product_id",),
                    ("category",))  # fmt: skip
# A product's name is its smallest (min is the same on both engines; any_value is not).
BREAKDOWN_MEASURES = (
    Measure("product_name", "min", "product_name"),
    Measure("revenue", "sum", "revenue_reporting"),
    Measure("orders", "count_distinct", "order_id"),
    Measure("units", "sum", "quantity"),
)


def sales_breakdown(*, scope: Scope, report: ReportFilter) -> Breakdown:
    return _breakdown_of(read_table(_breakdown_read(scope=scope, report=report)))


def _breakdown_read(*, scope: Scope, report: ReportFilter) -> Read:
    return report_read(
        scope=scope,
        report=report,
        measures=BREAKDOWN_MEASURES,
        group_by=BREAKDOWN_KEYS,
        grouping_sets=BREAKDOWN_GROUPS,
        grain=report.grain,
    )


def _breakdown_of(table: pa.Table) -> Breakdown:
    out = Breakdown()
    for row in table.to_pylist():
        flag = tuple(row.pop(f"g_{key}") for key in BREAKDOWN_KEYS)
        # Sums come back as DECIMAL (DuckDB) or NUMERIC (BigQuery): the same exact value.
        row.update(revenue=float(row["revenue"] or 0), orders=int(row["orders"]), units=int(row["units"] or 0))
        getattr(out, BREAKDOWN_SETS[flag]).append(row)
    # Ties are broken by the key, so both engines give the same order (and the same top 15).
    text = lambda value: (value is None, value or "")  # noqa: E731
    out.over_time.sort(key=lambda r: (r["period"], text(r["country_code"])))
    out.by_country.sort(key=lambda r: (-r["revenue"], text(r["country_code"])))
    out.by_shop.sort(key=lambda r: (-r["revenue"], text(r["store_id"]), text(r["country_code"])))
    out.products = sorted(out.products, key=lambda r: (-r["revenue"], text(r["product_id"])))[:TOP_PRODUCTS]
    out.categories.sort(key=lambda r: (-r["revenue"], text(r["category"])))
    return out
