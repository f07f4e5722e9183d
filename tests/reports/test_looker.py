"""The Looker Studio tab (issue 17, point 9): the embed URL's host must be exactly a Looker
Studio host, as a browser reads it; a shop manager's embed passes their shop, and a report
that cannot take one is not shown to them."""

import json
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from apps.accounts.models import Region
from apps.reports.models import LookerStudioReport

GOOD = "https://lookerstudio.google.com/embed/reporting/abc/page/p1"
REFUSED = [
    "https://evil.com\\@lookerstudio.google.com/embed/x",  # browsers: host evil.com
    "https://evil.com\\.lookerstudio.google.com/embed/x",
    "https://user:pass@lookerstudio.google.com/embed/x",
    "https://lookerstudio.google.com@evil.com/embed/x",
    "https://lookerstudio.google.com:8443/embed/x",
    "https://lookerstudio.google.com:443/embed/x",
    "http://lookerstudio.google.com/embed/x",
    "https://lookerstudio.google.com.evil.com/embed/x",
    "https://evil.com/embed/x#lookerstudio.google.com",
    "https://lookerstudio.google.com/reporting/x",  # not the embed URL
    "https:lookerstudio.google.com/embed/x",
    "https://lookerstudio.google.com/embed/x\n",
    "https://lookerstudio.google.com\t/embed/x",
    "javascript:alert(1)//lookerstudio.google.com/embed/",
]


@pytest.mark.parametrize("url", REFUSED)
def test_an_embed_url_whose_host_is_not_exactly_looker_studio_is_refused(db, url):
    with pytest.raises(ValidationError):
        LookerStudioReport(embed_url=url).full_clean()


@pytest.mark.parametrize("url", [GOOD, GOOD.replace("lookerstudio", "datastudio"), GOOD + "?config=%7B%7D"])
def test_an_embed_url_of_looker_studio_is_accepted(db, url):
    LookerStudioReport(embed_url=url).full_clean()


def _params(url: str) -> dict:
    return json.loads(parse_qs(urlsplit(url).query)["params"][0])


def test_a_shop_manager_is_passed_their_shop_and_a_head_their_country(client, cast):
    LookerStudioReport.objects.create(
        region=Region.objects.get(country_code="GB"), embed_url=GOOD, region_parameter="ds0.country",
        shop_parameter="ds0.store",
    )  # fmt: skip

    client.force_login(cast["mgr_uk_lon"])
    manager = client.get(reverse("reports:looker"))
    client.force_login(cast["head_uk"])
    head = client.get(reverse("reports:looker"))

    assert _params(manager.context["looker_url"]) == {"ds0.country": "GB", "ds0.store": "UK-LON"}
    assert b"shop UK-LON" in manager.content
    assert _params(head.context["looker_url"]) == {"ds0.country": "GB"}
    assert "frame-src https://lookerstudio.google.com" in manager["Content-Security-Policy"]


def test_a_report_without_a_shop_parameter_is_not_shown_to_a_shop_manager(client, cast):
    LookerStudioReport.objects.create(region=None, embed_url=GOOD, region_parameter="ds0.country")

    client.force_login(cast["mgr_us_nyc"])
    response = client.get(reverse("reports:looker"))

    assert response.status_code == 200
    assert response.context["looker_url"] == ""
    assert b"<iframe" not in response.content
    assert b"cannot be limited to your shop" in response.content
    assert "frame-src" not in response["Content-Security-Policy"]
    client.force_login(cast["head_us"])
    assert _params(client.get(reverse("reports:looker")).context["looker_url"]) == {"ds0.country": "US"}


def test_a_url_saved_before_the_check_is_not_framed(client, cast):
    bad = "https://evil.com\\@lookerstudio.google.com/embed/x"
    LookerStudioReport.objects.bulk_create([LookerStudioReport(region=None, embed_url=bad)])  # no validation

    client.force_login(cast["admin"])
    response = client.get(reverse("reports:looker"))

    assert b"<iframe" not in response.content
    assert b"not a Looker Studio URL" in response.content
    assert "evil.com" not in response["Content-Security-Policy"]
