"""Injection: script in product and file names comes out escaped in pages, in the charts'
JSON-in-script and in the admin; hostile report filter values never cause a 500 and never
widen the scope; hostile file names are stored under a safe name, inside MEDIA_ROOT."""

import csv
import io
import json
import re
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from apps.accounts.access import scope_for
from apps.accounts.models import Shop
from apps.reports.exports import DATASETS
from apps.uploads.models import Upload
from apps.uploads.run import upload_run
from tests.factories import upload_of
from tests.reports.facts import facts, marker  # noqa: F401 (fixture)
from tests.uploads.helpers import SOME_BAD, post_file

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
PERIOD = "preset=custom&start=2011-04-01&end=2011-04-30"


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _body(response) -> str:
    return (b"".join(response.streaming_content) if response.streaming else response.content).decode()


@pytest.fixture
def hostile_upload(cast, tmp_path):
    """A loaded US-NYC file whose name and product names carry script, and one bad row."""
    out = io.StringIO()
    rows = csv.writer(out)
    rows.writerow(["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "Country"])
    rows.writerow(["1", "A", SCRIPT, "2", "4/19/2011 16:19", "1.50", "USA"])
    rows.writerow(["2", "B", IMG, "1", "4/19/2011 16:19", "3.00", "USA"])
    rows.writerow(["3", "C", SCRIPT, "two", "4/19/2011 16:19", "3.00", "USA"])  # rejected: shows its values
    path = tmp_path / "sales.csv"
    path.write_text(out.getvalue())
    name = f"{IMG}{SCRIPT}.csv"
    upload = upload_run(upload_id=upload_of(cast["mgr_us_nyc"], "US-NYC", path, name=name).id)
    assert upload.rows_loaded == 2 and upload.original_name == name
    return upload


def test_script_in_product_and_file_names_is_escaped_in_pages_charts_and_admin(cast, hostile_upload):
    pages = {
        "mgr_us_nyc": [
            reverse("uploads:index"),
            reverse("uploads:detail", args=[hostile_upload.id]),
            f"{reverse('reports:master')}?{PERIOD}",
            f"{reverse('reports:lines')}?{PERIOD}",
            f"{reverse('reports:master')}?{PERIOD}&country=US&shop=US-NYC&product=A",
        ],
        "admin": [
            f"{reverse('reports:country', args=['US'])}?{PERIOD}",
            reverse("admin:uploads_upload_changelist"),
            reverse("admin:uploads_upload_change", args=[hostile_upload.id]),
        ],
    }
    shown_escaped = 0
    for username, urls in pages.items():
        client = _client(cast[username])
        for url in urls:
            response = client.get(url)
            assert response.status_code == 200, url
            html = _body(response)
            assert SCRIPT not in html and "<img src=x" not in html, url
            shown_escaped += html.count("&lt;script&gt;alert(1)&lt;/script&gt;")
            # Charts: json_script escapes <, > and & inside the <script type="application/json">.
            for blob in re.findall(r'<script id="[^"]+" type="application/json">(.*?)</script>', html, re.S):
                assert "<" not in blob, url
                shown_escaped += blob.count("\\u003Cscript\\u003Ealert(1)")
    assert shown_escaped >= 5  # the names were really on the pages, escaped


def test_script_in_names_stays_data_in_json_and_downloads(cast, hostile_upload):
    client = _client(cast["mgr_us_nyc"])

    status = client.get(reverse("uploads:status", args=[hostile_upload.id]))
    products = client.get(reverse("reports:export", args=["products", "json"]) + f"?{PERIOD}")
    raw = client.get(reverse("uploads:raw", args=[hostile_upload.id]))

    assert status["Content-Type"] == "application/json"
    assert products["Content-Type"] == "application/json"
    assert {SCRIPT, IMG} <= {value for row in json.loads(products.content)["rows"] for value in row}
    # The download's name is quoted into the header, never able to end it or add another.
    disposition = raw["Content-Disposition"]
    assert disposition.startswith("attachment;") and "\n" not in disposition and "\r" not in disposition


PAYLOADS = [
    "' OR 1=1 --",
    '"; DROP TABLE fact_sales; --',
    "GB' OR '1'='1",
    "US-NYC') OR ('1'='1",
    "%' OR store_id LIKE '%",
    "1 UNION SELECT * FROM fact_sales --",
    "$scope_country_0",
    "Ünïcødé 🙂 ﷽ \u202e",
    "\x00",
    "9" * 400,
]
FILTER_PARAMS = ["country", "shop", "product", "category", "preset", "start", "end", "grain", "page"]
BASE = "preset=custom&start=2011-08-01&end=2011-12-31"


def _revenue(client: Client, query: str) -> float:
    response = client.get(f"{reverse('reports:export', args=['kpis', 'json'])}?{query}")
    assert response.status_code == 200, query
    return dict((row[0], row[1]) for row in json.loads(response.content)["rows"])["revenue"]


@pytest.mark.usefixtures("facts")
@pytest.mark.parametrize(("username", "payloads"), [("head_uk", PAYLOADS), ("mgr_fr_par", PAYLOADS[:3])])
def test_hostile_filter_values_never_fail_and_never_widen_the_scope(cast, username, payloads):
    client = _client(cast[username])
    own = _revenue(client, BASE)
    visible = set(scope_for(cast[username]).filter_shops(Shop.objects.all()).values_list("code", flat=True))
    hidden = set(Shop.objects.values_list("code", flat=True)) - visible
    assert own > 0
    urls = []
    for param in FILTER_PARAMS:
        for payload in payloads:
            query = f"{BASE}&{param}={quote(payload)}"
            if param in ("preset", "start", "end"):  # in place of the base period's own value
                query = f"{param}={quote(payload)}&" + BASE.replace(f"{param}=", "x-")
            assert _revenue(client, query) <= own, (param, payload)
            urls.append(f"{reverse('reports:export', args=['by_shop', 'csv'])}?{query}")
            if payload == PAYLOADS[0]:  # the pages and the drill-down, once per parameter
                urls += [f"{reverse(name)}?{query}" for name in ("reports:master", "reports:lines", "reports:coverage")]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        text = _body(response)
        assert not [s for s in hidden if marker(s) in text], url
    # Nothing was dropped: the figures are what they were.
    assert _revenue(client, BASE) == own
    assert _revenue(_client(cast["admin"]), BASE) > own


def test_every_export_survives_hostile_values_for_a_regional_head(cast):
    client = _client(cast["head_uk"])
    query = "&".join(f"{p}={quote(PAYLOADS[1])}" for p in FILTER_PARAMS)
    for name in DATASETS:
        for fmt in ("csv", "xlsx", "json"):
            url = f"{reverse('reports:export', args=[name, fmt])}?{query}"
            assert client.get(url).status_code == 200, url


HOSTILE_NAMES = [
    "../../../../etc/passwd.csv",
    "..\\..\\..\\windows\\system32\\evil.csv",
    "/etc/cron.d/evil.csv",
    "....//....//escape.csv",
    "%2e%2e%2f%2e%2e%2fescape.csv",
    "../x/../..csv",
    " .csv",
    f"{SCRIPT}.csv",
    "name\x00.xlsx.csv",
    "a" * 300 + ".csv",
]
SAFE_PATH = re.compile(r"^raw/US/\d{4}/\d{2}/\d{2}/[0-9a-f-]{36}/[A-Za-z0-9._-]+$")


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


def test_hostile_file_names_are_stored_under_a_safe_name_inside_media_root(cast, tmp_path, data_dir, sample):
    before = _files(tmp_path)
    media = Path(settings.MEDIA_ROOT).resolve()
    stored = []
    for name in HOSTILE_NAMES:
        upload = upload_of(cast["mgr_us_nyc"], "US-NYC", sample("bernasiakk_usa.csv"), name=name)
        assert SAFE_PATH.match(upload.raw_path), (name, upload.raw_path)
        assert ".." not in upload.raw_path.split("/")
        assert upload.raw_path.split("/")[5] == str(upload.id)
        path = (media / upload.raw_path).resolve()
        assert path.is_file() and path.is_relative_to(media)
        stored.append(path)
    assert _files(tmp_path) - before == set(stored)


def test_hostile_file_names_over_http_are_stored_safely_too(cast, data_dir, django_capture_on_commit_callbacks):
    client = _client(cast["mgr_us_nyc"])
    media = Path(settings.MEDIA_ROOT).resolve()
    for name in HOSTILE_NAMES[:5]:
        with django_capture_on_commit_callbacks():
            response = post_file(client, "US-NYC", SOME_BAD.encode(), name=name)
        assert response.status_code in (201, 400), (name, response.status_code)
        if response.status_code == 201:
            upload = Upload.objects.get(pk=response.json()["id"])
            assert SAFE_PATH.match(upload.raw_path), upload.raw_path
            assert (media / upload.raw_path).resolve().is_relative_to(media)
