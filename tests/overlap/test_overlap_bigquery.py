"""The overlap check and the choice "replace" on the BigQuery backend (the real client against
the local emulator, as tests/warehouse/test_bigquery.py): the batch's keys go to a staging
table, the fact table is read for the batch's order dates only (what the emulator cannot
show: the bytes billed). Rows loaded before keys were stored (line_key NULL) get their key
computed by GoogleSQL, and it is the key the ETL computes."""

import pytest

from apps.accounts.access import scope_for
from apps.uploads.models import Upload
from apps.uploads.reconcile import uploads_reconcile
from apps.uploads.services import upload_overlap_decide
from apps.warehouse.fact import FACT_TABLE
from apps.warehouse.services import warehouse
from tests.overlap import copies
from tests.overlap.conftest import rows_of, shop_totals
from tests.warehouse.factories import EVERY_DAY

pytestmark = pytest.mark.integration
Status = Upload.Status


@pytest.fixture
def on_bigquery(bigquery, cast):
    return warehouse()


@pytest.mark.parametrize(("choice", "weekly_rows", "daily_rows"), [("replace", 125, 0), ("new_only", 24, 101)])
def test_a_weekly_file_is_held_and_the_choice_leaves_the_right_rows_on_bigquery(
    on_bigquery, cast, load, sample, worker_inline, choice, weekly_rows, daily_rows
):
    header, rows = copies.rows_of(sample("bernasiakk_usa.csv"))
    days = copies.by_day(header, rows)
    daily = load("daily.csv", copies.csv_bytes(header, days["10/10/2011"]))
    assert (daily.status, daily.rows_loaded) == (Status.LOADED, 101), daily.message
    week = days["10/10/2011"] + days["10/21/2011"]

    weekly = load("weekly.csv", copies.BOM + copies.csv_bytes(header, copies.with_dates(header, week, copies.iso)))
    assert weekly.status == Status.OVERLAP
    assert [(u["name"], u["lines"]) for u in weekly.report["overlap"]["uploads"]] == [("daily.csv", 101)]

    with worker_inline():
        upload_overlap_decide(scope=scope_for(cast["mgr_us_nyc"]), upload=weekly, choice=choice,
                              by=cast["mgr_us_nyc"])  # fmt: skip
    weekly.refresh_from_db()
    daily.refresh_from_db()

    assert (weekly.status, weekly.rows_loaded, rows_of(weekly)) == (Status.LOADED, weekly_rows, weekly_rows)
    assert (daily.rows_loaded, rows_of(daily)) == (daily_rows, daily_rows)
    assert shop_totals()["lines"] == shop_totals()["keys"] == 125
    assert not uploads_reconcile().mismatches


def test_rows_without_a_stored_key_are_keyed_by_googlesql_as_the_etl_keys_them(on_bigquery, load, sample):
    first = load("export.csv", sample("bernasiakk_usa.csv"))
    keys = f'SELECT line_key FROM "{FACT_TABLE}" WHERE {EVERY_DAY} ORDER BY line_key'
    stored = on_bigquery.query(keys).column(0).to_pylist()
    on_bigquery.client().query_and_wait(
        f"UPDATE {on_bigquery._ref(FACT_TABLE)} SET line_key = NULL WHERE upload_id = '{first.id}' AND {EVERY_DAY}"
    )
    keyed = f'SELECT count(line_key) AS n FROM "{FACT_TABLE}" WHERE {EVERY_DAY}'
    assert on_bigquery.query(keyed).column(0)[0].as_py() == 0

    again = load("export_with_bom.csv", copies.BOM + sample("bernasiakk_usa.csv").read_bytes())

    assert again.status == Status.OVERLAP
    assert again.report["overlap"]["lines"] == 291 == len(set(stored))
