"""What the report pages show: filters, KPIs, drill-down, coverage, exports, Looker Studio."""

import csv
import io
from datetime import date, timedelta

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from apps.accounts.models import Region, Shop
from apps.reports.filters import DataDays, report_filter_parse
from apps.reports.models import LookerStudioReport
from apps.uploads.models import Upload
from tests.reports.facts import FORMULA_NAME, GAPS, LAST_DAY, facts, fast_password_hashing  # noqa: F401 (fixtures)

pytestmark = pytest.mark.usefixtures("facts")


def _get(client, user, url: str):
    client.force_login(user)
    response = client.get(url)
    assert response.status_code == 200, url
    return response


def _csv(response) -> list[dict]:
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(body)))


def test_country_filter_narrows_every_chart_and_the_kpis(client, cast):
    response = _get(client, cast["admin"], f"{reverse('reports:master')}?country=FR")

    charts = {c["id"]: c["figure"] for c in response.context["charts"]}
    assert [t["name"] for t in charts["chart-over-time"]["data"]] == ["FR"]
    assert set(charts["chart-shops"]["data"][0]["y"]) == {"FR-PAR", "FR-LYS"}
    assert all(p.startswith("P-FR-") for p in (r["product_id"] for r in response.context["product_rows"]))
    tiles = {t["key"]: t["value"] for t in response.context["kpis"]}
    assert tiles["shops"] == "2"
    assert tiles["revenue_local"].endswith("EUR")  # one currency in view


def test_kpis_compare_with_the_previous_period_of_the_same_length(client, cast):
    response = _get(client, cast["admin"], f"{reverse('reports:master')}?preset=7d&country=GB&shop=UK-LON")

    tiles = {t["key"]: t for t in response.context["kpis"]}
    # 3-9 Dec vs 26 Nov-2 Dec: six trading days each, same sales.
    assert tiles["orders"]["change"] == "+0.0%"
    assert tiles["orders"]["compared"] == "vs 26 Nov 2011 to 02 Dec 2011"


def _resolved(params: dict, *, shops: frozenset[str] = frozenset(), latest=None, today=LAST_DAY, has_rows=False):
    parsed = report_filter_parse(params, scope_shops=shops)
    return parsed.resolve(days=DataDays(((latest, 1),) if latest else ()), today=today, shop_has_rows=has_rows)


def test_presets_count_back_from_the_latest_data_and_bad_values_are_dropped():
    params = {"preset": "quarter", "country": "gb", "shop": "US-NYC", "grain": "hour", "product": " 22722 "}
    report = _resolved(params, shops=frozenset({"UK-LON"}), latest=LAST_DAY, today=date(2026, 1, 1))

    assert (report.start, report.end) == (date(2011, 10, 1), LAST_DAY)
    assert (report.country, report.shop, report.grain, report.product) == ("GB", "", "day", "22722")
    assert len(report.problems) == 2
    assert "US-NYC" not in " ".join(report.problems)


def test_presets_count_back_from_today_when_the_latest_data_is_later_or_missing():
    assert _resolved({"preset": "7d"}, latest=date(2030, 1, 1), today=LAST_DAY).end == LAST_DAY
    assert _resolved({"preset": "month"}, latest=None, today=LAST_DAY).start == date(2011, 12, 1)


def test_a_shop_outside_the_scopes_own_is_kept_only_when_it_has_rows_in_the_scope():
    parsed = report_filter_parse({"shop": "US-NYC"}, scope_shops=frozenset({"UK-LON"}))

    assert parsed.shop_unchecked and parsed.problems == ()
    assert parsed.resolve(days=DataDays(), today=LAST_DAY, shop_has_rows=True).shop == "US-NYC"
    dropped = parsed.resolve(days=DataDays(), today=LAST_DAY, shop_has_rows=False)
    assert (dropped.shop, dropped.problems) == ("", ("That shop is not in your reports; the shop filter was dropped.",))
    # As before the parse was pure: a code typed other than as stored is not looked up.
    assert not report_filter_parse({"shop": "us-nyc"}, scope_shops=frozenset({"UK-LON"})).shop_unchecked


def test_the_problems_keep_their_order_when_dates_are_settled_after_parsing():
    params = {"preset": "custom", "start": "2000-01-01", "grain": "hour", "country": "G1", "shop": "US-NYC"}

    report = _resolved(params, shops=frozenset({"UK-LON"}))

    assert report.problems == (
        "Ranges are limited to five years; the start was moved.",
        "Unknown time grain; showing days.",
        "That country code is not valid; the country filter was dropped.",
        "That shop is not in your reports; the shop filter was dropped.",
    )
    assert (report.end - report.start).days == 366 * 5 and report.end == LAST_DAY


def test_malformed_custom_dates_fall_back_to_the_default_range():
    report = _resolved({"preset": "custom", "start": "2011-02-30", "end": "2011-03-01"}, latest=LAST_DAY)

    assert (report.start, report.end) == (LAST_DAY - timedelta(days=89), LAST_DAY)
    assert report.problems == ("Dates are written YYYY-MM-DD; showing the default range.",)


def test_custom_range_and_previous_period():
    params = {"preset": "custom", "start": "2011-11-30", "end": "2011-11-01"}
    report = _resolved(params)

    assert (report.start, report.end) == (date(2011, 11, 1), date(2011, 11, 30))
    assert (report.previous().start, report.previous().end) == (date(2011, 10, 2), date(2011, 10, 31))
    assert "start=2011-11-01" in report.query()


