"""Who may open which report and upload page, and that a scoped page shows nothing more."""

import json
import re

import pytest
from django.test import Client

from apps.accounts.models import Profile
from apps.uploads.models import Upload
from apps.uploads.services import upload_delete_rows
from apps.warehouse.services import warehouse
from tests.factories import upload_loaded, upload_of, user_create

PAGES = ("reports", "reports_US", "reports_GB", "uploads", "us_upload", "us_status", "uk_upload", "uk_status")
# What each role gets for each page, in the order of PAGES (uploads: one of US-NYC, one of UK-LON).
ACCESS = {
    "admin": (200, 200, 200, 200, 200, 200, 200, 200),
    "head_us": (200, 200, 404, 200, 200, 200, 404, 404),
    "head_uk": (200, 404, 200, 200, 404, 404, 200, 200),
    "head_fr": (200, 404, 404, 200, 404, 404, 404, 404),
    "head_au": (200, 404, 404, 200, 404, 404, 404, 404),
    "mgr_us_nyc": (200, 404, 404, 200, 200, 200, 404, 404),
    "mgr_uk_lon": (200, 404, 404, 200, 404, 404, 200, 200),
    "mgr_fr_par": (200, 404, 404, 200, 404, 404, 404, 404),
    "mgr_au_syd": (200, 404, 404, 200, 404, 404, 404, 404),
    # A profile without a role, and a user without a profile: the upload list is empty, the rest denied.
    "no_role": (403, 403, 403, 200, 404, 404, 404, 404),
    "no_profile": (403, 403, 403, 200, 404, 404, 404, 404),
}


@pytest.fixture
def stored_uploads(cast, sample) -> dict[str, Upload]:
    """One upload of each region's file, stored but not processed (access needs no figures)."""
    return {
        "us": upload_of(cast["mgr_us_nyc"], "US-NYC", sample("bernasiakk_usa.csv")),
        "uk": upload_of(cast["mgr_uk_lon"], "UK-LON", sample("online_retail_sample_sfc.csv")),
    }


@pytest.fixture
def loaded_uploads(cast, sample) -> dict[str, Upload]:
    """The same two files run through the pipeline into the warehouse."""
    return {
        "us": upload_loaded(cast["mgr_us_nyc"], "US-NYC", sample("bernasiakk_usa.csv")),
        "uk": upload_loaded(cast["mgr_uk_lon"], "UK-LON", sample("online_retail_sample_sfc.csv")),
    }


def _urls(uploads: dict[str, Upload]) -> dict[str, str]:
    us, uk = uploads["us"].id, uploads["uk"].id
    return {
        "reports": "/reports/",
        "reports_US": "/reports/US/",
        "reports_GB": "/reports/GB/",
        "uploads": "/uploads/",
        "us_upload": f"/uploads/{us}/",
        "us_status": f"/uploads/{us}/status.json",
        "uk_upload": f"/uploads/{uk}/",
        "uk_status": f"/uploads/{uk}/status.json",
    }


def _client_for(cast, username: str) -> Client:
    client = Client()
    if username == "no_role":
        client.force_login(user_create("no_role", role=""))
    elif username == "no_profile":
        client.force_login(user_create("no_profile"))
    else:
        client.force_login(cast[username])
    return client


# Every figure is compared with the warehouse's whole table, so the pages are asked for all
# the years of the test files (ranges are capped at five years) rather than the default
# of the latest 90 days of data.
ALL_TIME = "?preset=custom&start=2009-01-01&end=2013-12-31"


def _chart(response) -> dict | None:
    found = re.search(r'<script id="chart-over-time-data" type="application/json"[^>]*>(.*?)</script>', response.text)
    return json.loads(found.group(1)) if found else None


def _kpi(response, name: str) -> str:
    return re.search(rf'data-kpi="{name}"[^>]*>\s*<span>[^<]*</span>\s*<strong>([^<]*)<', response.text).group(1)


def _total(where: str = "TRUE", **params) -> float:
    sql = f'SELECT coalesce(sum(revenue_reporting), 0) AS total FROM "orders-cleaned" WHERE {where}'
    return float(warehouse().query(sql, params)["total"][0].as_py())


def _money(value: float) -> str:
    return f"{value:,.2f} USD"


# -- the matrix ---------------------------------------------------------------------------


@pytest.mark.parametrize("username", list(ACCESS))
def test_each_role_opens_exactly_the_pages_its_scope_allows(cast, stored_uploads, username):
    client = _client_for(cast, username)

    got = {page: client.get(url).status_code for page, url in _urls(stored_uploads).items()}

    assert got == dict(zip(PAGES, ACCESS[username], strict=True))


def test_anonymous_visitor_is_sent_to_login_from_every_page(cast, stored_uploads):
    for url in _urls(stored_uploads).values():
        response = Client().get(url)
        assert response.status_code == 302, url
        assert response.url.startswith("/accounts/login/?next="), url


