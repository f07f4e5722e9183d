"""Issue 18, point 4: a regional head sees every row of their region's shops, whatever the
customer's country, and the rows of their countries sold by other shops; a row of a country
no region covers counts under its shop's region. An upload's files are open to exactly
those who see all its rows. Real files of five shops (tests/reports/regions_mix.py); every
figure is compared with the warehouse's own count under the rule written in the test."""

import json
import re

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token

from apps.uploads.models import Upload
from tests.reports.regions_mix import expected_where, warehouse_figures

VIEWERS = ["admin", "head_us", "head_uk", "head_fr", "head_au", "mgr_us_nyc", "mgr_uk_lon", "mgr_fr_par", "mgr_au_syd"]
ALL_TIME = "preset=all"
# Who may open an upload's files (raw, rejected rows, problems): its shop's manager, its
# region's head, admins. By shop: the other viewers see none of its files.
FILE_READERS = {
    "UK-LON": {"admin", "head_uk", "mgr_uk_lon"},
    "UK-MAN": {"admin", "head_uk"},
    "US-NYC": {"admin", "head_us", "mgr_us_nyc"},
    "AU-SYD": {"admin", "head_au", "mgr_au_syd"},
    "FR-PAR": {"admin", "head_fr", "mgr_fr_par"},
}
ROWS_HELD = {
    "admin": "Every shop's sales, to customers in every country.",
    "head_uk": "UK shops' sales (to customers anywhere), and other shops' sales to UK customers.",
    "head_au": "Australia shops' sales (to customers anywhere), and other shops' sales to Australia customers.",
    "mgr_uk_lon": "Your shop's sales (UK-LON), to customers anywhere.",
}


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _kpi(text: str, name: str) -> str:
    return re.search(rf'data-kpi="{name}"[^>]*>\s*<span>[^<]*</span>\s*<strong>([^<]*)<', text).group(1)


def _json(response) -> dict:
    return json.loads(b"".join(response.streaming_content) if response.streaming else response.content)


@pytest.mark.parametrize("username", VIEWERS)
def test_every_report_path_holds_exactly_the_rows_of_the_rule(cast, regions_mix, username):
    client = _client(cast[username])
    want = warehouse_figures(expected_where(cast[username]))
    assert want["lines"] > 0

    page = client.get(f"{reverse('reports:master')}?{ALL_TIME}")
    kpis = _json(client.get(f"{reverse('reports:export', args=['kpis', 'json'])}?{ALL_TIME}"))
    lines = _json(client.get(f"{reverse('reports:export', args=['lines', 'json'])}?{ALL_TIME}"))
    by_shop = _json(client.get(f"{reverse('reports:export', args=['by_shop', 'json'])}?{ALL_TIME}"))

    assert _kpi(page.text, "revenue") == f"{want['revenue']:,.2f} USD"
    assert _kpi(page.text, "orders") == f"{want['orders']:,}"
    figures = {row[0]: row[1] for row in kpis["rows"]}
    assert (figures["orders"], figures["revenue"]) == (want["orders"], pytest.approx(want["revenue"]))
    assert len(lines["rows"]) == want["lines"] and not lines["truncated"]
    assert sum(row[2] for row in by_shop["rows"]) == pytest.approx(want["revenue"])
    if username in ROWS_HELD:
        assert f"Figures hold: {ROWS_HELD[username]}".replace("'", "&#x27;") in page.text


def test_a_head_sees_their_region_shops_sales_to_every_country(cast, regions_mix):
    client = _client(cast["head_uk"])

    london = client.get(f"{reverse('reports:master')}?{ALL_TIME}&shop=UK-LON")

    everything_sold = warehouse_figures("store_id = 'UK-LON'")
    assert warehouse_figures("store_id = 'UK-LON' AND country_code <> 'GB'")["lines"] > 0
    assert _kpi(london.text, "revenue") == f"{everything_sold['revenue']:,.2f} USD"


def test_a_head_sees_another_regions_shop_only_by_its_sales_to_their_country_and_not_its_files(cast, regions_mix):
    # UK-LON sold to French customers: head_fr sees those rows (drill-down, order lines),
    # marked as another region's shop, and none of the upload's files.
    client = _client(cast["head_fr"])
    french = warehouse_figures("store_id = 'UK-LON' AND country_code = 'FR'")
    assert french["lines"] > 0

    drill = client.get(f"{reverse('reports:master')}?{ALL_TIME}&shop=UK-LON")
    lines = client.get(f"{reverse('reports:lines')}?{ALL_TIME}&shop=UK-LON")
    master = client.get(f"{reverse('reports:master')}?{ALL_TIME}")

    assert _kpi(drill.text, "revenue") == f"{french['revenue']:,.2f} USD"
    assert {(r["store_id"], r["country_code"]) for r in lines.context["rows"]} == {("UK-LON", "FR")}
    assert len(lines.context["rows"]) == french["lines"]
    london = regions_mix["london"]
    assert all(r["file_name"] == "" for r in lines.context["rows"])  # no link to a file they may not open
    assert str(london.id) not in lines.text.replace(str(london.id)[:8], "")  # only the id's first characters
    partial = [r for r in master.context["shop_rows"] if r["store_id"] == "UK-LON"]
    assert partial and all(r["partial"] for r in partial)
    assert client.get(reverse("uploads:raw", args=[london.id])).status_code == 404


