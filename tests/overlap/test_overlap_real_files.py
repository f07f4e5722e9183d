"""The same sales in files of other bytes (a BOM, two-digit years, ISO dates, a workbook
copy, a weekly file over daily ones) are found by their lines' business keys before they
load: held as `overlap` with the right counts, and each choice leaves the right rows in the
warehouse (counted with SQL). Built from tests/data/bernasiakk_usa.csv (291 real lines)."""

import pytest

from apps.accounts.access import scope_for
from apps.uploads.models import Upload, UploadEvent
from apps.uploads.reconcile import uploads_reconcile
from apps.uploads.run import pipeline_run
from apps.uploads.services import upload_overlap_decide
from tests.overlap import copies
from tests.overlap.conftest import rows_of, shop_totals

Status = Upload.Status
USA = "bernasiakk_usa.csv"


@pytest.fixture
def export(sample):
    path = sample(USA)
    header, rows = copies.rows_of(path)
    return path, header, rows


@pytest.fixture
def first(load, export):
    path, _, _ = export
    loaded = load("export.csv", path)
    assert (loaded.status, loaded.rows_loaded) == (Status.LOADED, 291), loaded.message
    return loaded


def _copies(export, tmp_path) -> dict:
    path, header, rows = export
    return {
        "export_with_bom.csv": copies.BOM + path.read_bytes(),
        "export_two_digit_years.csv": copies.csv_bytes(header, copies.with_dates(header, rows, copies.two_digit_years)),
        "export_iso_dates.csv": copies.csv_bytes(header, copies.with_dates(header, rows, copies.iso)),
        "export_copy.xlsx": copies.workbook(header, rows, tmp_path / "export_copy.xlsx"),
    }


def test_copies_of_an_export_in_other_bytes_are_held_as_overlap_and_counted_once(load, first, export, tmp_path):
    before = shop_totals()

    for name, content in _copies(export, tmp_path).items():
        held = load(name, content)

        assert held.status == Status.OVERLAP, (name, held.status, held.message)
        found = held.report["overlap"]
        assert found["lines"] == 291, name
        assert [(u["id"], u["name"], u["uploaded_by"], u["lines"]) for u in found["uploads"]] == [
            (str(first.id), "export.csv", "mgr_us_nyc", 291)
        ]
        assert held.rows_loaded == 0 and rows_of(held) == 0
        assert "291 of its lines are loaded already" in held.message
        assert held.events.filter(kind=UploadEvent.Kind.OVERLAP).exists()

    assert shop_totals() == before
    assert before["lines"] == before["keys"] == 291
    assert not uploads_reconcile().mismatches


def test_a_byte_identical_file_is_still_held_as_a_duplicate(load, first, export):
    again = load("export.csv", export[0])

    assert again.status == Status.DUPLICATE
    assert shop_totals()["lines"] == 291


@pytest.fixture
def dailies_and_weekly(load, export):
    """Two daily files loaded (10/10 and 10/12: 101 lines each), then a weekly file of
    10/10-10/21 (226 lines, 24 of them new) with its dates written ISO-style."""
    _, header, rows = export
    days = copies.by_day(header, rows)
    dailies = [load(f"daily_{day.replace('/', '-')}.csv", copies.csv_bytes(header, days[day])) for day in
               ("10/10/2011", "10/12/2011")]  # fmt: skip
    assert [(d.status, d.rows_loaded) for d in dailies] == [(Status.LOADED, 101)] * 2
    week = days["10/10/2011"] + days["10/12/2011"] + days["10/21/2011"]
    weekly_bytes = copies.csv_bytes(header, copies.with_dates(header, week, copies.iso))
    return dailies, weekly_bytes


def test_a_weekly_file_over_daily_files_is_held_with_the_lines_of_each(load, dailies_and_weekly):
    _dailies, weekly_bytes = dailies_and_weekly

    weekly = load("weekly.csv", weekly_bytes)

    assert weekly.status == Status.OVERLAP
    found = weekly.report["overlap"]
    assert found["lines"] == 202
    assert sorted((u["name"], u["lines"]) for u in found["uploads"]) == [
        ("daily_10-10-2011.csv", 101),
        ("daily_10-12-2011.csv", 101),
    ]
    assert shop_totals()["lines"] == 202


def _decide(cast, upload, choice, worker_inline):
    with worker_inline():
        upload_overlap_decide(scope=scope_for(cast["mgr_us_nyc"]), upload=upload, choice=choice, by=cast["mgr_us_nyc"])
    upload.refresh_from_db()
    return upload


def test_load_only_the_new_lines(cast, load, dailies_and_weekly, worker_inline):
    _dailies, weekly_bytes = dailies_and_weekly
    weekly = load("weekly.csv", weekly_bytes)

    weekly = _decide(cast, weekly, "new_only", worker_inline)

    assert (weekly.status, weekly.rows_loaded, rows_of(weekly)) == (Status.LOADED, 24, 24)
    assert weekly.report["counts"]["loaded_before"] == 202
    totals = shop_totals()
    assert totals["lines"] == totals["keys"] == 226
    chosen = weekly.events.get(kind=UploadEvent.Kind.OVERLAP_CHOSEN)
    assert (chosen.actor, chosen.detail) == (cast["mgr_us_nyc"], "Load only the new lines")
    assert not uploads_reconcile().mismatches


