"""pipeline_run end to end: each cleaning rule counted in the report, rows accounted for."""

from datetime import date
from decimal import Decimal

from apps.etl.models import FxRate, SalesSchema
from apps.uploads.models import Upload
from apps.uploads.run import pipeline_run
from apps.warehouse.services import warehouse
from tests.factories import upload_of


def run_file(cast, shop_code: str, path, **kwargs) -> Upload:
    manager = {"US": "mgr_us_nyc", "UK": "mgr_uk_lon", "FR": "mgr_fr_par", "AU": "mgr_au_syd"}[shop_code[:2]]
    return pipeline_run(upload_id=upload_of(cast[manager], shop_code, path).id, **kwargs)


def query(sql: str, params=None) -> list[tuple]:
    table = warehouse().query(sql, params)
    return [tuple(r.values()) for r in table.to_pylist()]


def _accounted(upload: Upload) -> bool:
    return upload.rows_read == upload.rows_loaded + upload.rows_rejected + upload.rows_dropped


def test_duplicates_are_dropped_counted_and_reported(cast, sample):
    upload = run_file(cast, "FR-PAR", sample("bernasiakk_france_slice.csv"))

    assert upload.status == Upload.Status.LOADED
    assert (upload.rows_read, upload.rows_dropped) == (200, 2)
    assert _accounted(upload)
    assert upload.report["rules"]["duplicates_dropped"] == 2
    assert upload.report["counts"] == {
        "read": 200,
        "loaded": 198,
        "rejected": 0,
        "duplicates_dropped": 2,
        "totals_dropped": 0,
    }
    assert query('SELECT count(*) FROM "France_Sales_View"') == [(198,)]


def test_unknown_countries_are_rejected_with_the_reason_and_the_rest_loaded(cast, sample):
    upload = run_file(cast, "UK-LON", sample("online_retail_sample_vikash_head.csv"))

    assert upload.status == Upload.Status.LOADED_WITH_ERRORS
    assert upload.report["errors_by_reason"]["unknown country"] == 3
    assert _accounted(upload)
    assert upload.report["date_order"] == "DMY"
    rules = upload.report["rules"]
    assert rules["countries_from_file"] == upload.rows_loaded
    assert rules["cells_trimmed"] > 0  # Online Retail descriptions carry stray spaces
    # `16764.0` is the id 16764, and "United Kingdom" is GB.
    assert query("""SELECT customer_id, country_code FROM "orders-cleaned" WHERE source_row = 2""") == [("16764", "GB")]


def test_returns_are_kept_and_flagged(cast, sample):
    upload = run_file(cast, "US-NYC", sample("bernasiakk_usa.csv"))

    assert upload.report["rules"]["returns_flagged"] == 112
    assert query('SELECT count(*), sum(quantity) < 0 FROM "orders-cleaned" WHERE is_return AND quantity < 0') == [
        (112, True)
    ]


def test_the_other_schema_loads_through_aliases_alone(cast, sample):
    upload = run_file(cast, "US-NYC", sample("sales_data_sample_head.csv"))

    assert upload.status == Upload.Status.LOADED, upload.message
    assert upload.report["file"]["header_row"] == "2"
    assert upload.report["mapping"]["order_id"] == "ORDERNUMBER"
    assert "SALES" in upload.report["unmapped"]
    assert query('SELECT count(*) FROM "orders-cleaned"') == [(60,)]


def test_a_workbook_loads_like_its_csv(cast, sample):
    upload = run_file(cast, "UK-LON", sample("online_retail_sample_sfc.xlsx"))

    assert upload.status == Upload.Status.LOADED, upload.message
    assert upload.rows_loaded == 232
    assert upload.report["file"]["sheet"] == "Year 2010-2011"


def test_the_other_schema_saved_as_a_workbook_loads_through_aliases_alone(cast, sample, tmp_path):
    """sales_data_sample as Excel saves it: numbers as numbers, ORDERDATE as a real date cell
    (an Excel serial with a date format), under a title row."""
    import csv
    from datetime import datetime

    from openpyxl import Workbook

    with open(sample("sales_data_sample_head.csv"), newline="") as fh:
        header, *records = [line for line in csv.reader(fh) if line]
    book = Workbook()
    sheet = book.active
    sheet.title = "sales_data_sample"
    sheet.append(["Sales data sample"])
    sheet.append(header)
    numeric = {"ORDERNUMBER", "QUANTITYORDERED", "PRICEEACH", "ORDERLINENUMBER", "SALES", "MSRP"}
    for record in records:
        row = []
        for name, value in zip(header, record, strict=True):
            if name == "ORDERDATE":
                row.append(datetime.strptime(value, "%m/%d/%Y %H:%M"))
            else:
                row.append(float(value) if name in numeric and value else value)
        sheet.append(row)
    path = tmp_path / "sales_data_sample.xlsx"
    book.save(path)

    upload = run_file(cast, "US-NYC", path)

    assert upload.status == Upload.Status.LOADED, upload.message
    assert upload.report["file"]["header_row"] == "2"
    assert upload.report["mapping"]["order_id"] == "ORDERNUMBER"
    dates = [datetime.strptime(r[header.index("ORDERDATE")], "%m/%d/%Y %H:%M").date() for r in records]
    quantity = sum(int(r[header.index("QUANTITYORDERED")]) for r in records)
    assert query('SELECT count(*), min(order_date), max(order_date), sum(quantity) FROM "orders-cleaned"') == [
        (len(records), min(dates), max(dates), quantity)
    ]
    # The order number 10107 (a float cell 10107.0) stays the id 10107.
    assert query("""SELECT order_id FROM "orders-cleaned" WHERE source_row = 3""") == [("10107",)]


