from pathlib import Path

import pyarrow.parquet as pq
from deltalake import DeltaTable
from django.core.files.storage import default_storage

from apps.uploads.models import Upload
from apps.uploads.run import pipeline_run
from apps.warehouse.services import warehouse
from tests.factories import upload_of


def _count(sql: str) -> int:
    return warehouse().query(sql).column(0)[0].as_py()


def test_usa_file_loads_every_row_into_the_usa_view(cast, sample):
    upload = pipeline_run(upload_id=upload_of(cast["mgr_us_nyc"], "US-NYC", sample("bernasiakk_usa.csv")).id)

    assert upload.status == Upload.Status.LOADED
    assert (upload.rows_read, upload.rows_loaded, upload.rows_rejected, upload.rows_dropped) == (
        291,
        291,
        0,
        0,
    )
    assert _count('SELECT count(*) FROM "USA_Sales_View"') == 291
    assert _count('SELECT count(*) FROM "Master_Sales_View"') == 291
    assert _count('SELECT count(*) FROM "UK_Sales_View"') == 0
    assert _count('SELECT count(*) FROM "orders-cleaned" WHERE is_return') == 112


def test_running_the_same_upload_twice_leaves_the_same_rows(cast, sample):
    upload = upload_of(cast["mgr_us_nyc"], "US-NYC", sample("bernasiakk_usa.csv"))
    pipeline_run(upload_id=upload.id)
    pipeline_run(upload_id=upload.id, force=True)

    assert _count('SELECT count(*) FROM "orders-cleaned"') == 291
    assert _count('SELECT count(DISTINCT source_row) FROM "orders-cleaned"') == 291


def test_raw_file_is_kept_under_country_and_date(cast, sample):
    upload = upload_of(cast["mgr_uk_lon"], "UK-LON", sample("online_retail_sample_sfc.csv"))
    day = upload.created_at
    assert upload.raw_path == (f"raw/GB/{day:%Y/%m/%d}/{upload.id}/online_retail_sample_sfc.csv")


def test_the_fact_rows_are_encoded_once_for_storage_and_warehouse(cast, sample):
    upload = pipeline_run(upload_id=upload_of(cast["mgr_us_nyc"], "US-NYC", sample("bernasiakk_usa.csv")).id)

    folder = upload.raw_path.split("/", 1)[1].rsplit("/", 1)[0]
    with default_storage.open(f"processed/{folder}/{upload.id}.parquet", "rb") as fh:
        processed = fh.read()
    (table_file,) = DeltaTable(warehouse().table_uri).file_uris()
    assert Path(table_file).read_bytes() == processed
    assert pq.read_metadata(table_file).num_rows == 291


def test_the_embedded_warehouse_gets_a_v2_parquet_file_and_bigquery_a_v1_one(cast, sample):
    # V2 data pages with delta-packed integers: 40% smaller, quicker to write; DuckDB, delta-rs
    # and pyarrow read them (the compaction below reads such files). BigQuery gets V1.
    from apps.warehouse.bigquery import BigQueryWarehouse

    upload = pipeline_run(upload_id=upload_of(cast["mgr_us_nyc"], "US-NYC", sample("bernasiakk_usa.csv")).id)

    (table_file,) = DeltaTable(warehouse().table_uri).file_uris()
    meta = pq.ParquetFile(table_file).metadata
    columns = {meta.schema.column(i).name: i for i in range(meta.num_columns)}
    assert "DELTA_BINARY_PACKED" in meta.row_group(0).column(columns["source_row"]).encodings
    assert upload.rows_loaded == meta.num_rows == 291
    assert (warehouse().capabilities.parquet_version, BigQueryWarehouse.capabilities.parquet_version) == ("v2", "v1")


def test_a_reprocess_after_compaction_replaces_the_rows_in_the_shared_file(cast, sample):
    usa = upload_of(cast["mgr_us_nyc"], "US-NYC", sample("bernasiakk_usa.csv"))
    uk = upload_of(cast["mgr_uk_lon"], "UK-LON", sample("online_retail_sample_sfc.csv"))
    pipeline_run(upload_id=usa.id)
    uk_rows = pipeline_run(upload_id=uk.id).rows_loaded
    warehouse().compact()  # the two uploads' files (as DuckDB wrote them) become one
    assert len(DeltaTable(warehouse().table_uri).file_uris()) == 1

    pipeline_run(upload_id=usa.id, force=True)

    assert _count(f"SELECT count(*) FROM \"orders-cleaned\" WHERE upload_id = '{usa.id}'") == 291
    assert _count(f"SELECT count(*) FROM \"orders-cleaned\" WHERE upload_id = '{uk.id}'") == uk_rows
    assert warehouse().delete_batch(upload_id=str(uk.id)) == uk_rows
    assert _count('SELECT count(*) FROM "orders-cleaned"') == 291
