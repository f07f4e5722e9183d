"""accounts.access: who sees what, decided in one place (deny by default). The scope's
predicate over the fact table is tested with the reads (tests/reports/test_report_query.py)."""

import pytest
from django.contrib.auth.models import AnonymousUser

from apps.accounts.access import NO_ACCESS, scope_for
from apps.accounts.models import Profile, Region, Shop
from apps.uploads.models import Upload
from tests.factories import upload_of, user_create

ALL_COUNTRIES = frozenset({"US", "GB", "FR", "AU"})
ALL_SHOPS = frozenset({"US-NYC", "US-SFO", "UK-LON", "UK-MAN", "FR-PAR", "FR-LYS", "AU-SYD", "AU-MEL"})


def test_admin_sees_everything_and_may_upload_for_every_shop(cast):
    scope = scope_for(cast["admin"])

    assert scope.everything
    assert scope.country_codes == ALL_COUNTRIES
    assert scope.upload_shop_codes == ALL_SHOPS
    assert scope.role == Profile.Role.ADMIN


def test_superuser_without_profile_is_an_admin(db):
    root = user_create("root")
    root.is_superuser = True
    root.save()

    assert scope_for(root).everything


def test_profile_admin_role_without_superuser_flag_is_an_admin(cast):
    user = user_create("ops", role=Profile.Role.ADMIN)

    assert scope_for(user).everything


@pytest.mark.parametrize(
    ("username", "country"), [("head_us", "US"), ("head_uk", "GB"), ("head_fr", "FR"), ("head_au", "AU")]
)
def test_regional_head_sees_their_country_and_their_regions_shops_and_uploads_for_no_shop(cast, username, country):
    scope = scope_for(cast[username])

    assert not scope.everything
    assert scope.country_codes == {country}
    # Every row of their region's shops, whatever the customer's country.
    assert scope.shop_codes == set(Shop.objects.filter(region__country_code=country).values_list("code", flat=True))
    assert len(scope.shop_codes) == 2
    assert scope.upload_shop_codes == frozenset()
    assert scope.allows_country(country)
    assert not any(scope.allows_country(other) for other in ALL_COUNTRIES - {country})


@pytest.mark.parametrize(
    ("username", "shop"),
    [("mgr_us_nyc", "US-NYC"), ("mgr_uk_lon", "UK-LON"), ("mgr_fr_par", "FR-PAR"), ("mgr_au_syd", "AU-SYD")],
)
def test_shop_manager_sees_and_uploads_for_their_shop_only(cast, username, shop):
    scope = scope_for(cast[username])

    assert not scope.everything
    assert scope.country_codes == frozenset()
    assert scope.shop_codes == scope.upload_shop_codes == {shop}
    assert scope.can_read_reports
    assert not any(scope.allows_country(c) for c in ALL_COUNTRIES)


def test_anonymous_user_sees_nothing():
    assert scope_for(AnonymousUser()) is NO_ACCESS


def test_user_without_profile_sees_nothing(db):
    assert scope_for(user_create("nobody")) is NO_ACCESS


def test_user_with_profile_but_no_role_sees_nothing_even_with_regions_and_shops(cast):
    user = user_create("drifter", role="")
    user.profile.regions.add(Region.objects.get(country_code="US"))
    user.profile.shops.add(Shop.objects.get(code="US-NYC"))

    assert scope_for(user) is NO_ACCESS


def test_inactive_user_sees_nothing_whatever_their_role(cast):
    head = cast["head_us"]
    head.is_active = False
    head.save()

    assert scope_for(head) is NO_ACCESS


def test_inactive_superuser_sees_nothing(cast):
    admin = cast["admin"]
    admin.is_active = False
    admin.save()

    assert scope_for(admin) is NO_ACCESS


def test_manager_with_no_shops_yet_sees_nothing(cast):
    scope = scope_for(user_create("new_mgr", role=Profile.Role.SHOP_MANAGER))

    assert scope.is_empty
    assert not scope.can_read_reports


def test_empty_scope_denies_by_default():
    assert NO_ACCESS.is_empty
    assert not NO_ACCESS.can_read_reports
    assert not NO_ACCESS.allows_country("US")
    assert NO_ACCESS.upload_shop_codes == frozenset()


@pytest.fixture
def uploads_by_shop(cast, sample) -> dict[str, Upload]:
    """One stored (unprocessed) upload for each of the four managers' shops."""
    path = sample("bernasiakk_usa.csv")
    managers = {"US-NYC": "mgr_us_nyc", "UK-LON": "mgr_uk_lon", "FR-PAR": "mgr_fr_par", "AU-SYD": "mgr_au_syd"}
    return {shop: upload_of(cast[user], shop, path) for shop, user in managers.items()}


def _visible_shops(user) -> set[str]:
    return set(scope_for(user).filter_uploads(Upload.objects.all()).values_list("shop__code", flat=True))


@pytest.mark.parametrize(
    ("username", "shops"),
    [
        ("admin", {"US-NYC", "UK-LON", "FR-PAR", "AU-SYD"}),
        ("head_us", {"US-NYC"}),
        ("head_uk", {"UK-LON"}),
        ("mgr_fr_par", {"FR-PAR"}),
        ("mgr_au_syd", {"AU-SYD"}),
    ],
)
def test_filter_uploads_keeps_only_the_uploads_in_scope(cast, uploads_by_shop, username, shops):
    assert _visible_shops(cast[username]) == shops


def test_regional_head_sees_uploads_of_every_shop_in_their_region(cast, uploads_by_shop, sample):
    upload_of(cast["admin"], "UK-MAN", sample("bernasiakk_usa.csv"))

    assert _visible_shops(cast["head_uk"]) == {"UK-LON", "UK-MAN"}


def test_filter_uploads_gives_a_user_with_no_role_nothing(cast, uploads_by_shop):
    assert _visible_shops(user_create("drifter", role="")) == set()