def test_deactivated_user_is_logged_out_of_every_page(cast, stored_uploads):
    client = _client_for(cast, "head_us")
    cast["head_us"].is_active = False
    cast["head_us"].save()

    for url in _urls(stored_uploads).values():
        assert client.get(url).status_code == 302, url


# -- an empty warehouse ---------------------------------------------------------------------


def test_reports_open_before_anything_is_loaded(cast):
    response = _client_for(cast, "admin").get("/reports/" + ALL_TIME)

    assert response.status_code == 200
    assert _kpi(response, "revenue") == _money(0)
    assert "No sales in your scope yet" in response.text


def test_reports_open_after_the_only_batch_is_deleted(cast, sample):
    upload = upload_loaded(cast["mgr_us_nyc"], "US-NYC", sample("bernasiakk_usa.csv"))
    client = _client_for(cast, "head_us")
    assert _kpi(client.get("/reports/US/" + ALL_TIME), "revenue") != _money(0)

    upload_delete_rows(upload_id=upload.id)  # the operator's action: the cached figures go with the rows

    response = client.get("/reports/US/" + ALL_TIME)
    assert response.status_code == 200
    assert _kpi(response, "revenue") == _money(0)


# -- what a regional head sees --------------------------------------------------------------


def test_regional_head_sees_every_sale_of_their_shops_and_no_other_regions_shop(cast, loaded_uploads):
    # The London file also holds French and Australian customers' rows: the UK head sees
    # them (their region's shop), and no row of the US-NYC file (no UK customer in it).
    assert _total("store_id = 'UK-LON' AND country_code <> 'GB'") > 0
    response = _client_for(cast, "head_uk").get("/reports/" + ALL_TIME)

    assert response.status_code == 200
    assert '"US"' not in response.text
    chart = _chart(response)
    assert [trace["name"] for trace in chart["data"]] == ["AU", "FR", "GB"]
    uk_rows = _total("store_id IN ('UK-LON', 'UK-MAN') OR country_code = 'GB'")
    assert uk_rows == _total("store_id = 'UK-LON'")
    assert _kpi(response, "revenue") == _money(uk_rows)
    assert sum(sum(trace["y"]) for trace in chart["data"]) == pytest.approx(uk_rows)
    assert _money(_total("country_code = 'US'")) not in response.text
    held = "Figures hold: UK shops&#x27; sales (to customers anywhere), and other shops&#x27; sales to UK customers."
    assert held in response.text


def test_a_country_page_holds_the_rows_of_that_country_even_for_its_regions_head(cast, loaded_uploads):
    # The country views keep the seed's meaning: the UK page is the UK customers' rows.
    response = _client_for(cast, "head_uk").get("/reports/GB/" + ALL_TIME)

    assert [trace["name"] for trace in _chart(response)["data"]] == ["GB"]
    assert _kpi(response, "revenue") == _money(_total("country_code = 'GB'"))
    assert "Figures hold: Sales to UK customers, from every shop." in response.text


def test_regional_head_cannot_see_other_region(cast, loaded_uploads):
    client = _client_for(cast, "head_uk")
    us = loaded_uploads["us"].id

    assert client.get("/reports/US/" + ALL_TIME).status_code == 404
    assert client.get(f"/uploads/{us}/").status_code == 404
    assert client.get(f"/uploads/{us}/status.json").status_code == 404
    assert str(us) not in client.get("/uploads/").text


def test_admin_master_report_shows_every_country_and_the_whole_total(cast, loaded_uploads):
    response = _client_for(cast, "admin").get("/reports/" + ALL_TIME)

    assert [trace["name"] for trace in _chart(response)["data"]] == ["AU", "FR", "GB", "US"]
    assert _kpi(response, "revenue") == _money(_total())


def test_country_report_for_admin_shows_that_country_only(cast, loaded_uploads):
    response = _client_for(cast, "admin").get("/reports/US/" + ALL_TIME)

    assert [trace["name"] for trace in _chart(response)["data"]] == ["US"]
    assert _kpi(response, "revenue") == _money(_total("country_code = 'US'"))


# -- what a shop manager sees ---------------------------------------------------------------


def test_shop_manager_sees_their_shop_figures_only(cast, loaded_uploads):
    response = _client_for(cast, "mgr_us_nyc").get("/reports/" + ALL_TIME)

    assert [trace["name"] for trace in _chart(response)["data"]] == ["US"]
    assert _kpi(response, "revenue") == _money(_total("store_id = 'US-NYC'"))
    assert _kpi(response, "shops") == "1"


def test_shop_manager_of_another_shop_in_the_region_sees_no_figures(cast, loaded_uploads):
    client = Client()
    manager = user_create("mgr_us_sfo", role=Profile.Role.SHOP_MANAGER)
    manager.profile.shops.set(manager.profile.shops.model.objects.filter(code="US-SFO"))
    client.force_login(manager)

    response = client.get("/reports/" + ALL_TIME)

    assert response.status_code == 200
    assert _chart(response) is None
    assert _kpi(response, "revenue") == _money(0)