def test_replace_the_earlier_uploads_overlapping_lines(cast, load, dailies_and_weekly, worker_inline):
    dailies, weekly_bytes = dailies_and_weekly
    revenue_before = shop_totals()["revenue"]
    weekly = load("weekly.csv", weekly_bytes)

    weekly = _decide(cast, weekly, "replace", worker_inline)

    assert (weekly.status, weekly.rows_loaded, rows_of(weekly)) == (Status.LOADED, 226, 226)
    for daily in dailies:
        daily.refresh_from_db()
        assert (daily.rows_loaded, rows_of(daily)) == (0, 0)
        assert daily.events.filter(kind=UploadEvent.Kind.DISPLACED).exists()
    totals = shop_totals()
    assert totals["lines"] == totals["keys"] == 226
    assert totals["uploads"] == 1
    assert totals["revenue"] > revenue_before
    result = uploads_reconcile()
    assert not result.mismatches, result.mismatches


def test_load_everything_anyway_is_recorded_with_who_chose_it(cast, load, dailies_and_weekly, worker_inline):
    _, weekly_bytes = dailies_and_weekly
    weekly = load("weekly.csv", weekly_bytes)

    weekly = _decide(cast, weekly, "all", worker_inline)

    assert (weekly.status, weekly.rows_loaded) == (Status.LOADED, 226)
    totals = shop_totals()
    assert (totals["lines"], totals["keys"]) == (428, 226)  # counted twice, as chosen
    chosen = weekly.events.get(kind=UploadEvent.Kind.OVERLAP_CHOSEN)
    assert (chosen.actor.username, chosen.detail) == ("mgr_us_nyc", "Load everything anyway")


def test_cancel_leaves_nothing_of_it(cast, load, dailies_and_weekly, worker_inline):
    _, weekly_bytes = dailies_and_weekly
    weekly = load("weekly.csv", weekly_bytes)

    weekly = _decide(cast, weekly, "cancel", worker_inline)

    assert weekly.status == Status.CANCELLED
    assert shop_totals()["lines"] == 202
    assert weekly.events.get(kind=UploadEvent.Kind.OVERLAP_CHOSEN).actor == cast["mgr_us_nyc"]


def test_a_choice_made_in_advance_acts_without_holding(load, dailies_and_weekly):
    _, weekly_bytes = dailies_and_weekly

    weekly = load("weekly.csv", weekly_bytes, on_overlap="new_only")

    assert (weekly.status, weekly.rows_loaded) == (Status.LOADED, 24)
    assert shop_totals()["keys"] == shop_totals()["lines"] == 226


def test_the_same_keys_under_another_shop_are_shown_not_held(load, first, export):
    other = load("export_for_la.csv", copies.BOM + export[0].read_bytes(), shop="US-SFO", user="admin")

    assert (other.status, other.rows_loaded) == (Status.LOADED, 291), other.message
    assert other.report["overlap"]["other_shops"] == [{"shop": "US-NYC", "lines": 291}]
    assert other.report["overlap"]["lines"] == 0


def test_lines_repeated_inside_one_order_stay_distinct_by_multiplicity(load, export):
    _, header, rows = export
    # A line sold twice in one order with the same product, time, quantity and price (the
    # description differs, so it is not an exact duplicate row the ETL drops).
    repeat = list(rows[0])
    repeat[header.index("Description")] += " (second line)"
    doubled = [*rows, repeat]

    loaded = load("with_repeat.csv", copies.csv_bytes(header, doubled))
    assert (loaded.status, loaded.rows_loaded) == (Status.LOADED, 292)
    assert shop_totals()["keys"] == 292

    again = load("with_repeat_iso.csv", copies.csv_bytes(header, copies.with_dates(header, doubled, copies.iso)))
    assert (again.status, again.report["overlap"]["lines"]) == (Status.OVERLAP, 292)

    once = load("export_once.csv", copies.BOM + export[0].read_bytes())  # the repeat only once
    assert (once.status, once.report["overlap"]["lines"]) == (Status.OVERLAP, 291)


def test_the_uploader_is_emailed_the_page_of_a_held_upload(cast, load, first, export, mailoutbox):
    cast["mgr_us_nyc"].email = "nyc@example.com"
    cast["mgr_us_nyc"].save()

    held = load("export_with_bom.csv", copies.BOM + export[0].read_bytes())

    assert held.status == Status.OVERLAP
    assert [m.subject for m in mailoutbox] == ["[Sales] export_with_bom.csv: Lines loaded before"]
    assert f"/uploads/{held.id}/" in mailoutbox[0].body and "291 of its lines" in mailoutbox[0].body


def test_a_cancelled_overlap_can_be_uploaded_again_and_is_held_again(cast, load, dailies_and_weekly, worker_inline):
    _, weekly_bytes = dailies_and_weekly
    weekly = _decide(cast, load("weekly.csv", weekly_bytes), "cancel", worker_inline)
    assert weekly.status == Status.CANCELLED

    again = load("weekly.csv", weekly_bytes)

    assert (again.status, again.report["overlap"]["lines"]) == (Status.OVERLAP, 202)


def test_an_upload_whose_lines_were_replaced_keeps_to_the_rest_when_processed_again(
    cast, load, dailies_and_weekly, worker_inline
):
    """A reprocess (or the reconciliation's repair) of a daily file after the weekly one took
    its lines: the daily loads only the lines no other upload holds, not held again for lines
    it gave up, and nothing is counted twice."""
    dailies, weekly_bytes = dailies_and_weekly
    weekly = _decide(cast, load("weekly.csv", weekly_bytes), "replace", worker_inline)
    before = shop_totals()

    again = pipeline_run(upload_id=dailies[0].id, force=True)

    assert (again.status, again.rows_loaded, rows_of(again)) == (Status.LOADED, 0, 0)
    assert again.overlap_choice == Upload.OverlapChoice.NEW_ONLY
    assert shop_totals() == before
    assert rows_of(weekly) == 226
    assert not uploads_reconcile().mismatches
