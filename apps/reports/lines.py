"""The last drill-down level: order lines, each with its lineage (upload, file, row)."""

from collections.abc import Iterable, Iterator

import pyarrow as pa
from django.urls import reverse

from apps.accounts.access import Scope
from apps.reports.filters import ReportFilter
from apps.reports.query import Read, read_batches, read_table, report_read
from apps.uploads.models import Upload
from apps.warehouse.fact import FACT_SCHEMA

PAGE_ROWS = 100
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
# A total order (upload and row are unique), newest first: a page cut by LIMIT must hold
# the same lines on both engines (the seam places NULLs explicitly, last).
LINE_ORDER = ("-order_date", "store_id", "order_id", "upload_id", "source_row")
# Lines come back typed as the fact table (BigQuery's NUMERIC has 9 decimals, not 4).
LINE_SCHEMA = pa.schema([FACT_SCHEMA.field(name) for name in LINE_COLUMNS])


def _read(*, scope: Scope, report: ReportFilter, page: int | None = None) -> Read:
    """The filter's lines in order; one page of them (and one line more) when `page` is given."""
    if page is None:
        return report_read(scope=scope, report=report, columns=LINE_COLUMNS, order_by=LINE_ORDER)
    offset = max(page - 1, 0) * PAGE_ROWS
    return report_read(
        scope=scope, report=report, columns=LINE_COLUMNS, order_by=LINE_ORDER, limit=PAGE_ROWS + 1, offset=offset
    )


def order_lines_page(*, scope: Scope, report: ReportFilter, page: int) -> tuple[list[dict], bool]:
    """One page of lines (newest first) and whether there is a next page."""
    rows = read_table(_read(scope=scope, report=report, page=page)).cast(LINE_SCHEMA).to_pylist()
    more = len(rows) > PAGE_ROWS
    rows = rows[:PAGE_ROWS]
    lineage = upload_lineage(scope=scope, upload_ids={r["upload_id"] for r in rows})
    for row in rows:
        row["file_name"], row["upload_url"] = lineage.get(row["upload_id"], ("", ""))
    return rows, more


def order_lines_stream(*, scope: Scope, report: ReportFilter) -> Iterator[dict]:
    """Every line of the filter, in record batches: for streamed exports."""
    lineage: dict[str, tuple[str, str]] = {}
    for batch in read_batches(_read(scope=scope, report=report)):
        rows = batch.cast(LINE_SCHEMA).to_pylist()
        new_ids = {r["upload_id"] for r in rows} - lineage.keys()
        lineage.update(upload_lineage(scope=scope, upload_ids=new_ids))
        for row in rows:
            row["file_name"] = lineage.get(row["upload_id"], ("", ""))[0]
            yield row


def upload_lineage(*, scope: Scope, upload_ids: Iterable[str]) -> dict[str, tuple[str, str]]:
    """File name and status page of each upload the viewer may open (others stay unnamed)."""
    ids = [i for i in upload_ids if i]
    uploads = scope.filter_uploads(Upload.objects.filter(id__in=ids)).values_list("id", "original_name")
    return {str(pk): (name, reverse("uploads:detail", args=[pk])) for pk, name in uploads}