@pytest.mark.parametrize(("username", "own", "other"), [("mgr_us_nyc", "us", "uk"), ("mgr_uk_lon", "uk", "us")])
def test_shop_manager_lists_only_their_shop_uploads(cast, stored_uploads, username, own, other):
    page = _client_for(cast, username).get("/uploads/").text

    assert f"/uploads/{stored_uploads[own].id}/" in page
    assert f"/uploads/{stored_uploads[other].id}/" not in page


def test_regional_head_lists_the_uploads_of_their_region(cast, stored_uploads):
    page = _client_for(cast, "head_us").get("/uploads/").text

    assert f"/uploads/{stored_uploads['us'].id}/" in page
    assert f"/uploads/{stored_uploads['uk'].id}/" not in page


# -- crafted requests ----------------------------------------------------------------------


CRAFTED_QUERIES = [
    "?country=US",
    "?country_code=US&view=USA_Sales_View",
    "?store_id=US-NYC&shop=US-NYC",
    "?scope=everything&everything=1&role=admin",
    "?where=TRUE",
]


def test_crafted_query_parameters_do_not_widen_the_report(cast, loaded_uploads):
    client = _client_for(cast, "head_uk")
    uk_rows = _money(_total("store_id IN ('UK-LON', 'UK-MAN') OR country_code = 'GB'"))

    for query in CRAFTED_QUERIES:
        crafted = client.get(f"/reports/{ALL_TIME}&{query[1:]}")
        assert crafted.status_code == 200, query
        # A filter outside the scope narrows to nothing; it never shows another region.
        assert _kpi(crafted, "revenue") in (uk_rows, _money(0)), query
        chart = _chart(crafted)
        assert chart is None or [t["name"] for t in chart["data"]] == ["AU", "FR", "GB"], query
        assert _money(_total("country_code = 'US'")) not in crafted.text, query


@pytest.mark.parametrize(
    "path",
    [
        "/reports/us/",
        "/reports/USA_Sales_View/",
        "/reports/Master_Sales_View/",
        "/reports/US' OR '1'='1/",
        "/reports/XX/",
    ],
)
def test_crafted_report_paths_are_not_found_for_a_head_of_another_region(cast, path):
    assert _client_for(cast, "head_uk").get(path).status_code == 404


def test_country_code_in_the_path_is_case_insensitive_for_the_right_head(cast):
    assert _client_for(cast, "head_us").get("/reports/us/").status_code == 200


def test_crafted_upload_list_and_status_parameters_do_not_widen_scope(cast, stored_uploads):
    client = _client_for(cast, "head_uk")
    us = stored_uploads["us"].id

    assert f"/uploads/{us}/" not in client.get("/uploads/?shop=US-NYC&shop__code=US-NYC&all=1").text
    assert client.get(f"/uploads/{us}/status.json?user=admin&scope=everything").status_code == 404
    assert client.get(f"/uploads/{us}/?as=admin").status_code == 404


def test_status_of_an_upload_that_does_not_exist_is_not_found(cast):
    client = _client_for(cast, "admin")

    assert client.get("/uploads/00000000-0000-0000-0000-000000000000/status.json").status_code == 404
    assert client.get("/uploads/not-a-uuid/status.json").status_code == 404


def test_a_head_may_filter_on_another_regions_shop_that_sold_into_their_countries(cast, tmp_path):
    """Rows belong to a head by their country: UK-LON's sales to French customers are in
    head_fr's figures, its bar among their shops, so the shop filter on it holds (and shows
    those rows only); a shop with no rows in their countries is still dropped."""
    path = tmp_path / "london.csv"
    path.write_text(
        "InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice,Country\n"
        "1,A,2,12/09/2011 10:00,1.50,France\n"
        "2,B,1,12/09/2011 10:00,5.00,United Kingdom\n"
    )
    upload_loaded(cast["mgr_uk_lon"], "UK-LON", path)
    client = _client_for(cast, "head_fr")

    kept = client.get(f"/reports/{ALL_TIME}&shop=UK-LON")
    dropped = client.get(f"/reports/{ALL_TIME}&shop=US-NYC")

    assert "That shop is not in your reports" not in kept.text
    assert '<option value="UK-LON" selected>' in kept.text  # so the form keeps it on Apply
    assert _kpi(kept, "revenue") == _money(_total("country_code = 'FR' AND store_id = 'UK-LON'"))
    assert _money(_total("country_code = 'GB'")) not in kept.text
    assert "That shop is not in your reports; the shop filter was dropped." in dropped.text


def test_units_and_orders_in_the_report_tables_have_thousands_separators(cast, tmp_path):
    path = tmp_path / "bulk.csv"
    path.write_text("InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice\n1,A,12345,12/09/2011 10:00,1.50\n")
    upload_loaded(cast["mgr_uk_lon"], "UK-LON", path)

    client = _client_for(cast, "mgr_uk_lon")
    page = client.get(f"/reports/{ALL_TIME}").text
    lines = client.get(f"/reports/lines/{ALL_TIME}").text

    assert '<td class="num">12,345</td>' in page
    assert '<td class="num">12,345</td>' in lines