def test_rows_of_countries_no_region_covers_count_under_their_shops_region(cast, regions_mix):
    german = warehouse_figures("store_id = 'AU-SYD'")
    assert german == warehouse_figures("store_id = 'AU-SYD' AND country_code = 'DE'")

    au = _client(cast["head_au"]).get(f"{reverse('reports:master')}?{ALL_TIME}&shop=AU-SYD")
    admin_de = _client(cast["admin"]).get(f"{reverse('reports:master')}?{ALL_TIME}&country=DE")

    assert _kpi(au.text, "revenue") == f"{german['revenue']:,.2f} USD"
    # Every German row is some head's: AU-SYD's under Australia, UK-LON's under the UK.
    de = warehouse_figures("country_code = 'DE'")
    assert de["lines"] > german["lines"]
    assert _kpi(admin_de.text, "revenue") == f"{de['revenue']:,.2f} USD"
    for username in ("head_us", "head_uk", "head_fr"):
        page = _client(cast[username]).get(f"{reverse('reports:master')}?{ALL_TIME}&country=DE")
        sold = warehouse_figures(f"country_code = 'DE' AND {expected_where(cast[username])}")
        assert _kpi(page.text, "revenue") == f"{sold['revenue']:,.2f} USD", username


def test_the_coverage_page_shows_the_uploads_of_a_shop_whose_rows_are_all_for_uncovered_countries(cast, regions_mix):
    # Before: head_au's coverage said AU-SYD never uploaded (its rows were nobody's but the admins').
    response = _client(cast["head_au"]).get(f"{reverse('reports:coverage')}?{ALL_TIME}")

    rows = {row["shop"]: row for row in response.context["grid"]["rows"]}
    states = {cell["state"] for cell in rows["AU-SYD"]["cells"]}
    assert "sales" in states and rows["AU-SYD"]["missing"] == 0
    assert rows["AU-MEL"]["missing"] == len(response.context["grid"]["days"])  # no upload at all


def test_the_upload_page_names_the_rows_for_countries_outside_any_region(cast, regions_mix):
    london, sydney = regions_mix["london"], regions_mix["sydney"]
    counts = london.report["countries"]
    outside = {c: n for c, n in counts.items() if c not in {"US", "GB", "FR", "AU"}}
    assert sum(counts.values()) == london.rows_loaded and outside  # Germany, Ireland, ...
    in_warehouse = warehouse_figures(f"upload_id = '{london.id}' AND country_code NOT IN ('US', 'GB', 'FR', 'AU')")
    assert sum(outside.values()) == in_warehouse["lines"]

    page = _client(cast["mgr_au_syd"]).get(reverse("uploads:detail", args=[sydney.id])).text
    api = Client(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=cast['mgr_uk_lon']).key}")
    body = api.get(reverse("api:upload", args=[london.id])).json()

    german = f"{sydney.rows_loaded:,} rows are for countries outside any region: Germany ({sydney.rows_loaded:,})."
    assert german in page
    assert "They count under the shop&#x27;s region (Australia)" in page
    assert body["countries"] == counts
    assert body["outside_regions"].startswith(f"{sum(outside.values()):,} rows are for countries outside any region: ")
    assert "Germany (5)" in body["outside_regions"]


@pytest.mark.parametrize("username", VIEWERS)
def test_an_uploads_files_are_open_to_exactly_those_who_see_all_its_rows(cast, regions_mix, username):
    web = _client(cast[username])
    api = Client(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=cast[username]).key}")
    wrong = []
    for upload in Upload.objects.select_related("shop"):
        allowed = username in FILE_READERS[upload.shop.code]
        got = {
            "page": web.get(reverse("uploads:detail", args=[upload.id])).status_code,
            "raw": web.get(reverse("uploads:raw", args=[upload.id])).status_code,
            "api": api.get(reverse("api:upload", args=[upload.id])).status_code,
        }
        if upload.rows_rejected:  # the London file's rows of countries that are no country
            got["rejected"] = web.get(reverse("uploads:rejected", args=[upload.id, "csv"])).status_code
            got["api rejected"] = api.get(reverse("api:upload-rejected", args=[upload.id])).status_code
        if set(got.values()) != {200 if allowed else 404}:
            wrong.append((upload.shop.code, upload.original_name, got))
    assert not wrong, wrong
    assert Upload.objects.filter(rows_rejected__gt=0).exists()
