"""The access matrix: every report page, chart data view, drill-down level and export, for
every role, anonymous and a user without a role. No figure outside the viewer's scope may
appear, including when the query string asks for another country, shop or product."""

import io
import json

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from openpyxl import load_workbook

from apps.accounts.access import scope_for
from apps.accounts.models import Profile, Shop
from apps.reports.exports import DATASETS
from apps.uploads.models import Upload
from tests.conftest import PASSWORD
from tests.reports.facts import facts, fast_password_hashing, marker  # noqa: F401 (fixtures)

pytestmark = pytest.mark.usefixtures("facts")
ROLES = ["admin", "head_us", "head_uk", "head_fr", "head_au", "mgr_us_nyc", "mgr_uk_lon", "mgr_fr_par", "mgr_au_syd"]
SHOP_COUNTRY = {"US-NYC": "US", "US-SFO": "US", "UK-LON": "GB", "UK-MAN": "GB", "FR-PAR": "FR", "FR-LYS": "FR",
                "AU-SYD": "AU", "AU-MEL": "AU"}  # fmt: skip


def _pages(shop: str, country: str) -> list[str]:
    """Every report page, at every drill-down level, for one shop and its country."""
    master, lines = reverse("reports:master"), reverse("reports:lines")
    product = f"P-{shop}-0"
    urls = [
        master,
        f"{master}?country={country}",
        f"{master}?country={country}&shop={shop}",
        f"{master}?country={country}&shop={shop}&product={product}",
        f"{lines}?country={country}&shop={shop}&product={product}",
        lines,
        f"{reverse('reports:coverage')}?country={country}&shop={shop}",
        f"{reverse('reports:looker')}?country={country}",
    ]
    urls += [reverse("reports:country", args=[c]) for c in ("US", "GB", "FR", "AU")]
    return [*urls, f"{reverse('reports:country', args=[country])}?shop={shop}&product={product}"]


def _exports(query: str = "", formats: tuple[str, ...] = ("csv", "xlsx", "json")) -> list[str]:
    """Every export and chart data view (json), with a query string."""
    return [f"{reverse('reports:export', args=[name, fmt])}?{query}" for name in DATASETS for fmt in formats]


def _urls(shop: str, country: str) -> list[str]:
    return _pages(shop, country) + _exports(f"country={country}&shop={shop}")


def _text(response) -> str:
    body = b"".join(response.streaming_content) if response.streaming else response.content
    if response.get("Content-Type", "").startswith("application/vnd.openxml"):
        sheet = load_workbook(io.BytesIO(body), read_only=True).active
        return "\n".join(" ".join(str(v) for v in row if v is not None) for row in sheet.iter_rows(values_only=True))
    return body.decode()


def _visible_shops(user) -> set[str]:
    return set(scope_for(user).filter_shops(Shop.objects.all()).values_list("code", flat=True))


@pytest.fixture
def no_role_user(cast):
    user = get_user_model().objects.create_user("nobody", password=PASSWORD)
    Profile.objects.create(user=user, role="")
    return user


def test_anonymous_visitors_are_sent_to_login_everywhere(client):
    for url in _urls("US-NYC", "US"):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("login")), url


def test_a_user_without_a_role_sees_no_report_and_no_figure(client, no_role_user):
    client.force_login(no_role_user)
    for url in _urls("US-NYC", "US"):
        response = client.get(url)
        assert response.status_code in (403, 404), url
        assert not any(marker(shop) in _text(response) for shop in SHOP_COUNTRY), url


@pytest.mark.parametrize("username", ROLES)
def test_no_figure_outside_the_scope_appears_even_when_asked_for(client, cast, username):
    user = cast[username]
    client.force_login(user)
    visible = _visible_shops(user)
    hidden = set(SHOP_COUNTRY) - visible
    # Own data, plus crafted requests for a shop and country the viewer may not see.
    own = sorted(visible)[0]
    # Own data unfiltered and drilled into, then a shop and country the viewer may not see.
    urls = _exports(formats=("csv",)) + _pages(own, SHOP_COUNTRY[own])
    for shop in sorted(hidden)[:1]:
        urls += _urls(shop, SHOP_COUNTRY[shop])
    for url in urls:
        response = client.get(url)
        assert response.status_code in (200, 404), (url, response.status_code)
        text = _text(response)
        leaked = [s for s in hidden if marker(s) in text]
        assert not leaked, (url, leaked)
        if "product=" not in url:  # a product code typed by the viewer is echoed back
            assert not [s for s in hidden if s in text], url


@pytest.mark.parametrize("username", ["head_uk", "mgr_uk_lon"])
def test_crafted_country_and_shop_give_zero_figures(client, cast, username):
    client.force_login(cast[username])
    url = reverse("reports:export", args=["kpis", "json"])

    figures = json.loads(client.get(f"{url}?country=US&shop=US-NYC").content)

    current = {row[0]: row[1] for row in figures["rows"]}
    assert current["orders"] == 0
    assert current["revenue"] == 0


def test_regional_head_cannot_open_another_countrys_page(client, cast):
    client.force_login(cast["head_uk"])

    assert client.get(reverse("reports:country", args=["US"])).status_code == 404
    assert client.get(reverse("reports:country", args=["GB"])).status_code == 200


def test_order_lines_link_only_to_uploads_in_scope(client, cast):
    client.force_login(cast["head_uk"])

    response = client.get(reverse("reports:lines"))

    links = {row["upload_url"] for row in response.context["rows"]}
    uk_uploads = Upload.objects.filter(shop__region__country_code="GB")
    assert links <= {reverse("uploads:detail", args=[u.id]) for u in uk_uploads}
    assert links
