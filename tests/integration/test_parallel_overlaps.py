"""Two uploads of one shop holding the same 291 lines in other bytes (an export and the same
export with a byte-order mark), posted at once and run by two worker processes at the same
moment (`manage.py serve`, two pool processes), on SQLite and on PostgreSQL: one loads them,
the other is held as `overlap`, and the warehouse holds each line once.

Each run pauses 3 s right after its overlap check (ETL_TEST_PAUSE_AT=overlap_checked), so
without the shop's load lock (apps/uploads/shop_lock.py) both checks would find nothing
loaded and both runs would load the lines."""

import json

import pytest

from .served import ServedApp, database_fresh
from .test_parallel_uploads import _all_at_once

pytestmark = pytest.mark.integration
BOM = b"\xef\xbb\xbf"


@pytest.fixture(params=["sqlite", "postgres"])
def app(request, tmp_path):
    env = {"ETL_TEST_PAUSE_AT": "overlap_checked", "ETL_TEST_PAUSE_SECONDS": "3", "LOG_LEVEL": "WARNING",
           "CELERY_WORKER_CONCURRENCY": "2"}  # fmt: skip
    served = ServedApp(tmp_path / "data", env=env)
    if request.param == "postgres":
        served.env["DATABASE_URL"] = database_fresh(request.getfixturevalue("postgres_url"), "ovl")
    served.start()
    try:
        yield served
    finally:
        served.stop(graceful=False)


def test_two_overlapping_uploads_run_at_once_load_the_lines_once(app, sample):
    export = sample("bernasiakk_usa.csv").read_bytes()

    answers, _ = _all_at_once([lambda: app.post_upload(export, "export.csv"),
                               lambda: app.post_upload(BOM + export, "export_bom.csv")])  # fmt: skip

    assert [a.status_code for a in answers] == [201, 201], [a.text for a in answers]
    ended = [app.wait_finished(a.json()["id"], timeout=180) for a in answers]
    assert sorted((e["status"], e["rows_loaded"]) for e in ended) == [("loaded", 291), ("overlap", 0)], app.log()
    held = next(e for e in ended if e["status"] == "overlap")
    loaded = next(e for e in ended if e["status"] == "loaded")
    assert held["overlap"]["lines"] == 291
    assert [u["id"] for u in held["overlap"]["uploads"]] == [loaded["id"]]
    # The second waited for the first's check and commit (3 s paused in between).
    assert held["overlap"]["waited"] >= 2.5 or loaded["overlap"]["waited"] >= 2.5
    assert app.warehouse_rows("store_id = 'US-NYC'") == 291
    keys = "SELECT count(DISTINCT line_key) AS n FROM \"orders-cleaned\" WHERE store_id = 'US-NYC'"
    assert json.loads(app.manage("warehouse_sql", keys, "--json"))[0]["n"] == 291
