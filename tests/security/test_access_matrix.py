"""The access matrix: every URL pattern of the project (read from the URL resolver, so a new
URL without an entry here fails), requested by an anonymous visitor, a user with no role and
each role of the demo cast, gives the expected status. Upload ids out of the viewer's scope
give 404 everywhere (the upload's existence is not revealed), on the web and the API."""

import uuid
from collections.abc import Callable

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.test import Client, RequestFactory
from django.urls import reverse
from rest_framework.authtoken.models import Token

from apps.accounts.models import Shop
from apps.audit.models import AuditEvent
from apps.etl.models import ShopCountryMapping
from apps.reports.models import LookerStudioReport
from apps.uploads.models import CountryAliasRequest, Upload
from apps.uploads.run import upload_run
from tests.factories import upload_of, user_create
from tests.security.urls import Route, admin_model_of, routes, url_of

ANON, NO_ROLE, NO_PROFILE = "anonymous", "no_role", "no_profile"
ROLES = ["admin", "head_us", "head_uk", "head_fr", "head_au", "mgr_us_nyc", "mgr_uk_lon", "mgr_fr_par", "mgr_au_syd"]
VIEWERS = [ANON, NO_ROLE, *ROLES]
# Who may see the US-NYC upload: the admin, the US head and the shop's manager.
SEES_NYC = {"admin", "head_us", "mgr_us_nyc"}
LOGIN = "login"  # a redirect to the login page
ADMIN_LOGIN = "admin login"

Expect = Callable[[str], int | str]


def public(status: int) -> Expect:
    return lambda viewer: status


def signed_in(status: int) -> Expect:
    return lambda viewer: LOGIN if viewer == ANON else status


def upload_page(status: int) -> Expect:
    return lambda viewer: LOGIN if viewer == ANON else status if viewer in SEES_NYC else 404


def report(status: int) -> Expect:
    return lambda viewer: LOGIN if viewer == ANON else 403 if viewer == NO_ROLE else status


def api(status: int, *, nyc: bool = False) -> Expect:
    # Token or session; without either DRF answers 401 (TokenAuthentication's challenge).
    return lambda viewer: 401 if viewer == ANON else (status if viewer in SEES_NYC else 404) if nyc else status


def country_us(viewer: str) -> int | str:
    return LOGIN if viewer == ANON else 403 if viewer == NO_ROLE else 200 if viewer in {"admin", "head_us"} else 404


def mapping_step(viewer: str) -> int | str:
    # Only whoever uploads for the shop may map its files; this one needs no mapping, so
    # they are sent to its page. The US head sees the upload but may not act on it.
    return {ANON: LOGIN, "admin": 302, "mgr_us_nyc": 302, "head_us": 403}.get(viewer, 404)


SITE: dict[str, Expect] = {
    "home": lambda viewer: LOGIN if viewer == ANON else 302,
    # Probes and the Prometheus scraper: no login, no data (see docs/reliability.md).
    "healthz": public(200),
    "readyz": public(200),
    "metrics": public(200),
    "login": public(200),
    "logout": public(405),  # POST only (CSRF-protected, see test_csrf.py)
    "uploads:index": signed_in(200),
    "uploads:detail": upload_page(200),
    "uploads:status": upload_page(200),
    "uploads:decision": signed_in(405),  # POST only; its IDOR is tested below
    "uploads:plausibility": signed_in(405),  # POST only; its IDOR is tested below
    "uploads:overlap": signed_in(405),  # POST only; its IDOR is tested below
    "uploads:sheet": signed_in(405),  # POST only; its IDOR is tested below
    "uploads:dates": signed_in(405),  # POST only; its IDOR is tested below
    "uploads:countries": signed_in(405),  # POST only; its IDOR is tested below
    "uploads:alias_request_decision": signed_in(405),  # POST only; admins only (test_country_fixes.py)
    "uploads:raw": upload_page(200),
    "uploads:rejected": upload_page(200),
    "reports:master": report(200),
    "reports:lines": report(200),
    "reports:coverage": report(200),
    "reports:looker": report(200),
    "reports:export": report(200),
    "reports:country": country_us,
    "uploads:mapping": mapping_step,
    "mapping-moved": public(301),  # to uploads:mapping, which decides who may see it
    "api:schema": api(200),
    "api:token": public(405),  # POST only: username and password in, token out
    "api:uploads": api(200),
    "api:upload": api(200, nyc=True),
    "api:upload-rejected": api(200, nyc=True),
    "api:upload-decision": api(405),
    "api:upload-plausibility": api(405),
    "api:upload-overlap": api(405),
    "api:upload-sheet": api(405),
}

