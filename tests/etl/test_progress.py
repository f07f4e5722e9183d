"""A big file's progress bar moves inside a stage, from DuckDB's own estimate."""

import csv
import random

import pytest

from apps.etl.pipeline.engine import progress_watch, work_connection
from apps.uploads import run
from apps.uploads.models import Upload
from apps.uploads.selectors import upload_progress
from tests.factories import upload_of


def test_progress_watch_reports_fractions_of_a_running_statement(tmp_path):
    con = work_connection(temp_dir=tmp_path)
    seen: list[float] = []

    with progress_watch(con, seen.append, every=0.01):
        con.execute("CREATE TABLE t AS SELECT i, md5(CAST(i AS VARCHAR)) AS h FROM range(6000000) r(i)")

    assert seen, "no progress reported while a long statement ran"
    assert all(0.0 <= f <= 1.0 for f in seen)
    assert any(0.0 < f < 1.0 for f in seen), seen


def test_each_step_fills_its_own_band_and_the_fraction_never_falls(tmp_path):
    con = work_connection(temp_dir=tmp_path)
    seen: list[float] = []
    statement = "CREATE OR REPLACE TABLE t AS SELECT i, md5(CAST(i AS VARCHAR)) AS h FROM range(4000000) r(i)"

    with progress_watch(con, seen.append, every=0.01) as band:
        band(0.0, 0.25)
        con.execute(statement)
        first = len(seen)
        band(0.5, 1.0)
        con.execute(statement)  # estimated from 0 again: reported from half the stage on

    assert 0 < first < len(seen), seen
    assert all(0.0 <= f <= 0.25 for f in seen[:first]), seen
    assert all(f >= 0.5 for f in seen[first:]), seen
    assert seen == sorted(seen)


def test_progress_watch_runs_its_finished_hook_in_the_watching_thread(tmp_path):
    con = work_connection(temp_dir=tmp_path)
    finished: list[bool] = []

    with progress_watch(con, lambda f: None, every=0.01, finished=lambda: finished.append(True)):
        con.execute("SELECT 1").fetchall()

    assert finished == [True]


def _big_file(path, rows: int) -> None:
    rng = random.Random(7)
    with path.open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "Country"])
        for i in range(rows):
            out.writerow([536365 + i, f"S{i % 4000}", "MUG", rng.randint(1, 9), "4/19/2011 16:19", "2.55", "USA"])


@pytest.mark.django_db(transaction=True)
def test_a_big_file_records_progress_within_its_stages(cast, tmp_path, monkeypatch):
    path = tmp_path / "big.csv"
    _big_file(path, 400_000)
    upload = upload_of(cast["mgr_us_nyc"], "US-NYC", path)
    recorded: list[tuple[str, float]] = []
    bar: list[float] = []  # the page's progress bar after every change to the upload
    real_filter = Upload.objects.filter

    def spy(*args, **kwargs):
        query = real_filter(*args, **kwargs)
        update = query.update

        def recording_update(**values):
            changed = update(**values)
            now = Upload.objects.get(pk=upload.pk)
            if values.get("stage_progress") is not None:
                recorded.append((now.stage, values["stage_progress"]))
            if not now.is_finished:
                bar.append(upload_progress(now)["fraction"])
            return changed

        query.update = recording_update
        return query

    monkeypatch.setattr(run, "PROGRESS_EVERY", 0.01)
    monkeypatch.setattr(Upload.objects, "filter", spy)

    done = run.pipeline_run(upload_id=upload.id)

    assert done.status == Upload.Status.LOADED, done.message
    assert done.rows_loaded == 400_000
    assert any(0.0 < f < 1.0 for _, f in recorded), recorded
    # Each stage's band fills from the engine's estimate, validating's too.
    assert {stage for stage, _ in recorded} == {"reading", "validating", "loading"}, recorded
    # Past duplicates (a fifth) and decisions: the typing statement has an estimate too (it
    # had none while it joined an Arrow table, and the bar stood still).
    assert any(stage == "validating" and f > 0.3 for stage, f in recorded), recorded
    assert bar == sorted(bar), bar  # the bar never moves back
    assert done.stage_progress is None or done.is_finished


def test_the_bar_uses_the_engine_estimate_within_a_stage(cast, sample):
    upload = upload_of(cast["mgr_us_nyc"], "US-NYC", sample("bernasiakk_usa.csv"))
    upload.status, upload.stage = Upload.Status.PROCESSING, "reading"

    upload.stage_progress = 0.5
    halfway = upload_progress(upload)["fraction"]
    upload.stage_progress = None
    at_start = upload_progress(upload)["fraction"]

    assert at_start < halfway < 0.4  # reading runs from 0.05 to 0.4 of the bar
