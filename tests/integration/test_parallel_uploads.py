"""A double-click, a client's retry, a script run twice: many requests at once with one file,
or with corrections of one upload, through the real web server and worker (`manage.py
serve`), on SQLite and on PostgreSQL. The file loads once and the upload is replaced once:
the database's unique constraints decide (apps/uploads/transitions.py upload_insert), and the
losers get the duplicate answer or "a replacement is already running"."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from .served import ServedApp, database_fresh

pytestmark = pytest.mark.integration
PARALLEL = 12
ROWS = 291


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return ""  # the default: DATA_DIR/db.sqlite3
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def app(tmp_path, database_url):
    # Each run waits 3 s once it has read the file: the first replacement is still running
    # when the others arrive, however slowly this machine answers them.
    served = ServedApp(
        tmp_path / "data",
        database_url=database_url,
        env={"ETL_TEST_PAUSE_AT": "validating", "ETL_TEST_PAUSE_SECONDS": "3", "LOG_LEVEL": "WARNING"},
    )
    if database_url:  # a fresh database per test on the session's PostgreSQL server
        served.env["DATABASE_URL"] = database_fresh(database_url, "par")
    served.start()
    try:
        yield served
    finally:
        served.stop(graceful=False)


def _all_at_once(calls) -> tuple[list, list[float]]:
    """Run the calls in parallel threads released together; their results and seconds."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        barrier.wait()
        start = time.monotonic()
        result = call()
        return result, time.monotonic() - start

    with ThreadPoolExecutor(len(calls)) as pool:
        done = list(pool.map(run, calls))
    return [r for r, _ in done], [s for _, s in done]


def test_parallel_uploads_of_one_file_load_it_once_and_parallel_replacements_replace_it_once(app, sample):
    content = sample("bernasiakk_usa.csv").read_bytes()

    answers, seconds = _all_at_once([lambda: app.post_upload(content, "sales.csv")] * PARALLEL)

    assert [a.status_code for a in answers] == [201] * PARALLEL, [a.text for a in answers]
    bodies = [a.json() for a in answers]
    queued = [b for b in bodies if b["status"] == "queued"]
    assert len(queued) == 1, [b["status"] for b in bodies]
    first = queued[0]["id"]
    held = [b for b in bodies if b["id"] != first]
    assert {(b["status"], b["duplicate_of"]) for b in held} == {("duplicate", first)}
    assert app.wait_finished(first)["rows_loaded"] == ROWS
    assert app.warehouse_rows() == ROWS
    print(f"\n{PARALLEL} parallel uploads: p50 {sorted(seconds)[PARALLEL // 2]:.2f} s, max {max(seconds):.2f} s")

    # Twelve different corrections of that upload at once: one replaces it, the others wait.
    header, *lines = content.decode().splitlines(keepends=True)
    corrections = [(header + "".join(lines[:i] + lines[i + 1 :])).encode() for i in range(PARALLEL)]
    answers, seconds = _all_at_once([lambda c=c: app.post_upload(c, "fixed.csv", replaces=first) for c in corrections])

    codes = [a.status_code for a in answers]
    assert sorted(codes) == [201] + [400] * (PARALLEL - 1), [a.text for a in answers]
    refusals = {a.json()["detail"] for a in answers if a.status_code == 400}
    assert all("A replacement of 'sales.csv' is already running ('fixed.csv', uploaded by mgr_us_nyc)" in r
               for r in refusals), refusals  # fmt: skip
    fixed = next(a.json() for a in answers if a.status_code == 201)
    assert app.wait_finished(fixed["id"])["rows_loaded"] == ROWS - 1
    assert app.warehouse_rows() == ROWS - 1
    assert app.warehouse_rows(f"upload_id = '{first}'") == 0
    # The refused corrections were not recorded: the first file, its 11 held copies, one replacement.
    assert len(app.uploads()) == PARALLEL + 1
    print(f"{PARALLEL} parallel replacements: p50 {sorted(seconds)[PARALLEL // 2]:.2f} s, max {max(seconds):.2f} s")
