"""Reads for the reports: scoped queries against the warehouse's views.

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
    return (
        warehouse()
        .query(
            f"""SELECT strftime(date_trunc('month', order_date), '%Y-%m') AS month, country_code,
                   CAST(sum(revenue_reporting) AS DOUBLE) AS revenue
            FROM "{report.view}" WHERE {where}
            GROUP BY ALL ORDER BY month, country_code""",
            params,
        )
        .to_pylist()
    )