def test_drill_down_links_and_breadcrumb(client, cast):
    master = _get(client, cast["admin"], reverse("reports:master"))
    countries = master.context["charts"][1]["figure"]["data"][0]
    assert countries["customdata"][countries["y"].index("GB")].startswith("/reports/GB/?")

    shop_page = _get(client, cast["admin"], f"{reverse('reports:country', args=['GB'])}?shop=UK-LON")
    assert [c.label for c in shop_page.context["breadcrumb"]] == ["All countries", "UK", "Shop UK-LON"]
    product_url = shop_page.context["product_rows"][0]["url"]
    assert "shop=UK-LON" in product_url and "product=P-UK-LON-" in product_url

    lines = _get(client, cast["admin"], f"{reverse('reports:lines')}?country=GB&shop=UK-LON&product=P-UK-LON-1")
    assert [c.label for c in lines.context["breadcrumb"]][-2:] == ["Product P-UK-LON-1", "Order lines"]
    row = lines.context["rows"][0]
    assert (row["store_id"], row["order_date"], row["file_name"]) == ("UK-LON", LAST_DAY, "sales-UK-LON.csv")
    assert row["upload_url"] == reverse("uploads:detail", args=[row["upload_id"]])


def test_shop_manager_drills_into_the_master_page_not_a_country_page(client, cast):
    response = _get(client, cast["mgr_uk_lon"], reverse("reports:master"))

    assert response.context["shop_rows"][0]["url"].startswith("/reports/?")


def test_coverage_grid_shows_the_gap_and_kpis_say_the_period_is_incomplete(client, cast):
    coverage = _get(client, cast["head_uk"], reverse("reports:coverage"))
    rows = {r["shop"]: r for r in coverage.context["grid"]["rows"]}
    missing = {c["day"] for c in rows["UK-MAN"]["cells"] if c["state"] == "missing"}
    assert missing == GAPS["UK-MAN"]
    assert rows["UK-LON"]["missing"] == 0
    sunday = LAST_DAY - timedelta(days=5)
    assert {c["state"] for c in rows["UK-LON"]["cells"] if c["day"] == sunday} == {"covered"}

    dashboard = _get(client, cast["head_uk"], reverse("reports:country", args=["GB"]))
    assert "5 shop-days have no upload (UK-MAN)" in dashboard.context["completeness"].note
    complete = _get(client, cast["head_uk"], f"{reverse('reports:country', args=['GB'])}?shop=UK-LON")
    assert complete.context["completeness"].complete


def test_shops_late_with_their_uploads(client, cast):
    Shop.objects.filter(code__in=["UK-LON", "UK-MAN"]).update(expected_upload_every_days=7)
    Upload.objects.filter(shop__code="UK-LON").update(created_at=date.today() - timedelta(days=3))
    Upload.objects.filter(shop__code="UK-MAN").update(created_at=date.today() - timedelta(days=10))

    response = _get(client, cast["head_uk"], reverse("reports:coverage"))

    assert [(s.code, s.days_late) for s in response.context["late"]] == [("UK-MAN", 3)]


def test_csv_export_is_the_filtered_rows_with_formulas_neutralised(client, cast):
    url = f"{reverse('reports:export', args=['lines', 'csv'])}?preset=custom&start=2011-09-01&end=2011-09-01"
    rows = _csv(_get(client, cast["mgr_us_nyc"], url))

    assert [r["product_name"] for r in rows if r["source_row"] == "1"] == ["'" + FORMULA_NAME]
    assert {r["store_id"] for r in rows} == {"US-NYC"}
    assert {r["order_date"] for r in rows} == {"2011-09-01"}


def test_xlsx_export_streams_a_workbook_with_numbers_and_neutralised_text(client, cast):
    url = f"{reverse('reports:export', args=['products', 'xlsx'])}?preset=year&shop=US-NYC"
    response = _get(client, cast["admin"], url)

    assert response.streaming
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content)), read_only=True).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("product_id", "product_name", "revenue", "orders", "units")
    assert isinstance(rows[1][2], float)
    assert all(not str(r[1]).startswith("=") for r in rows[1:])


def test_looker_tab_explains_the_setup_when_no_report_is_set(client, cast):
    response = _get(client, cast["head_uk"], reverse("reports:looker"))

    assert b"embed URL" in response.content
    assert "frame-src" not in response["Content-Security-Policy"]


def test_looker_tab_embeds_the_regions_report_with_the_viewers_country(client, cast):
    base = "https://lookerstudio.google.com/embed/reporting/abc/page/p1"
    LookerStudioReport.objects.create(region=None, embed_url=base.replace("abc", "global"))
    LookerStudioReport.objects.create(region=Region.objects.get(country_code="GB"), embed_url=base,
                                      region_parameter="ds0.country")  # fmt: skip

    response = _get(client, cast["head_uk"], reverse("reports:looker"))

    assert response.context["looker_url"] == f"{base}?params=%7B%22ds0.country%22%3A+%22GB%22%7D"
    assert "frame-src https://lookerstudio.google.com" in response["Content-Security-Policy"]
    assert "global" in _get(client, cast["head_us"], reverse("reports:looker")).context["looker_url"]


def test_looker_url_must_be_an_embed_url_of_looker_studio(cast):
    from django.core.exceptions import ValidationError

    report = LookerStudioReport(embed_url="https://evil.example/embed/reporting/x")
    with pytest.raises(ValidationError):
        report.full_clean()


def test_empty_state_says_why(client, cast):
    url = f"{reverse('reports:master')}?preset=custom&start=2020-01-01&end=2020-01-31"
    response = _get(client, cast["admin"], url)

    assert not response.context["has_data"]
    assert "latest sales in your scope are from 09 Dec 2011" in response.context["empty_reason"]
