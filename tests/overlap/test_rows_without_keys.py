"""Rows loaded before line keys existed: `warehouse_sync` adds the column to the embedded
table (a metadata commit; older files read it as NULL), and the overlap check and the choice
"replace" compute those rows' keys from their columns, as the ETL computes them."""

import shutil

import pyarrow as pa
from deltalake import DeltaTable, write_deltalake

from apps.accounts.access import scope_for
from apps.uploads.models import Upload
from apps.uploads.reconcile import uploads_reconcile
from apps.uploads.services import upload_overlap_decide
from apps.warehouse.fact import FACT_SCHEMA, FACT_TABLE
from apps.warehouse.services import _warehouse, warehouse, warehouse_sync
from tests.overlap import copies
from tests.overlap.conftest import rows_of, shop_totals

Status = Upload.Status


def _as_before_line_keys(settings) -> None:
    """The table rewritten as a table made before line_key: its schema and files lack it."""
    rows = warehouse().query(f'SELECT * FROM "{FACT_TABLE}"').drop_columns(["line_key"])
    old_schema = pa.schema([f for f in FACT_SCHEMA if f.name != "line_key"])
    uri = str(settings.WAREHOUSE_DIR / FACT_TABLE)
    shutil.rmtree(uri)
    DeltaTable.create(uri, schema=old_schema, name=FACT_TABLE)
    write_deltalake(uri, rows.cast(old_schema), mode="append")
    _warehouse.cache_clear()  # this process's reader knew the table before it was made again


def test_sync_adds_the_key_column_and_old_rows_are_keyed_from_their_columns(cast, load, sample, settings,
                                                                            worker_inline):  # fmt: skip
    first = load("export.csv", sample("bernasiakk_usa.csv"))
    _as_before_line_keys(settings)
    assert "line_key" not in DeltaTable(str(settings.WAREHOUSE_DIR / FACT_TABLE)).schema().to_arrow().names

    assert "add column line_key to orders-cleaned" in warehouse_sync()
    counted = warehouse().query(f'SELECT count(*) AS n, count(line_key) AS keyed FROM "{FACT_TABLE}"').to_pylist()
    assert counted == [{"n": 291, "keyed": 0}]

    held = load("export_copy.xlsx", copies.workbook(*copies.rows_of(sample("bernasiakk_usa.csv")),
                                                     settings.DATA_DIR / "export_copy.xlsx"))  # fmt: skip
    assert (held.status, held.report["overlap"]["lines"]) == (Status.OVERLAP, 291)

    with worker_inline():
        upload_overlap_decide(scope=scope_for(cast["mgr_us_nyc"]), upload=held, choice="replace", by=cast["admin"])
    held.refresh_from_db()
    first.refresh_from_db()
    assert (held.status, rows_of(held), first.rows_loaded, rows_of(first)) == (Status.LOADED, 291, 0, 0)
    assert shop_totals()["lines"] == shop_totals()["keys"] == 291
    assert not uploads_reconcile().mismatches
