"""Dates, pages and numbers in report URLs are moved into their ranges, with a message,
never a 5xx (issue 17, point 6). Before: `start=0001-01-01` raised OverflowError on the
master page, the coverage page and with grain=week; `page=99999999999999999999`
overflowed DuckDB's INT64; `page=²` (a digit to str.isdigit, not to int) raised ValueError."""

from datetime import date, timedelta

import pytest
from django.test import Client
from django.urls import reverse

from apps.reports.filters import EARLIEST, LATEST, MAX_DAYS, lines_page_parse
from tests.reports.facts import facts  # noqa: F401 (fixture)

pytestmark = pytest.mark.usefixtures("facts")
FAR = [
    "preset=custom&start=0001-01-01&end=0001-01-05",
    "preset=custom&start=0001-01-01&end=0001-01-05&grain=week",
    "preset=custom&start=0001-01-01&end=0001-01-05&grain=month",
    "preset=custom&start=0001-01-01&end=2011-12-09&grain=week",
    "preset=custom&start=9999-12-25&end=9999-12-31&grain=week",
    "preset=custom&start=9999-12-31&end=9999-12-31&grain=month",
    "preset=custom&start=0999-12-31&end=1000-01-02&grain=week",
]
PAGES = [
    reverse("reports:master"),
    reverse("reports:country", args=["GB"]),
    reverse("reports:coverage"),
    reverse("reports:lines"),
    reverse("reports:looker"),
]
EXPORTS = [reverse("reports:export", args=[name, "json"]) for name in ("kpis", "over_time", "by_shop", "lines")]


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("query", FAR)
@pytest.mark.parametrize("username", ["admin", "head_uk"])
def test_dates_out_of_range_are_moved_into_it_with_a_message(cast, username, query):
    client = _client(cast[username])
    for url in [*PAGES, *EXPORTS]:
        response = client.get(f"{url}?{query}")
        assert response.status_code == 200, url
        if url in PAGES and url != reverse("reports:looker"):
            assert "Dates run from 1000-01-01 to 9999-12-30" in response.content.decode(), url
            report = response.context["report"]
            assert EARLIEST <= report.start <= report.end <= LATEST


def test_a_date_moved_into_range_keeps_the_other_one(cast):
    response = _client(cast["admin"]).get(f"{reverse('reports:master')}?preset=custom&start=0001-01-01&end=2011-12-09")

    report = response.context["report"]
    assert (report.start, report.end) == (date(2011, 12, 9) - timedelta(days=MAX_DAYS), date(2011, 12, 9))
    assert "the start was moved to 1000-01-01" in response.content.decode()


@pytest.mark.parametrize(
    ("page", "shown", "message"),
    [
        ("99999999999999999999", "last", "showing the last"),
        ("9" * 5000, "last", "showing the last"),
        ("1000", "last", "showing the last"),
        ("²", 1, "Pages are numbered"),
        ("-1", 1, "Pages are numbered"),
        ("0", 1, "Pages are numbered"),
        ("1.5", 1, "Pages are numbered"),
        ("0002", 2, ""),
    ],
)
def test_a_page_number_out_of_range_shows_the_nearest_page_with_a_message(cast, page, shown, message):
    client = _client(cast["head_uk"])
    query = "preset=custom&start=2011-09-01&end=2011-12-09"
    last_page = client.get(f"{reverse('reports:lines')}?{query}&page=4")
    assert last_page.context["page"] == 4 and not last_page.context["next_url"]  # 340 lines: 4 pages

    response = client.get(f"{reverse('reports:lines')}?{query}&page={page}")

    assert response.status_code == 200
    assert response.context["page"] == (4 if shown == "last" else shown)
    if shown == "last":
        assert [r["source_row"] for r in response.context["rows"]] == [
            r["source_row"] for r in last_page.context["rows"]
        ]
    text = response.content.decode()
    assert (message in text) if message else "data-page-problem" not in text


def test_page_numbers_parse_without_reading_past_nine_digits():
    assert lines_page_parse("") == (1, "")
    assert lines_page_parse("12") == (12, "")
    assert lines_page_parse("1" * 10)[0] == 10**9
    assert lines_page_parse("١٢")[0] == 1  # Arabic-Indic digits: not a page number here
