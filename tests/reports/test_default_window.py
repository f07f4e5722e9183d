"""Issue 18, point 3: the default window covers the bulk of the data in scope, a few stray
rows far from the rest never set it, and the page says what the dates leave out, with a
link to All time. The issue's case over real files (tests/reports/regions_mix.py): one
US-NYC sale to a UK customer dated 2023 made head_uk's /reports/ show 90 days holding that
one order, while the UK shops' data (2010-2011) was out of sight."""

from datetime import date, timedelta

import pytest
from django.test import Client
from django.urls import reverse

from apps.reports.filters import BULK_DAYS, DataDays, report_filter_parse
from tests.reports.regions_mix import expected_where, warehouse_figures

TODAY = date(2026, 12, 7)


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _last_bulk_day(where: str) -> date:
    """The newest order day of the UK shops' own files (no stray row), from the warehouse."""
    from apps.warehouse.services import warehouse

    sql = f'SELECT max(order_date) AS day FROM "orders-cleaned" WHERE {where}'
    return warehouse().query(sql, {}).to_pylist()[0]["day"]


def test_a_stray_sale_far_after_the_uk_shops_data_does_not_set_head_uks_window(cast, regions_mix):
    stray = regions_mix["stray"]
    assert warehouse_figures(f"upload_id = '{stray.id}' AND country_code = 'GB'")["lines"] == 1
    not_stray = f"upload_id <> '{stray.id}'"
    pages = {
        reverse("reports:master"): f"{expected_where(cast['head_uk'])} AND {not_stray}",
        reverse("reports:country", args=["GB"]): f"country_code = 'GB' AND {not_stray}",  # the UK customers' rows
        reverse("reports:coverage"): f"{expected_where(cast['head_uk'])} AND {not_stray}",
    }
    for url, rows in pages.items():
        uk_end = _last_bulk_day(rows)
        response = _client(cast["head_uk"]).get(url)
        report = response.context["report"]

        assert (report.start, report.end) == (uk_end - timedelta(days=BULK_DAYS - 1), uk_end), url
        assert report.window.after == 1 and report.window.last == date(2023, 5, 2), url
        text = response.content.decode()
        assert f"counted back from {uk_end:%d %b %Y}: the latest day with data in your scope" in text, url
        assert "1 later (the last on 02 May 2023)" in text, url
        assert 'href="?preset=all" data-all-time>Show all time</a>' in text, url


def test_the_default_window_holds_the_bulk_of_the_rows_for_every_viewer(cast, regions_mix):
    # Before: head_uk's 90 days held the one stray order; now it holds most of the UK rows.
    for username in ("admin", "head_uk", "head_us", "mgr_us_nyc", "mgr_uk_lon"):
        response = _client(cast[username]).get(reverse("reports:master"))
        report = response.context["report"]
        held = warehouse_figures(
            f"{expected_where(cast[username])} AND order_date BETWEEN '{report.start}' AND '{report.end}'"
        )
        assert held["lines"] > 100, (username, report.start, report.end)


def test_all_time_spans_every_row_in_scope_with_no_five_year_cap(cast, regions_mix):
    response = _client(cast["head_uk"]).get(f"{reverse('reports:master')}?preset=all")
    report = response.context["report"]
    everything = warehouse_figures(expected_where(cast["head_uk"]))

    assert (report.start, report.end) == (date(2010, 12, 1), date(2023, 5, 2))
    assert (report.end - report.start).days > 366 * 5
    assert report.window.before == report.window.after == 0
    assert "data-window-outside" not in response.content.decode()
    assert "All time: every row in your scope, 01 Dec 2010 to 02 May 2023." in response.content.decode()
    lines = _client(cast["head_uk"]).get(f"{reverse('reports:export', args=['lines', 'json'])}?preset=all")
    assert len(lines.json()["rows"]) == everything["lines"]


def test_a_window_that_hides_rows_before_it_says_so_with_a_link_to_all_time(cast, regions_mix):
    response = _client(cast["admin"]).get(f"{reverse('reports:lines')}?preset=custom&start=2011-09-01&end=2011-12-31")
    report = response.context["report"]
    before = warehouse_figures("order_date < '2011-09-01'")["lines"]
    after = warehouse_figures("order_date > '2011-12-31'")["lines"]

    assert (report.window.before, report.window.after) == (before, after) == (before, 1)
    assert f"{before + 1:,} rows in your scope are outside these dates: {before:,} earlier and 1 later" in response.text
    assert 'href="?preset=all" data-all-time>' in response.text


# -- the rule, on its own ------------------------------------------------------------------


def _days(*spans: tuple[date, date, int]) -> DataDays:
    days = {}
    for first, last, lines in spans:
        day = first
        while day <= last:
            days[day] = days.get(day, 0) + lines
            day += timedelta(days=1)
    return DataDays(tuple(sorted(days.items())))


def _resolve(params: dict, days: DataDays):
    return report_filter_parse(params, scope_shops=frozenset()).resolve(days=days, today=TODAY, shop_has_rows=False)


BULK = (date(2010, 1, 1), date(2011, 12, 9), 40)  # two years, 40 lines a day


@pytest.mark.parametrize(
    "strays",
    [
        [(date(2023, 5, 2), date(2023, 5, 2), 1)],  # one sale years later
        [(date(2012, 3, 1), date(2012, 3, 3), 20), (date(2024, 1, 1), date(2024, 1, 1), 5)],  # a few, scattered
        [(date(1999, 1, 1), date(1999, 1, 1), 1), (date(2030, 6, 1), date(2030, 6, 1), 1)],  # either side
    ],
)
def test_a_few_stray_rows_never_set_the_window(strays):
    report = _resolve({}, _days(BULK, *strays))

    assert (report.start, report.end) == (date(2011, 12, 9) - timedelta(days=89), date(2011, 12, 9))
    assert report.window.after == sum(n * ((b - a).days + 1) for a, b, n in strays if a > BULK[1])


def test_data_that_goes_on_after_a_pause_sets_the_window():
    # Two weeks of a shop's usual trade after a pause are the bulk's end, not strays.
    report = _resolve({}, _days(BULK, (date(2012, 6, 1), date(2012, 6, 14), 40)))

    assert report.end == date(2012, 6, 14)


@pytest.mark.parametrize(
    ("preset", "start", "end"),
    [
        ("ytd", date(2011, 1, 1), date(2011, 12, 9)),
        ("year", date(2011, 1, 1), date(2011, 12, 9)),  # the old name of "Year to date"
        ("last-year", date(2010, 1, 1), date(2010, 12, 31)),
        ("quarter", date(2011, 10, 1), date(2011, 12, 9)),
        ("all", date(2010, 1, 1), date(2023, 5, 2)),
    ],
)
def test_presets_count_from_the_bulks_last_day(preset, start, end):
    report = _resolve({"preset": preset}, _days(BULK, (date(2023, 5, 2), date(2023, 5, 2), 1)))

    assert (report.start, report.end) == (start, end)
    assert report.problems == ()


def test_all_time_of_rows_centuries_apart_is_not_capped_and_has_a_previous_period():
    report = _resolve({"preset": "all"}, _days((date(1000, 1, 1), date(1000, 1, 1), 1), BULK))

    assert (report.start, report.end) == (date(1000, 1, 1), date(2011, 12, 9))
    assert report.previous().end < report.start


def test_without_data_the_window_counts_back_from_today():
    for preset in ("all", "90d"):
        report = _resolve({"preset": preset}, DataDays())

        assert (report.start, report.end) == (TODAY - timedelta(days=89), TODAY)
        assert report.window.anchor is None
