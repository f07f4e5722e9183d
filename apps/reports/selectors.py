"""Reads for the reports: scoped queries against the warehouse's views.

The SQL is the portable subset every warehouse backend runs (see apps/warehouse/base.py).

The scope's predicate is always ANDed in; identifiers come from code or from validated
Region rows, and every value is a bound parameter.
"""

from dataclasses import dataclass

from apps.accounts.access import Scope
from apps.warehouse.fact import MASTER_VIEW
from apps.warehouse.services import warehouse


@dataclass(frozen=True)
class ReportFilter:
    view: str = MASTER_VIEW


def _where(scope: Scope) -> tuple[str, dict]:
    return scope.warehouse_predicate()


def kpi_totals(*, scope: Scope, report: ReportFilter) -> dict:
    where, params = _where(scope)
    row = (
        warehouse()
        .query(
            f"""SELECT coalesce(sum(revenue_reporting), 0) AS revenue,
                   count(DISTINCT order_id) AS orders,
                   coalesce(sum(quantity), 0) AS units,
                   count(*) AS lines,
                   count(DISTINCT store_id) AS shops,
                   min(order_date) AS first_day, max(order_date) AS last_day
            FROM "{report.view}" WHERE {where}""",
            params,
        )
        .to_pylist()[0]
    )
    row["revenue"] = float(row["revenue"])
    return row


def revenue_by_month_country(*, scope: Scope, report: ReportFilter) -> list[dict]:
    where, params = _where(scope)
    # Portable SQL (apps/warehouse/base.py): substr of the ISO date is the month on
    # every backend; the sum stays exact in SQL and becomes a float here.
    rows = (
        warehouse()
        .query(
            f"""SELECT substr(CAST(order_date AS STRING), 1, 7) AS month, country_code,
                   sum(revenue_reporting) AS revenue
            FROM "{report.view}" WHERE {where}
            GROUP BY 1, 2 ORDER BY month, country_code""",
            params,
        )
        .to_pylist()
    )
    return [{**row, "revenue": float(row["revenue"] or 0)} for row in rows]
