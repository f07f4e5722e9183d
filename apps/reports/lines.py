"""The last drill-down level: order lines, each with its lineage (upload, file, row).

A page of lines is read from the filter's listing by the backend (BigQuery: the query's
result table, read from the page's first row with list_rows; DuckDB: LIMIT/OFFSET). An
export of every line of a filter is planned first: one cheap read counts the lines of each
day (the export's size, known before any line is read), then the lines are read newest
first in spans of days holding at most SPAN_LINES lines, each span sorted on its own. No
read sorts the whole scope, so an export of any size holds one span at a time, and stops
between spans when its reader does.
"""

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date

import pyarrow as pa
import pyarrow.compute as pc
from django.urls import reverse

from apps.accounts.access import Scope
from apps.reports.filters import ReportFilter
from apps.reports.query import Measure, read_batches, read_page, read_table, report_read
from apps.uploads.models import Upload
from apps.warehouse.fact import FACT_SCHEMA

PAGE_ROWS = 100
# The most lines one export read sorts (a day holding more is read alone), and the rows of
# each record batch handed on: what an export holds at once.
SPAN_LINES = 200_000
BATCH_ROWS = 10_000
LINE_COLUMNS = (
    "order_date",
    "order_id",
    "country_code",
    "store_id",
    "product_id",
    "product_name",
    "category",
    "quantity",
    "unit_price",
    "currency",
    "revenue",
    "revenue_reporting",
    "is_return",
    "customer_id",
    "upload_id",
    "source_row",
)
# A total order (upload and row are unique), newest first: a page of the listing must hold
# the same lines on both engines (the seam places NULLs explicitly, last).
LINE_ORDER = ("-order_date", "store_id", "order_id", "upload_id", "source_row")
# Lines come back typed as the fact table (BigQuery's NUMERIC has 9 decimals, not 4).
LINE_SCHEMA = pa.schema([FACT_SCHEMA.field(name) for name in LINE_COLUMNS])
# An export's lines carry the name of the file each came from.
EXPORT_SCHEMA = LINE_SCHEMA.append(pa.field("file_name", pa.string()))


@dataclass(frozen=True)
class LinesPage:
    """A page of the filter's lines (newest first): its number (the last when the one asked
    for is past it), its rows, whether a next page exists, and the lines in all."""

    page: int
    rows: list[dict]
    more: bool
    total: int


def order_lines_page(*, scope: Scope, report: ReportFilter, page: int) -> LinesPage:
    """One page of lines (newest first); a page past the last is the last. One warehouse
    read (BigQuery: one query, then its result table paged); two when the page asked for is
    past the last, which the first read's count tells."""
    read = report_read(scope=scope, report=report, columns=LINE_COLUMNS, order_by=LINE_ORDER)
    page = max(page, 1)
    found = read_page(read, start=(page - 1) * PAGE_ROWS, size=PAGE_ROWS)
    last = max(math.ceil(found.total / PAGE_ROWS), 1)
    if page > last:
        page, found = last, read_page(read, start=(last - 1) * PAGE_ROWS, size=PAGE_ROWS)
    rows = found.rows.cast(LINE_SCHEMA).to_pylist()
    lineage = upload_lineage(scope=scope, upload_ids={r["upload_id"] for r in rows})
    for row in rows:
        row["file_name"], row["upload_url"] = lineage.get(row["upload_id"], ("", ""))
    return LinesPage(page=page, rows=rows, more=page < last, total=found.total)


@dataclass(frozen=True)
class LinesPlan:
    """The lines of a filter, counted per day (newest first), before any line is read."""

    scope: Scope
    report: ReportFilter
    days: tuple[tuple[date, int], ...]

    @property
    def count(self) -> int:
        return sum(lines for _, lines in self.days)

    def spans(self, most: int | None = None) -> list[tuple[date, date]]:
        """Runs of consecutive days (first, last), newest first, of at most `most` lines
        each (SPAN_LINES); a day holding more is a span of its own."""
        most = most or SPAN_LINES
        spans: list[tuple[date, date]] = []
        first = last = None
        held = 0
        for day, lines in self.days:
            if last is not None and held + lines > most:
                spans.append((first, last))
                last = None
            if last is None:
                last, held = day, 0
            first, held = day, held + lines
        if last is not None:
            spans.append((first, last))
        return spans


def order_lines_plan(*, scope: Scope, report: ReportFilter) -> LinesPlan:
    """Count the filter's lines per day: one scan of few columns, no line read."""
    read = report_read(scope=scope, report=report, measures=(Measure("lines", "count"),), group_by=("order_date",))
    table = read_table(read)
    days = zip(table.column("order_date").to_pylist(), table.column("lines").to_pylist(), strict=True)
    return LinesPlan(scope=scope, report=report, days=tuple(sorted(days, reverse=True)))


def order_lines_batches(plan: LinesPlan) -> Iterator[pa.RecordBatch]:
    """Every line of the plan in record batches (EXPORT_SCHEMA), newest first, span by span.
    Closing the iterator closes the read in progress: nothing more is read."""
    names: dict[str, str] = {}  # upload id -> file name, of the uploads the viewer may open
    seen: set[str] = set()
    for first, last in plan.spans():
        read = report_read(
            scope=plan.scope, report=plan.report, columns=LINE_COLUMNS, order_by=LINE_ORDER, dates=(first, last)
        )
        batches = read_batches(read, batch_rows=BATCH_ROWS)
        try:
            for batch in batches:
                batch = batch.cast(LINE_SCHEMA)
                ids = batch.column("upload_id")
                new_ids = set(pc.unique(ids).drop_null().to_pylist()) - seen
                seen |= new_ids
                names |= {i: name for i, (name, _) in upload_lineage(scope=plan.scope, upload_ids=new_ids).items()}
                found = pc.index_in(ids, value_set=pa.array(list(names), pa.string()))
                file_names = pc.fill_null(pc.take(pa.array(list(names.values()), pa.string()), found), "")
                yield pa.RecordBatch.from_arrays([*batch.columns, file_names], schema=EXPORT_SCHEMA)
        finally:
            batches.close()


def order_lines_stream(*, scope: Scope, report: ReportFilter) -> Iterator[dict]:
    """Every line of the filter with its file's name, newest first, as dicts."""
    batches = order_lines_batches(order_lines_plan(scope=scope, report=report))
    try:
        for batch in batches:
            yield from batch.to_pylist()
    finally:
        batches.close()


def upload_lineage(*, scope: Scope, upload_ids: Iterable[str]) -> dict[str, tuple[str, str]]:
    """File name and status page of each upload the viewer may open (others stay unnamed)."""
    ids = [i for i in upload_ids if i]
    uploads = scope.filter_uploads(Upload.objects.filter(id__in=ids)).values_list("id", "original_name")
    return {str(pk): (name, reverse("uploads:detail", args=[pk])) for pk, name in uploads}
