"""BigQuery reads for the report pages: a page of lines read from the query's result table
(list_rows from a start index), not the query run again with OFFSET per page; exports
streamed through the BigQuery Storage Read API, with the REST API when it is unavailable.

The pages run against the local-bigquery emulator with the real google-cloud-bigquery
client. The emulator serves the REST API only: the Storage Read API's gRPC service cannot
run here, so the test of the Storage path replaces that one service (BigQueryReadClient)
with a stand-in that serves the result's rows as Google's would, and says so.
"""

import uuid

import pyarrow as pa
import pytest
from google.api_core import exceptions as gexc

from apps.warehouse.fact import FACT_TABLE, MASTER_VIEW, ViewSpec
from apps.warehouse.services import warehouse
from tests.warehouse.factories import fact_rows

pytestmark = pytest.mark.integration
VIEWS = [ViewSpec("USA_Sales_View", "US"), ViewSpec(MASTER_VIEW)]
LISTING = (
    f'SELECT upload_id, source_row FROM "{FACT_TABLE}" WHERE order_date BETWEEN $first AND $last '
    "ORDER BY source_row DESC NULLS LAST, upload_id NULLS LAST"
)


@pytest.fixture
def loaded(bigquery):
    wh = warehouse()
    wh.ensure_schema(views=VIEWS)
    upload = str(uuid.uuid4())
    wh.replace_batch(upload_id=upload, table=fact_rows(upload, 25))
    return wh


def _params():
    import datetime as dt

    return {"first": dt.date(2024, 1, 1), "last": dt.date(2024, 1, 31)}


def test_pages_are_read_from_the_result_table_without_running_the_query_again(loaded, monkeypatch):
    wh, jobs = loaded, []
    client = wh.client()
    run = client.query
    monkeypatch.setattr(client, "query", lambda *a, **k: jobs.append(a[0]) or run(*a, **k))

    first = wh.query_page(LISTING, _params(), start=0, size=10)
    second = wh.query_page(LISTING, _params(), start=10, size=10, result=first.result)
    last = wh.query_page(LISTING, _params(), start=20, size=10, result=first.result)

    assert len(jobs) == 1  # one query job; the other pages are list_rows of its table
    assert first.result and second.result == first.result
    assert (first.total, second.total, last.total) == (25, 25, 25)
    rows = [r["source_row"] for page in (first, second, last) for r in page.rows.to_pylist()]
    assert rows == list(range(25, 0, -1))  # in the query's order, each row once


def test_a_result_table_that_is_gone_runs_the_query_again(loaded):
    wh = loaded
    first = wh.query_page(LISTING, _params(), start=0, size=10)
    wh.client().delete_table(first.result)

    again = wh.query_page(LISTING, _params(), start=10, size=10, result=first.result)

    assert again.result and again.result != first.result
    assert [r["source_row"] for r in again.rows.to_pylist()] == list(range(15, 5, -1))


def test_an_export_reads_over_rest_when_the_storage_api_is_unavailable(loaded):
    wh = loaded
    assert wh.read_client() is None  # an emulator serves no Storage Read API

    batches = list(wh.query_batches(LISTING, _params(), batch_rows=10))

    assert [b.num_rows for b in batches] == [10, 10, 5]
    assert pa.Table.from_batches(batches)["source_row"].to_pylist() == list(range(25, 0, -1))


class StorageStandIn:
    """Stands in for google.cloud.bigquery_storage.BigQueryReadClient, the gRPC service the
    emulator does not serve (mocked for that reason only): the client library asks it for a
    read session over the result table and reads its stream; here the rows come from the
    emulator's REST API, so they are the result's own. `refuse` answers as Google does when
    the API is not enabled for the project."""

    def __init__(self, warehouse_, *, refuse: bool = False) -> None:
        self.warehouse, self.refuse, self.sessions = warehouse_, refuse, []

    def create_read_session(self, *, parent, read_session, max_stream_count, **kwargs):
        if self.refuse:
            raise gexc.PermissionDenied("BigQuery Storage API has not been used in project test or it is disabled")
        self.sessions.append((read_session.table, max_stream_count))
        return _Session(read_session.table)

    def read_rows(self, name, **kwargs):
        parts = name.split("/")  # projects/p/datasets/d/tables/t
        table = self.warehouse.client().list_rows(f"{parts[1]}.{parts[3]}.{parts[5]}").to_arrow()
        return _Stream(table)


