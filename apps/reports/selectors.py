"""Reads for the report pages: scoped queries against the warehouse's views.

`filter_where` always ANDs the scope's predicate in; identifiers come from code or from
validated Region rows, and every value is a bound parameter. The page's charts share one
scan (GROUPING SETS), so the page costs about as much as its slowest query.
"""

from dataclasses import dataclass, field
from datetime import date

from apps.accounts.access import Scope
from apps.reports.filters import ReportFilter, filter_where
from apps.warehouse.services import warehouse

TOP_PRODUCTS = 15
PERIOD_SQL = {
    "day": "order_date",
    "week": "CAST(date_trunc('week', order_date) AS DATE)",
    "month": "CAST(date_trunc('month', order_date) AS DATE)",
}


def latest_order_date(*, scope: Scope, view: str, country: str = "") -> date | None:
    """The newest day with data in scope: date presets count back from it, not from today."""
    where, params = scope.warehouse_predicate()
    if country:
        where, params = f"({where}) AND country_code = $f_country", {**params, "f_country": country}
    rows = warehouse().query(f'SELECT max(order_date) AS last_day FROM "{view}" WHERE {where}', params)
    return rows.column(0)[0].as_py()


def kpi_figures(*, scope: Scope, report: ReportFilter) -> dict[str, dict]:
    """Each KPI for this period and the previous period of the same length (one scan)."""
    previous = report.previous()
    where, params = filter_where(scope, report, dates=False)
    params.update(p_start=previous.start, f_start=report.start, f_end=report.end)
    measures = {  # name: (aggregate, extra condition)
        "revenue": ("sum(revenue_reporting)", ""),
        "revenue_local": ("sum(revenue)", ""),
        "orders": ("count(DISTINCT order_id)", ""),
        "units": ("sum(quantity)", ""),
        "lines": ("count(*)", ""),
        "returns": ("count(*)", "is_return AND "),
        "shops": ("count(DISTINCT store_id)", ""),
        "currencies": ("count(DISTINCT currency)", ""),
        "currency": ("min(currency)", ""),
    }
    selects = []
    for name, (agg, cond) in measures.items():
        selects.append(f"{agg} FILTER (WHERE {cond}order_date >= $f_start) AS cur_{name}")
        selects.append(f"{agg} FILTER (WHERE {cond}order_date < $f_start) AS prev_{name}")
    sql = f'SELECT {", ".join(selects)} FROM "{report.view}" WHERE {where} AND order_date BETWEEN $p_start AND $f_end'
    row = warehouse().query(sql, params).to_pylist()[0]
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


def sales_breakdown(*, scope: Scope, report: ReportFilter) -> Breakdown:
    where, params = filter_where(scope, report)
    sql = f"""
        SELECT grouping(period, country_code, store_id, product_id, category) AS g,
               period, country_code, store_id, product_id, category,
               any_value(product_name) AS product_name,
               CAST(sum(revenue_reporting) AS DOUBLE) AS revenue,
               count(DISTINCT order_id) AS orders,
               CAST(sum(quantity) AS BIGINT) AS units
        FROM (SELECT *, {PERIOD_SQL[report.grain]} AS period FROM "{report.view}" WHERE {where})
        GROUP BY GROUPING SETS ((period, country_code), (country_code), (store_id, country_code),
                                (product_id), (category))"""
    out = Breakdown()
    # The grouping bitmask says which set a row belongs to (1 = column rolled up).
    sets = {0b00111: out.over_time, 0b10111: out.by_country, 0b10011: out.by_shop}
    sets.update({0b11101: out.products, 0b11110: out.categories})
    for row in warehouse().query(sql, params).to_pylist():
        sets[row.pop("g")].append(row)
    out.over_time.sort(key=lambda r: (r["period"], r["country_code"]))
    out.by_country.sort(key=lambda r: -r["revenue"])
    out.by_shop.sort(key=lambda r: -r["revenue"])
    out.products = sorted(out.products, key=lambda r: -r["revenue"])[:TOP_PRODUCTS]
    out.categories.sort(key=lambda r: -r["revenue"])
    return out
