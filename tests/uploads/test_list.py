"""/uploads/ lists the uploads in the viewer's scope, filterable by status, shop and date, paged."""

import datetime as dt

import pytest
from django.utils import timezone

from apps.accounts.models import Shop
from apps.uploads.models import Upload


def _uploads(spec: list[tuple[str, str, int]]) -> None:
    """Upload records (shop, status, days ago) without files: the list reads records only."""
    now = timezone.now()
    for i, (shop, status, days_ago) in enumerate(spec):
        Upload.objects.create(
            shop=Shop.objects.get(code=shop),
            original_name=f"file{i}.csv",
            sha256=f"{i:064x}",
            status=status,
            created_at=now - dt.timedelta(days=days_ago, seconds=i),
        )


def _names(page) -> list[str]:
    return [u.original_name for u in page.context["page"].object_list]


@pytest.fixture
def spread(cast) -> None:
    _uploads(
        [
            ("US-NYC", "loaded", 0),
            ("US-SFO", "failed", 1),
            ("UK-LON", "loaded", 2),
            ("US-NYC", "rejected", 10),
            ("FR-PAR", "queued", 0),
        ]
    )


@pytest.mark.parametrize(
    ("username", "expected"),
    [
        ("mgr_us_nyc", ["file0.csv", "file3.csv"]),
        ("head_us", ["file0.csv", "file1.csv", "file3.csv"]),
        ("head_uk", ["file2.csv"]),
        ("admin", ["file0.csv", "file4.csv", "file1.csv", "file2.csv", "file3.csv"]),
    ],
)
def test_each_role_lists_only_its_scope_newest_first(client_of, spread, username, expected):
    assert _names(client_of(username).get("/uploads/")) == expected


def test_filters_by_status_shop_and_dates(client_of, spread):
    client = client_of("admin")
    today = timezone.localdate()

    assert _names(client.get("/uploads/", {"status": "loaded"})) == ["file0.csv", "file2.csv"]
    assert _names(client.get("/uploads/", {"shop": "US-NYC"})) == ["file0.csv", "file3.csv"]
    since = (today - dt.timedelta(days=1)).isoformat()
    assert _names(client.get("/uploads/", {"date_from": since})) == ["file0.csv", "file4.csv", "file1.csv"]
    until = (today - dt.timedelta(days=2)).isoformat()
    assert _names(client.get("/uploads/", {"date_to": until, "shop": "US-NYC"})) == ["file3.csv"]


def test_shop_filter_offers_only_shops_in_scope_and_an_outside_shop_is_ignored(client_of, spread):
    page = client_of("mgr_us_nyc").get("/uploads/", {"shop": "UK-LON"})

    assert page.status_code == 200
    assert [c for c, _ in page.context["filter_form"].fields["shop"].choices] == ["", "US-NYC"]
    assert _names(page) == ["file0.csv", "file3.csv"]  # the bad value is dropped, not obeyed


def test_list_is_paged_by_25_and_keeps_the_filters_in_the_page_links(client_of, cast):
    _uploads([("US-NYC", "loaded", 0)] * 30)
    client = client_of("mgr_us_nyc")

    first = client.get("/uploads/", {"status": "loaded"})
    second = client.get("/uploads/", {"status": "loaded", "page": 2})

    assert len(_names(first)) == 25 and len(_names(second)) == 5
    assert "?status=loaded&amp;page=2" in first.text
    assert "Page 2 of 2 · 30 uploads" in second.text


def test_manager_with_two_shops_chooses_among_both(client_of, cast):
    cast["mgr_us_nyc"].profile.shops.add(Shop.objects.get(code="US-SFO"))

    page = client_of("mgr_us_nyc").get("/uploads/")

    assert list(page.context["form"].fields["shop"].queryset.values_list("code", flat=True)) == ["US-NYC", "US-SFO"]


def test_page_states_the_limits_from_settings(client_of, settings):
    settings.UPLOAD_MAX_BYTES = 200 * 1024 * 1024

    page = client_of("mgr_us_nyc").get("/uploads/")

    assert "up to 200.0\xa0MB each" in page.text
    assert 'data-max-bytes="209715200"' in page.text