class _Session:
    def __init__(self, table: str) -> None:
        self.name = table
        self.streams = [type("S", (), {"name": table})()]
        self.arrow_schema = type("A", (), {"serialized_schema": b""})()
        self.avro_schema = None
        self.data_format = None


class _Stream:
    def __init__(self, table: pa.Table) -> None:
        self.table = table

    def rows(self, *args, **kwargs):
        return self

    def to_arrow(self, *args, **kwargs):
        return self.table

    @property
    def pages(self):
        return [_Page(batch) for batch in self.table.to_batches(max_chunksize=7)]


class _Page:
    def __init__(self, batch: pa.RecordBatch) -> None:
        self.batch = batch

    def to_arrow(self) -> pa.RecordBatch:
        return self.batch


def test_an_export_takes_the_storage_read_api_when_it_is_available(loaded, monkeypatch):
    wh = loaded
    stand_in = StorageStandIn(wh)
    monkeypatch.setattr(wh, "read_client", lambda: stand_in)
    monkeypatch.setattr("google.cloud.bigquery.table.RowIterator._is_almost_completely_cached", lambda self: False)

    batches = list(wh.query_batches(LISTING, _params(), batch_rows=10))

    assert len(stand_in.sessions) == 1
    table, streams = stand_in.sessions[0]
    assert table.startswith(f"projects/{wh.project}/datasets/")  # the query's result table
    assert streams == 1  # the query has an ORDER BY: one stream keeps the order
    assert pa.Table.from_batches(batches)["source_row"].to_pylist() == list(range(25, 0, -1))


def test_an_export_falls_back_to_rest_when_the_storage_api_refuses(loaded, monkeypatch):
    wh = loaded
    monkeypatch.setattr(wh, "read_client", lambda: None if wh.storage_unavailable else StorageStandIn(wh, refuse=True))
    monkeypatch.setattr("google.cloud.bigquery.table.RowIterator._is_almost_completely_cached", lambda self: False)

    batches = list(wh.query_batches(LISTING, _params(), batch_rows=10))

    assert wh.storage_unavailable  # not asked again by this process
    assert pa.Table.from_batches(batches)["source_row"].to_pylist() == list(range(25, 0, -1))


def test_the_lines_page_runs_its_query_once_for_every_page_of_a_filter(bigquery, cast, monkeypatch):
    """Through the report seam: page 1 runs the query; page 2 and a page past the last read
    its result table (the table kept in the cache under the warehouse's version); a load in
    between runs it again."""
    from apps.accounts.access import scope_for
    from apps.reports import lines
    from apps.reports.filters import ReportFilter
    from apps.warehouse.services import warehouse_version_bump
    from tests.reports.facts import FIRST_DAY, LAST_DAY, load_facts

    load_facts(["US-NYC", "UK-LON"])
    monkeypatch.setattr(lines, "PAGE_ROWS", 50)  # 172 lines of UK-LON: 4 pages
    client, jobs = warehouse().client(), []
    run = client.query
    monkeypatch.setattr(client, "query", lambda *a, **k: jobs.append(a[0]) or run(*a, **k))
    scope, report = scope_for(cast["head_uk"]), ReportFilter(start=FIRST_DAY, end=LAST_DAY)

    first = lines.order_lines_page(scope=scope, report=report, page=1)
    second = lines.order_lines_page(scope=scope, report=report, page=2)
    past = lines.order_lines_page(scope=scope, report=report, page=999)

    assert len(jobs) == 1
    assert first.total == second.total == past.total > 2 * lines.PAGE_ROWS
    assert {r["store_id"] for r in first.rows + second.rows} == {"UK-LON"}
    assert first.rows[-1]["order_date"] >= second.rows[0]["order_date"]
    assert past.page == -(-first.total // lines.PAGE_ROWS) and not past.more and past.rows

    warehouse_version_bump()
    lines.order_lines_page(scope=scope, report=report, page=2)
    assert len(jobs) == 2
