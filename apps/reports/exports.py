"""What a report page shows, as tables: for the CSV/XLSX exports and the JSON data view.

Every table is read through the same scoped selectors as the page. Text cells that a
spreadsheet would run as a formula (= + - @, tab, CR) are neutralised with a leading '.

Order lines can be many: they are counted first (lines.order_lines_plan), so an Excel
export past a sheet's rows is refused before any line is read, then streamed span by span
in record batches, CSV written column by column (csv_batches) and Excel as it is written
(xlsx_stream). Closing the response (the client went away) closes the read in progress.
"""

import csv
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from itertools import islice

import pyarrow as pa
from django.http import HttpResponse, JsonResponse, StreamingHttpResponse

from apps.accounts.access import Scope
from apps.reports import selectors
from apps.reports.csv_batches import csv_batch
from apps.reports.filters import ReportFilter
from apps.reports.lines import EXPORT_SCHEMA, order_lines_batches, order_lines_plan
from apps.reports.xlsx_stream import MAX_ROWS, xlsx_stream

DATASETS = {
    "kpis": "Key figures",
    "over_time": "Revenue over time",
    "by_country": "Revenue by country",
    "by_shop": "Revenue by shop",
    "products": "Top products",
    "categories": "Revenue by category",
    "lines": "Order lines",
}
FORMATS = ("csv", "xlsx", "json")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
BREAKDOWN_COLUMNS = {
    "over_time": ("period", "country_code", "revenue", "orders", "units"),
    "by_country": ("country_code", "revenue", "orders", "units"),
    "by_shop": ("store_id", "country_code", "revenue", "orders", "units"),
    "products": ("product_id", "product_name", "revenue", "orders", "units"),
    "categories": ("category", "revenue", "orders", "units"),
}
KPI_COLUMNS = ("metric", "current", "previous")
JSON_MAX_ROWS = 10_000
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class ExportRefused(Exception):
    """An export not started, with the sentence the viewer reads."""


def neutralise(value):
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def dataset_table(*, scope: Scope, report: ReportFilter, name: str) -> tuple[tuple[str, ...], Iterator[list]]:
    """The header and the rows of one figures dataset (not the lines), within the scope and the filter."""
    if name == "kpis":
        figures = selectors.kpi_figures(scope=scope, report=report)
        current, previous = figures["current"], figures["previous"]
        return KPI_COLUMNS, iter([[key, current[key], previous[key]] for key in current])
    columns = BREAKDOWN_COLUMNS[name]
    rows = getattr(selectors.sales_breakdown(scope=scope, report=report), name)
    return columns, iter([[row[c] for c in columns] for row in rows])


def export_response(*, scope: Scope, report: ReportFilter, name: str, fmt: str, filename: str) -> HttpResponse:
    """The export's response; ExportRefused when it would not fit its format."""
    if name == "lines":
        return _lines_response(scope=scope, report=report, fmt=fmt, filename=filename)
    columns, rows = dataset_table(scope=scope, report=report, name=name)
    if fmt == "json":
        return _json_response(columns, rows)
    if fmt == "csv":
        return csv_response(columns, rows, filename=filename)
    return xlsx_response(columns, [rows], filename=filename, title=DATASETS[name])


def _lines_response(*, scope: Scope, report: ReportFilter, fmt: str, filename: str) -> HttpResponse:
    plan = order_lines_plan(scope=scope, report=report)
    if fmt == "xlsx" and plan.count > MAX_ROWS - 1:
        raise ExportRefused(
            f"These filters select {plan.count:,} order lines; an Excel sheet holds {MAX_ROWS - 1:,} below its "
            "header. Narrow the dates or the filters, or download the CSV, which has no such limit."
        )
    batches = order_lines_batches(plan)
    if fmt == "json":
        rows = (list(row.values()) for batch in batches for row in batch.to_pylist())
        try:
            return _json_response(EXPORT_SCHEMA.names, rows)
        finally:
            batches.close()
    if fmt == "csv":
        return _streamed(_csv_lines(batches), batches, content_type="text/csv; charset=utf-8", filename=filename)
    blocks = ([list(row.values()) for row in batch.to_pylist()] for batch in batches)
    body = xlsx_stream(EXPORT_SCHEMA.names, blocks, title=DATASETS["lines"], neutralise=neutralise)
    return _streamed(body, batches, content_type=XLSX_TYPE, filename=filename)


def _csv_lines(batches: Iterable[pa.RecordBatch]) -> Iterator[bytes]:
    yield ("\ufeff" + csv.writer(_Echo()).writerow(EXPORT_SCHEMA.names)).encode()
    for batch in batches:
        yield csv_batch(batch)


def _streamed(body: Iterator[bytes], batches, *, content_type: str, filename: str) -> StreamingHttpResponse:
    def chunks() -> Iterator[bytes]:
        try:
            yield from body
        finally:  # the response was closed, read to the end or not: stop reading lines
            body.close()
            batches.close()

    response = StreamingHttpResponse(chunks(), content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _json_response(columns: Iterable[str], rows: Iterator[list]) -> JsonResponse:
    data = list(islice(rows, JSON_MAX_ROWS + 1))
    body = {"columns": list(columns), "rows": data[:JSON_MAX_ROWS], "truncated": len(data) > JSON_MAX_ROWS}
    return JsonResponse(body)


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


def xlsx_response(
    columns: Iterable[str], blocks: Iterable[Iterable[list]], *, filename: str, title: str
) -> StreamingHttpResponse:
    body = xlsx_stream(columns, blocks, title=title, neutralise=neutralise)
    response = StreamingHttpResponse(body, content_type=XLSX_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