# The admin: only staff get in; everyone else is sent to the admin's login page.
ADMIN_FOR_ADMIN = {
    "admin:login": 302,  # already signed in: on to the admin index
    "admin:logout": 405,  # POST only
    "admin:autocomplete": 403,  # without its parameters
    "admin:view_on_site": 404,  # shops have no public page
    "admin:uploads_upload_warehouse_sync": 405,  # POST only
    "admin:uploads_schema_preview": 302,  # its findings as messages on the sales schemas' list
    "admin/(?P<url>.*)$": 404,
}


def admin_expected(route: Route, viewer: str, admin_request) -> int | str:
    if viewer != "admin":
        return {"admin:login": 200, "admin:logout": 302}.get(route.key, ADMIN_LOGIN)
    if route.key in ADMIN_FOR_ADMIN:
        return ADMIN_FOR_ADMIN[route.key]
    if not route.named:
        return 302  # /admin/<app>/<model>/<id>/ redirects to the change page
    model = admin_model_of(route)
    if model is not None:
        model_admin = admin.site._registry[model]
        view = route.key.rsplit("_", 1)[1]
        if view == "add" and not model_admin.has_add_permission(admin_request):
            return 403
        if view == "delete" and not model_admin.has_delete_permission(admin_request):
            return 403
    return 200


def expected(route: Route, viewer: str, admin_request) -> int | str | None:
    if route.is_admin:
        return admin_expected(route, viewer, admin_request)
    entry = SITE.get(route.key)
    return entry(viewer) if entry else None


def _status(response) -> int | str:
    if response.status_code == 302 and response["Location"].startswith(reverse("login") + "?next="):
        return LOGIN
    if response.status_code == 302 and response["Location"].startswith(reverse("admin:login") + "?next="):
        return ADMIN_LOGIN
    return response.status_code


@pytest.fixture
def every_admin_model_has_a_row(cast, nyc_upload):
    Group.objects.create(name="auditors")
    Token.objects.create(user=cast["admin"])
    AuditEvent.objects.create(username="admin", action=AuditEvent.Action.REPORT_EXPORT, target="kpis.csv")
    LookerStudioReport.objects.create(embed_url="https://lookerstudio.google.com/embed/reporting/abc/page/1")
    ShopCountryMapping.objects.create(shop=nyc_upload.shop, value="UNSPECIFIED", country_code="US")
    CountryAliasRequest.objects.create(upload=nyc_upload, value="CHANNEL ISLANDS", country_code="GB")


def test_every_url_pattern_has_an_entry_in_the_matrix():
    missing = [r.key for r in routes() if not r.is_admin and r.key not in SITE]
    assert not missing, f"add these URLs to SITE in {__name__}: {missing}"
    assert not set(SITE) - {r.key for r in routes()}, "entries for URLs that no longer exist"


def test_the_access_matrix_over_every_url_and_viewer(cast, nyc_upload, no_role, every_admin_model_has_a_row):
    # A user without any profile is treated exactly as one whose profile has no role.
    users = {ANON: None, NO_ROLE: no_role, NO_PROFILE: user_create("no-profile"), **{n: cast[n] for n in ROLES}}
    admin_request = RequestFactory().get("/admin/")
    admin_request.user = cast["admin"]
    values = {
        "upload_id": nyc_upload.id,
        "fmt": "csv",
        "dataset": "kpis",
        "country_code": "US",
        "app_label": "accounts",
        "content_type_id": ContentType.objects.get_for_model(Shop).pk,
        "object_id": Shop.objects.get(code="US-NYC").pk,
        "request_id": 1,
    }
    wrong = []
    for route in routes():
        url = url_of(route, values)
        for viewer, user in users.items():
            if route.is_admin and viewer not in (ANON, NO_ROLE, "admin", "head_us", "mgr_us_nyc"):
                continue  # the admin only asks "staff or not": one head and one manager suffice
            client = Client()
            if user is not None:
                client.force_login(user)
            as_viewer = NO_ROLE if viewer == NO_PROFILE else viewer
            got, want = _status(client.get(url)), expected(route, as_viewer, admin_request)
            if got != want:
                wrong.append((route.key, url, viewer, got, want))
    assert not wrong, "\n".join(map(str, wrong))


OUT_OF_SCOPE = ["head_uk", "head_fr", "head_au", "mgr_uk_lon", "mgr_fr_par", "mgr_au_syd"]


