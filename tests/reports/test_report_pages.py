from datetime import date

import pytest
from django.urls import reverse

from tests.conftest import PASSWORD
from tests.reports.facts import facts, fast_password_hashing  # noqa: F401 (fixtures)

pytestmark = pytest.mark.usefixtures("facts")


@pytest.fixture
def login(client, cast):
    def as_user(username: str):
        assert client.login(username=username, password=PASSWORD)
        return client

    return as_user


def test_master_report_defaults_to_the_latest_data_not_today(login):
    response = login("admin").get(reverse("reports:master"))

    assert response.status_code == 200
    report = response.context["report"]
    assert report.end == date(2011, 12, 9)
    assert report.start == date(2011, 9, 11)
    assert [t["key"] for t in response.context["kpis"]] == [
        "revenue",
        "orders",
        "units",
        "aov",
        "return_rate",
        "shops",
    ]


def test_country_page_shows_local_currency_revenue(login):
    response = login("head_uk").get(reverse("reports:country", args=["GB"]))

    tiles = {t["key"]: t for t in response.context["kpis"]}
    assert tiles["revenue_local"]["value"].endswith("GBP")
    assert tiles["shops"]["value"] == "2"