def test_too_many_bad_rows_reject_the_whole_file_and_load_nothing(cast, sample, tmp_path):
    SalesSchema.objects.filter(is_active=True).update(max_bad_row_pct=0.5)
    upload = run_file(cast, "UK-LON", sample("online_retail_sample_vikash_head.csv"))

    assert upload.status == Upload.Status.REJECTED
    assert "more than the schema's limit of 0.5%" in upload.message
    assert upload.rows_loaded == 0
    assert query('SELECT count(*) FROM "orders-cleaned"') == [(0,)]


def test_revenue_is_converted_with_the_rate_in_force_for_the_order_month(cast, sample):
    FxRate.objects.create(currency="GBP", quote_currency="USD", month=date(2010, 12, 1), rate=Decimal("2"))
    upload = run_file(cast, "UK-LON", sample("online_retail_sample_sfc.csv"))

    assert upload.status == Upload.Status.LOADED
    # Row 2: 6 x 2.55 GBP in December 2010, when the admin's rate is 2 (the demo's 1.27 is older).
    assert query('SELECT currency, revenue, revenue_reporting FROM "orders-cleaned" WHERE source_row = 2') == [
        ("GBP", Decimal("15.3000"), Decimal("30.6000"))
    ]


def test_a_missing_rate_stops_the_load_with_a_clear_message(cast, sample):
    FxRate.objects.filter(currency="GBP").delete()
    upload = run_file(cast, "UK-LON", sample("online_retail_sample_sfc.csv"))

    assert upload.status == Upload.Status.FAILED
    assert upload.message.startswith("No exchange rate to USD for GBP from 2010-12.")
    assert query('SELECT count(*) FROM "orders-cleaned"') == [(0,)]


def test_the_upload_records_the_schema_version_it_ran_with(cast, sample):
    SalesSchema.objects.filter(is_active=True).update(version=7)
    upload = run_file(cast, "US-NYC", sample("bernasiakk_usa.csv"))

    assert upload.schema_version == 7


def test_the_upload_page_shows_each_cleaning_rule_count(cast, sample, client):
    upload = run_file(cast, "US-NYC", sample("bernasiakk_usa.csv"))
    client.force_login(cast["mgr_us_nyc"])

    page = client.get(f"/uploads/{upload.id}/").content.decode()

    assert "Returns flagged</dt><dd>112</dd>" in page
    assert "Duplicates dropped</dt><dd>0</dd>" in page
    assert "header on row 1" in page


def _stored_path(kind: str, upload: Upload, suffix: str) -> str:
    folder = upload.raw_path.split("/", 1)[1].rsplit("/", 1)[0]
    return f"{kind}/{folder}/{upload.id}.{suffix}"


def test_a_rejected_file_still_keeps_every_refused_row_for_the_user(cast, sample):
    from django.core.files.storage import default_storage

    SalesSchema.objects.filter(is_active=True).update(max_bad_row_pct=0.5)
    upload = run_file(cast, "UK-LON", sample("online_retail_sample_vikash_head.csv"))

    assert upload.status == Upload.Status.REJECTED
    with default_storage.open(_stored_path("rejected", upload, "csv")) as fh:
        lines = fh.read().decode().splitlines()
    assert lines[0] == "source_row,column,value,reason"
    assert lines[1] == "31,country,European Community,unknown country"
    assert len(lines) == 1 + 3
    assert not default_storage.exists(_stored_path("processed", upload, "parquet"))


def test_a_loaded_file_keeps_its_processed_rows_beside_the_raw_file(cast, sample):
    import pyarrow.parquet as pq
    from django.core.files.storage import default_storage

    upload = run_file(cast, "US-NYC", sample("bernasiakk_usa.csv"))

    with default_storage.open(_stored_path("processed", upload, "parquet")) as fh:
        assert pq.read_table(fh).num_rows == 291


def test_on_disk_the_processed_file_is_the_file_the_warehouse_took_not_a_copy(cast, sample):
    # Files on disk: DuckDB's parquet file is moved under processed/ (not copied, 20-30 MB
    # per million rows) and the warehouse links that very file into its table.
    import os

    from deltalake import DeltaTable
    from django.core.files.storage import default_storage

    from apps.warehouse.services import warehouse

    upload = run_file(cast, "US-NYC", sample("bernasiakk_usa.csv"))

    stored = default_storage.path(_stored_path("processed", upload, "parquet"))
    table_files = DeltaTable(warehouse().table_uri).file_uris()
    assert any(os.path.samefile(stored, f) for f in table_files)


def test_the_processed_file_carries_no_bloom_filters(cast, sample):
    # Statistics find a batch's files (upload_id min = max); bloom filters only cost time.
    import duckdb
    from django.core.files.storage import default_storage

    upload = run_file(cast, "US-NYC", sample("bernasiakk_usa.csv"))

    stored = default_storage.path(_stored_path("processed", upload, "parquet"))
    offsets = duckdb.sql(f"SELECT bloom_filter_offset FROM parquet_metadata('{stored}')").fetchall()
    assert offsets and all(offset is None for (offset,) in offsets)