def _web(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _api(user) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")


def _idor_requests(upload_id) -> list[tuple[str, str, str, dict]]:
    """(client kind, method, url, data) for everything that takes an upload id."""
    return [
        ("web", "get", reverse("uploads:detail", args=[upload_id]), {}),
        ("web", "get", reverse("uploads:status", args=[upload_id]), {}),
        ("web", "get", reverse("uploads:raw", args=[upload_id]), {}),
        ("web", "get", reverse("uploads:rejected", args=[upload_id, "csv"]), {}),
        ("web", "get", reverse("uploads:rejected", args=[upload_id, "xlsx"]), {}),
        ("web", "get", reverse("uploads:mapping", args=[upload_id]), {}),
        ("web", "post", reverse("uploads:mapping", args=[upload_id]), {"field-order_id": "InvoiceNo"}),
        ("web", "post", reverse("uploads:decision", args=[upload_id]), {"choice": "cancel"}),
        ("web", "post", reverse("uploads:plausibility", args=[upload_id]), {"choice": "cancel"}),
        ("web", "post", reverse("uploads:overlap", args=[upload_id]), {"choice": "cancel"}),
        ("web", "post", reverse("uploads:sheet", args=[upload_id]), {"sheet": "Sheet1"}),
        ("web", "post", reverse("uploads:dates", args=[upload_id]), {"date_order": "MDY"}),
        ("web", "post", reverse("uploads:countries", args=[upload_id]), {"value": "X", "country_code": "GB"}),
        ("api", "get", reverse("api:upload", args=[upload_id]), {}),
        ("api", "get", reverse("api:upload-rejected", args=[upload_id]), {}),
        ("api", "post", reverse("api:upload-decision", args=[upload_id]), {"choice": "cancel"}),
        ("api", "post", reverse("api:upload-plausibility", args=[upload_id]), {"choice": "cancel"}),
        ("api", "post", reverse("api:upload-overlap", args=[upload_id]), {"choice": "cancel"}),
        ("api", "post", reverse("api:upload-sheet", args=[upload_id]), {"sheet": "Sheet1"}),
    ]


@pytest.mark.parametrize("username", OUT_OF_SCOPE)
def test_an_upload_out_of_scope_is_404_on_every_page_download_action_and_api(cast, nyc_upload, username):
    user = cast[username]
    clients = {"web": _web(user), "api": _api(user)}
    before = Upload.objects.values_list("status", "message").get(pk=nyc_upload.pk)

    for kind, method, url, data in _idor_requests(nyc_upload.id):
        response = getattr(clients[kind], method)(url, data)
        assert response.status_code == 404, (username, method, url, response.status_code)
        assert "march.csv" not in response.content.decode(errors="replace")

    assert Upload.objects.values_list("status", "message").get(pk=nyc_upload.pk) == before
    assert not AuditEvent.objects.exists()


def test_an_unknown_upload_id_looks_exactly_like_one_out_of_scope(cast):
    clients = {"web": _web(cast["admin"]), "api": _api(cast["admin"])}

    for kind, method, url, data in _idor_requests(uuid.uuid4()):
        assert getattr(clients[kind], method)(url, data).status_code == 404, url


def test_lists_name_no_upload_out_of_scope(cast, nyc_upload):
    for username in OUT_OF_SCOPE:
        page = _web(cast[username]).get(reverse("uploads:index")).content.decode()
        listed = _api(cast[username]).get(reverse("api:uploads")).json()
        assert str(nyc_upload.id) not in page
        assert listed == [] or str(nyc_upload.id) not in {u["status_url"] for u in listed}


def test_a_regional_head_may_see_an_upload_of_their_region_but_not_act_on_it(cast, nyc_upload):
    head = _web(cast["head_us"])

    assert head.post(reverse("uploads:decision", args=[nyc_upload.id]), {"choice": "cancel"}).status_code == 403
    assert head.post(reverse("uploads:plausibility", args=[nyc_upload.id]), {"choice": "cancel"}).status_code == 403
    assert head.post(reverse("uploads:mapping", args=[nyc_upload.id]), {}).status_code == 403
    assert head.post(reverse("uploads:sheet", args=[nyc_upload.id]), {"sheet": "Sheet1"}).status_code == 403
    assert head.post(reverse("uploads:dates", args=[nyc_upload.id]), {"date_order": "MDY"}).status_code == 403
    countries = {"value": "Unspecified", "country_code": "US", "action": "map"}
    assert head.post(reverse("uploads:countries", args=[nyc_upload.id]), countries).status_code == 403
    url = reverse("api:upload-decision", args=[nyc_upload.id])
    api = _api(cast["head_us"]).post(url, {"choice": "cancel"}, content_type="application/json")
    assert api.status_code == 403
    url = reverse("api:upload-sheet", args=[nyc_upload.id])
    assert _api(cast["head_us"]).post(url, {"sheet": "Sheet1"}, content_type="application/json").status_code == 403
    url = reverse("api:upload-plausibility", args=[nyc_upload.id])
    assert _api(cast["head_us"]).post(url, {"choice": "cancel"}, content_type="application/json").status_code == 403
    assert Upload.objects.get(pk=nyc_upload.pk).status == nyc_upload.status


def test_metrics_ask_for_the_bearer_token_when_one_is_set(db, settings):
    settings.METRICS_TOKEN = "scraper-secret"

    assert Client().get(reverse("metrics")).status_code == 401
    assert Client(HTTP_AUTHORIZATION="Bearer wrong").get(reverse("metrics")).status_code == 401
    assert Client(HTTP_AUTHORIZATION="Bearer scraper-secret").get(reverse("metrics")).status_code == 200


# -- another region's upload whose rows are partly of the viewer's country (issue 18) ---------

# A real London line (online_retail_sample_sfc.csv, invoice 536365) and the same sold to a
# French customer: head_fr sees that row in the reports, not the upload or its files.
LONDON_FILE = (
    "INVOICE,STOCKCODE,DESCRIPTION,QUANTITY,INVOICEDATE,PRICE,CUSTOMERID,COUNTRY\n"
    "536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,1/12/2010 8:26,2.55,17850,United Kingdom\n"
    "536366,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,1/12/2010 8:28,2.55,17850,France\n"
    "536367,85123A,WHITE HANGING HEART T-LIGHT HOLDER,six,1/12/2010 8:30,2.55,17850,France\n"
)


@pytest.fixture
def london_upload(cast, tmp_path):
    path = tmp_path / "london.csv"
    path.write_text(LONDON_FILE)
    upload = upload_run(upload_id=upload_of(cast["mgr_uk_lon"], "UK-LON", path).id)
    assert upload.status == Upload.Status.LOADED_WITH_ERRORS and upload.rows_loaded == 2
    return upload


@pytest.mark.parametrize("username", ["head_fr", "head_us", "mgr_fr_par"])
def test_a_head_sees_another_regions_upload_rows_of_their_country_but_none_of_its_pages_or_files(
    cast, london_upload, username
):
    user = cast[username]
    clients = {"web": _web(user), "api": _api(user)}
    for kind, method, url, data in _idor_requests(london_upload.id):
        response = getattr(clients[kind], method)(url, data)
        assert response.status_code == 404, (username, method, url, response.status_code)
        assert "london.csv" not in response.content.decode(errors="replace")

    period = "preset=all"
    lines = _web(user).get(f"{reverse('reports:export', args=['lines', 'json'])}?{period}").json()
    page = _web(user).get(f"{reverse('reports:lines')}?{period}").content.decode()
    rows = [dict(zip(lines["columns"], row, strict=True)) for row in lines["rows"]]
    # head_fr: the French row of the London upload, unnamed; the others: nothing of it.
    expected = [("UK-LON", "FR")] if username == "head_fr" else []
    assert [(r["store_id"], r["country_code"]) for r in rows] == expected
    assert all(r["file_name"] == "" for r in rows)
    assert "london.csv" not in page


@pytest.mark.parametrize("username", ["admin", "head_uk", "mgr_uk_lon"])
def test_the_uploads_shop_manager_region_head_and_admins_see_all_its_rows_and_its_files(cast, london_upload, username):
    web = _web(cast[username])

    assert web.get(reverse("uploads:raw", args=[london_upload.id])).status_code == 200
    assert web.get(reverse("uploads:rejected", args=[london_upload.id, "csv"])).status_code == 200
    assert _api(cast[username]).get(reverse("api:upload-rejected", args=[london_upload.id])).status_code == 200
    lines = web.get(f"{reverse('reports:export', args=['lines', 'json'])}?preset=all").json()
    countries = sorted(row[lines["columns"].index("country_code")] for row in lines["rows"])
    assert countries == ["FR", "GB"]
    assert {row[lines["columns"].index("file_name")] for row in lines["rows"]} == {"london.csv"}
