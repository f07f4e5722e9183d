"""The last drill-down level: order lines, each with its lineage (upload, file, row)."""

from collections.abc import Iterable, Iterator

import pyarrow as pa
from django.urls import reverse

from apps.accounts.access import Scope
from apps.reports.filters import ReportFilter, filter_where
from apps.uploads.models import Upload
from apps.warehouse.fact import FACT_SCHEMA
from apps.warehouse.services import warehouse

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
# A total order (upload and row are unique), NULLs placed explicitly: the engines' defaults
# differ, and a page cut by LIMIT must hold the same lines on both.
ORDER_BY = "order_date DESC NULLS LAST, store_id NULLS LAST, order_id NULLS LAST, upload_id, source_row"
# Lines come back typed as the fact table (BigQuery's NUMERIC has 9 decimals, not 4).
LINE_SCHEMA = pa.schema([FACT_SCHEMA.field(name) for name in LINE_COLUMNS])


def _sql(scope: Scope, report: ReportFilter) -> tuple[str, dict]:
    where, params = filter_where(scope, report)
    columns = ", ".join(LINE_COLUMNS)
    return f'SELECT {columns} FROM "{report.view}" WHERE {where} ORDER BY {ORDER_BY}', params


def order_lines_page(*, scope: Scope, report: ReportFilter, page: int) -> tuple[list[dict], bool]:
    """One page of lines (newest first) and whether there is a next page."""
    sql, params = _sql(scope, report)
    params.update(l_limit=PAGE_ROWS + 1, l_offset=max(page - 1, 0) * PAGE_ROWS)
    rows = warehouse().query(f"{sql} LIMIT $l_limit OFFSET $l_offset", params).cast(LINE_SCHEMA).to_pylist()
    more = len(rows) > PAGE_ROWS
    rows = rows[:PAGE_ROWS]
    lineage = upload_lineage(scope=scope, upload_ids={r["upload_id"] for r in rows})
    for row in rows:
        row["file_name"], row["upload_url"] = lineage.get(row["upload_id"], ("", ""))
    return rows, more


def order_lines_stream(*, scope: Scope, report: ReportFilter) -> Iterator[dict]:
    """Every line of the filter, in record batches: for streamed exports."""
    sql, params = _sql(scope, report)
    lineage: dict[str, tuple[str, str]] = {}
    for batch in warehouse().query_batches(sql, params):
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
