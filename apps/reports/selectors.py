"""Reads for the report pages: scoped queries against the warehouse's views.

`filter_where` always ANDs the scope's predicate in; identifiers come from code or from
validated Region rows, and every value is a bound parameter. The SQL is the portable
subset of apps/warehouse/base.py, so both backends give the same figures. The page's
charts share one scan (GROUPING SETS), so the page costs about as much as its slowest query.
"""

from dataclasses import dataclass, field
from datetime import date

from apps.accounts.access import Scope
from apps.reports.filters import ReportFilter, filter_where
from apps.warehouse.services import warehouse

TOP_PRODUCTS = 15


def latest_order_date(*, scope: Scope, view: str, country: str = "") -> date | None:
    """The newest day with data in scope: date presets count back from it, not from today."""
    where, params = scope.warehouse_predicate()
    if country:
        where, params = f"({where}) AND country_code = $f_country", {**params, "f_country": country}
    rows = warehouse().query(f'SELECT max(order_date) AS last_day FROM "{view}" WHERE {where}', params)
    return rows.column(0)[0].as_py()


def shop_has_rows(*, scope: Scope, view: str, shop: str) -> bool:
    """Whether a shop has rows the scope sees: a regional head sees another region's shop
    in the rows of their countries (its customers there), and may filter on it."""
    where, params = scope.warehouse_predicate()
    sql = f'SELECT count(*) AS n FROM (SELECT 1 FROM "{view}" WHERE ({where}) AND store_id = $f_shop LIMIT 1)'
    return warehouse().query(sql, {**params, "f_shop": shop}).column(0)[0].as_py() > 0


def kpi_figures(*, scope: Scope, report: ReportFilter) -> dict[str, dict]:
    """Each KPI for this period and the previous period of the same length (one scan)."""
    previous = report.previous()
    where, params = filter_where(scope, report, dates=False)
    params.update(p_start=previous.start, f_start=report.start, f_end=report.end)
    measures = {  # name: (aggregate of {}, value, extra condition)
        "revenue": ("sum({})", "revenue_reporting", ""),
        "revenue_local": ("sum({})", "revenue", ""),
        "orders": ("count(DISTINCT {})", "order_id", ""),
        "units": ("sum({})", "quantity", ""),
        "lines": ("count({})", "1", ""),
        "returns": ("count({})", "1", "is_return AND "),
        "shops": ("count(DISTINCT {})", "store_id", ""),
        "currencies": ("count(DISTINCT {})", "currency", ""),
        "currency": ("min({})", "currency", ""),
    }
    selects = []
    for name, (agg, value, cond) in measures.items():
        # A conditional aggregate the portable way: the CASE is NULL outside the period,
        # and every aggregate here skips NULLs (DuckDB's FILTER clause is not GoogleSQL).
        selects.append(agg.format(f"CASE WHEN {cond}order_date >= $f_start THEN {value} END") + f" AS cur_{name}")
        selects.append(agg.format(f"CASE WHEN {cond}order_date < $f_start THEN {value} END") + f" AS prev_{name}")
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


# The grouping sets of the breakdown, by their grouping() flags for
# (period, country_code, store_id, product_id, category): 1 = rolled up in that set.
BREAKDOWN_SETS = {
    (0, 0, 1, 1, 1): "over_time",
    (1, 0, 1, 1, 1): "by_country",
    (1, 0, 0, 1, 1): "by_shop",
    (1, 1, 1, 0, 1): "products",
    (1, 1, 1, 1, 0): "categories",
}
BREAKDOWN_KEYS = ("period", "country_code", "store_id", "product_id", "category")


def sales_breakdown(*, scope: Scope, report: ReportFilter) -> Breakdown:
    where, params = filter_where(scope, report)
    period = warehouse().sql_date_trunc("order_date", report.grain)
    # One-argument grouping() per column: GoogleSQL has no multi-argument bitmask. A
    # product's name is its smallest (min is the same on both engines; any_value is not).
    flags = ", ".join(f"grouping({key}) AS g_{key}" for key in BREAKDOWN_KEYS)
    sql = f"""
        SELECT {flags}, {", ".join(BREAKDOWN_KEYS)},
               min(product_name) AS product_name,
               sum(revenue_reporting) AS revenue,
               count(DISTINCT order_id) AS orders,
               sum(quantity) AS units
        FROM (SELECT {period} AS period, country_code, store_id, product_id, category, product_name,
                     revenue_reporting, order_id, quantity
              FROM "{report.view}" WHERE {where}) AS facts
        GROUP BY GROUPING SETS ((period, country_code), (country_code), (store_id, country_code),
                                (product_id), (category))"""
    out = Breakdown()
    for row in warehouse().query(sql, params).to_pylist():
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
