"""Exports with a bounded cost (issue 17, point 2): the web process's warehouse reader has a
memory limit and spills under DATA_DIR; order-line exports are counted first and streamed
span by span (an Excel export past a sheet's rows is refused before a line is read, a
closed response stops the reads, 1.5M lines grow the process by less than 300 MB); and
each person may start only so many exports."""

import csv
import io
import time
import uuid
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from deltalake import write_deltalake
from django.test import Client
from django.urls import reverse

from apps.accounts.models import Shop
from apps.reports import lines
from apps.uploads.models import Upload
from apps.warehouse.fact import FACT_SCHEMA
from apps.warehouse.services import warehouse
from tests.reports.facts import facts, facts_recorded  # noqa: F401 (fixture)

LINES_CSV = reverse("reports:export", args=["lines", "csv"])
LINES_XLSX = reverse("reports:export", args=["lines", "xlsx"])
PERIOD = "preset=custom&start=2011-09-01&end=2011-12-09"
WIDE = "preset=custom&start=2010-01-01&end=2011-12-31"


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _vm(field: str) -> int:
    """VmRSS or VmHWM of this process, in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(field)


def _many_lines(shop_code: str, rows: int, *, last_day: date = date(2011, 12, 31), days: int = 365) -> None:
    """`rows` fact rows of one shop over `days` days, written straight into the Delta table."""
    shop = Shop.objects.select_related("region").get(code=shop_code)
    upload = Upload.objects.create(
        id=uuid.uuid4(), shop=shop, original_name="big.csv", raw_path="raw/big.csv", sha256="0" * 64,
        status=Upload.Status.LOADED,
    )  # fmt: skip
    n = pa.array(np.arange(rows))
    money = pa.array([Decimal("2.5")], FACT_SCHEMA.field("revenue").type).take(pa.array(np.zeros(rows, dtype=np.int64)))
    first = np.datetime64(last_day - timedelta(days=days - 1))
    order_dates = first + (np.arange(rows) * days // rows).astype("timedelta64[D]")
    product = np.arange(rows) % 4000
    text = lambda prefix, numbers: pa.array(np.char.add(prefix, numbers.astype(str)))  # noqa: E731
    columns = {
        "upload_id": pa.array([str(upload.id)] * rows),
        "source_row": n,
        "order_id": text(f"{shop.code}-", np.arange(rows) // 3),
        "order_date": pa.array(order_dates.astype("datetime64[D]")),
        "order_ts": pa.nulls(rows, pa.timestamp("us")),
        "country_code": pa.array([shop.region.country_code] * rows),
        "store_id": pa.array([shop.code] * rows),
        "product_id": text("P", product),
        "product_name": text('A product, "quoted", number ', product),
        "category": text("Category ", product % 20),
        "quantity": pa.array([1] * rows, pa.int64()),
        "unit_price": money,
        "currency": pa.array([shop.region.currency] * rows),
        "revenue": money,
        "revenue_reporting": money,
        "customer_id": text("C", np.arange(rows) % 5000),
        "is_return": pa.array([False] * rows),
        "loaded_at": pa.nulls(rows, pa.timestamp("us", tz="UTC")),
        "line_key": pa.nulls(rows, pa.string()),
    }
    table = pa.table({name: columns[name].cast(FACT_SCHEMA.field(name).type) for name in FACT_SCHEMA.names})
    write_deltalake(warehouse().table_uri, table, mode="append")
    facts_recorded(str(upload.id), table)


class ReadSpy:
    """Counts the rows the warehouse hands to report reads, and the reads still open."""

    def __init__(self, monkeypatch) -> None:
        self.rows = 0
        self.open = 0
        self.reads = 0
        backend = warehouse()
        original = backend.query_batches

        def query_batches(sql, params=None, **kwargs):
            self.reads += 1
            self.open += 1
            try:
                for batch in original(sql, params, **kwargs):
                    self.rows += batch.num_rows
                    yield batch
            finally:
                self.open -= 1

        monkeypatch.setattr(backend, "query_batches", query_batches)


def test_the_web_processs_warehouse_reader_has_a_memory_limit_and_spills_under_data_dir(settings, cast):
    settings.WAREHOUSE_READER_MEMORY_LIMIT = "64MB"
    reader = warehouse()._reader()
    limit, spill = reader.sql("SELECT current_setting('memory_limit'), current_setting('temp_directory')").fetchall()[0]
    assert limit == "61.0 MiB"  # DuckDB's own reading of 64MB
    assert Path(spill).parent == Path(settings.TEMP_DIR) / "warehouse-reader"

    # A sort four times the limit completes, and its spill files are in that folder meanwhile.
    cursor = reader.cursor()
    result = cursor.sql("SELECT i, md5(i::VARCHAR) AS h FROM range(3000000) t(i) ORDER BY h").to_arrow_reader(1000)
    first = result.read_next_batch()
    spilled = [p for (p,) in reader.cursor().sql("SELECT path FROM duckdb_temporary_files()").fetchall()]
    rows = first.num_rows + sum(batch.num_rows for batch in result)
    cursor.close()
    assert rows == 3_000_000
    assert spilled and all(Path(p).parent == Path(spill) for p in spilled), spilled


def test_an_excel_export_past_a_sheets_rows_is_refused_at_once_before_a_line_is_read(cast, monkeypatch):
    _many_lines("US-NYC", 1_048_576)  # with the header row, one more than a sheet holds
    spy = ReadSpy(monkeypatch)
    client = _client(cast["head_us"])

    started = time.perf_counter()
    response = client.get(f"{LINES_XLSX}?{WIDE}")
    seconds = time.perf_counter() - started

    assert response.status_code == 400
    text = response.content.decode()
    assert "1,048,576 order lines" in text and "1,048,575" in text
    assert f'href="{LINES_CSV}?' in text  # the CSV of the same filter instead
    assert spy.reads == 0 and spy.rows == 0
    assert seconds < 5, seconds
    # Without the last day's lines it fits, and is streamed.
    response = client.get(f"{LINES_XLSX}?{WIDE.replace('2011-12-31', '2011-12-30')}")
    assert response.status_code == 200 and response.streaming
    response.close()


@pytest.mark.usefixtures("facts")
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_a_client_that_goes_away_stops_the_export_reading_the_warehouse(cast, monkeypatch, fmt):
    monkeypatch.setattr(lines, "SPAN_LINES", 100)
    monkeypatch.setattr(lines, "BATCH_ROWS", 50)
    total = lines.order_lines_plan(scope=_scope(cast["admin"]), report=_report(PERIOD)).count
    assert total > 1000
    spy = ReadSpy(monkeypatch)

    response = _client(cast["admin"]).get(f"{reverse('reports:export', args=['lines', fmt])}?{PERIOD}")
    chunks = iter(response.streaming_content)
    next(chunks), next(chunks)  # the client reads the start, then hangs up: the server closes the response
    response.close()

    assert spy.rows < total / 4, (spy.rows, total)
    assert spy.open == 0


def test_an_export_streams_every_line_in_the_pages_order_span_by_span(cast, monkeypatch):
    from tests.reports.facts import load_facts

    load_facts()
    monkeypatch.setattr(lines, "SPAN_LINES", 20)
    monkeypatch.setattr(lines, "BATCH_ROWS", 7)
    scope, report = _scope(cast["head_uk"]), _report(PERIOD)
    plan = lines.order_lines_plan(scope=scope, report=report)
    assert len(plan.spans()) > 10
    assert all(first <= last for first, last in plan.spans())

    body = b"".join(_client(cast["head_uk"]).get(f"{LINES_CSV}?{PERIOD}").streaming_content).decode("utf-8-sig")
    rows = csv.DictReader(io.StringIO(body))
    exported = [(r["order_date"], r["store_id"], r["order_id"], r["source_row"]) for r in rows]

    paged, page = [], 1
    while True:
        found = lines.order_lines_page(scope=scope, report=report, page=page)
        paged += [(r["order_date"].isoformat(), r["store_id"], r["order_id"], str(r["source_row"])) for r in found.rows]
        if not found.more:
            break
        page += 1
    assert exported == paged
    assert len(exported) == plan.count


def test_a_csv_export_of_2_million_lines_holds_one_span_at_a_time(cast, settings):
    """The issue's bar is 300 MB of growth for any size. Sorting the whole scope at once
    grew this process by 284-292 MB for 1.6-2M of these lines (and the web process by
    367-417 MB in bench/exports_bench.py); a span at a time holds 40-50 MB whatever the
    size, so 150 MB is the bound checked here."""
    settings.WAREHOUSE_READER_MEMORY_LIMIT = "256MB"
    _many_lines("UK-LON", 2_000_000, days=700)
    client = _client(cast["admin"])
    client.get(f"{reverse('reports:master')}?{WIDE}")  # warm: the reader, the templates
    before = _vm("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS

    response = client.get(f"{LINES_CSV}?{WIDE}")
    count = size = 0
    for chunk in response.streaming_content:
        count += chunk.count(b"\n")
        size += len(chunk)

    growth_mb = (_vm("VmHWM") - before) / 1024
    assert count == 2_000_001  # the header and every line
    assert growth_mb < 150, f"{growth_mb:.0f} MB for {size / 1e6:.0f} MB of CSV"


@pytest.mark.usefixtures("facts")
def test_each_person_may_start_only_so_many_exports(cast, settings):
    settings.REPORT_LINE_EXPORTS_PER_WINDOW = 2
    settings.REPORT_EXPORTS_PER_WINDOW = 4
    head, other = _client(cast["head_uk"]), _client(cast["head_us"])
    lines_url = f"{LINES_CSV}?{PERIOD}"
    kpis_url = f"{reverse('reports:export', args=['kpis', 'csv'])}?{PERIOD}"

    assert [head.get(lines_url).status_code for _ in range(2)] == [200, 200]
    refused = head.get(lines_url)
    assert refused.status_code == 429
    assert "2 order-line exports" in refused.content.decode()
    assert 0 < int(refused["Retry-After"]) <= settings.REPORT_EXPORT_WINDOW
    # Figures still export, up to the limit on every export; then nothing does.
    assert [head.get(kpis_url).status_code for _ in range(3)] == [200, 200, 429]
    assert "4 exports" in head.get(kpis_url).content.decode()
    # A script asking for data gets the reason as data.
    refused = head.get(f"{reverse('reports:export', args=['kpis', 'json'])}?{PERIOD}")
    assert refused.status_code == 429 and "4 exports" in refused.json()["error"]
    # Another person is not held back.
    assert other.get(lines_url).status_code == 200


def _scope(user):
    from apps.accounts.access import scope_for

    return scope_for(user)


def _report(query: str):
    from django.http import QueryDict

    from apps.reports.filters import DataDays, report_filter_parse

    parsed = report_filter_parse(QueryDict(query), scope_shops=frozenset())
    return parsed.resolve(days=DataDays(), today=date(2026, 1, 1), shop_has_rows=False)
