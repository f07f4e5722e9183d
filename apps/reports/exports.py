"""What a report page shows, as tables: for the CSV/XLSX exports and the JSON data view.

Every table is read through the same scoped selectors as the page. Text cells that a
spreadsheet would run as a formula (= + - @, tab, CR) are neutralised with a leading '.
"""

import csv
import tempfile
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from decimal import Decimal

from django.http import FileResponse, StreamingHttpResponse
from openpyxl import Workbook

from apps.accounts.access import Scope
from apps.reports import selectors
from apps.reports.filters import ReportFilter
from apps.reports.lines import LINE_COLUMNS, order_lines_stream

DATASETS = {
    "kpis": "Key figures",
    "over_time": "Revenue over time",
    "by_country": "Revenue by country",
    "by_shop": "Revenue by shop",
    "products": "Top products",
    "categories": "Revenue by category",
    "lines": "Order lines",
}
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
BREAKDOWN_COLUMNS = {
    "over_time": ("period", "country_code", "revenue", "orders", "units"),
    "by_country": ("country_code", "revenue", "orders", "units"),
    "by_shop": ("store_id", "country_code", "revenue", "orders", "units"),
    "products": ("product_id", "product_name", "revenue", "orders", "units"),
    "categories": ("category", "revenue", "orders", "units"),
}
KPI_COLUMNS = ("metric", "current", "previous")


def neutralise(value):
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def dataset_table(*, scope: Scope, report: ReportFilter, name: str) -> tuple[tuple[str, ...], Iterator[list]]:
    """The header and the rows of one dataset, within the scope and the filter."""
    if name == "lines":
        columns = (*LINE_COLUMNS, "file_name")
        rows = order_lines_stream(scope=scope, report=report)
        return columns, ([row[c] for c in columns] for row in rows)
    if name == "kpis":
        figures = selectors.kpi_figures(scope=scope, report=report)
        current, previous = figures["current"], figures["previous"]
        return KPI_COLUMNS, iter([[key, current[key], previous[key]] for key in current])
    columns = BREAKDOWN_COLUMNS[name]
    rows = getattr(selectors.sales_breakdown(scope=scope, report=report), name)
    return columns, iter([[row[c] for c in columns] for row in rows])


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, date | datetime):
        return value.isoformat()
    return str(neutralise(value))


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_response(columns: Iterable[str], rows: Iterable[list], *, filename: str) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())

    def lines() -> Iterator[str]:
        yield "\ufeff" + writer.writerow(list(columns))  # BOM: Excel then reads UTF-8
        for row in rows:
            yield writer.writerow([_text(v) for v in row])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _cell(value):
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.replace(tzinfo=None)  # Excel has no time zones; the fact table is UTC
    return neutralise(value)


def xlsx_response(columns: Iterable[str], rows: Iterable[list], *, filename: str, title: str) -> FileResponse:
    """Rows written one by one (openpyxl write-only), spooled to disk past 8 MB, then streamed."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=title[:31])
    sheet.append(list(columns))
    for row in rows:
        sheet.append([_cell(v) for v in row])
    spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115 (FileResponse closes it)
    workbook.save(spool)
    spool.seek(0)
    return FileResponse(
        spool,
        as_attachment=True,
        filename=filename,
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
