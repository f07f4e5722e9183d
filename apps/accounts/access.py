"""The one place that turns a user into what they may see (deny by default).

Every view, selector, export, API endpoint and download takes a Scope from `scope_for`;
no code path builds its own access filter from request parameters. A Scope is data (role,
countries, shops, upload shops) with its ORM filters; the reports write its predicate over
the fact table (apps/reports/query.py), so this app knows nothing of the warehouse.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db.models import Q, QuerySet

from apps.accounts.models import Profile, Region, Shop


@dataclass(frozen=True)
class Scope:
    """The rows a user reads are those of `shop_codes` (whatever the customer's country) and
    those of `country_codes` (whatever the shop); `everything` for admins. The uploads they
    open, and whose files they download, are those of the shops whose rows they read in
    full: `shop_codes` and the shops of the regions of `country_codes`."""

    everything: bool = False
    # Regional heads: their regions' countries; managers: none.
    country_codes: frozenset[str] = field(default_factory=frozenset)
    # Managers: their shops; regional heads: every shop of their regions.
    shop_codes: frozenset[str] = field(default_factory=frozenset)
    # Shops this user may upload for (managers: theirs; admins: all; heads: none).
    upload_shop_codes: frozenset[str] = field(default_factory=frozenset)
    role: str = ""

    @property
    def is_empty(self) -> bool:
        return not (self.everything or self.country_codes or self.shop_codes)

    @property
    def can_read_reports(self) -> bool:
        return not self.is_empty

    def filter_shops(self, shops: QuerySet[Shop]) -> QuerySet[Shop]:
        if self.everything:
            return shops
        return shops.filter(Q(code__in=self.shop_codes) | Q(region__country_code__in=self.country_codes))

    def filter_uploads(self, uploads: QuerySet) -> QuerySet:
        if self.everything:
            return uploads
        return uploads.filter(Q(shop__code__in=self.shop_codes) | Q(shop__region__country_code__in=self.country_codes))

    def allows_country(self, country_code: str) -> bool:
        return self.everything or country_code in self.country_codes


NO_ACCESS = Scope()


def scope_for(user) -> Scope:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return NO_ACCESS
    if user.is_superuser:
        return _admin_scope()
    profile = Profile.objects.filter(user=user).first()
    if profile is None:
        return NO_ACCESS
    if profile.role == Profile.Role.ADMIN:
        return _admin_scope()
    if profile.role == Profile.Role.REGIONAL_HEAD:
        return regional_head_scope(profile.regions.values_list("country_code", flat=True))
    if profile.role == Profile.Role.SHOP_MANAGER:
        shops = frozenset(profile.shops.values_list("code", flat=True))
        return Scope(shop_codes=shops, upload_shop_codes=shops, role=profile.role)
    return NO_ACCESS


def regional_head_scope(country_codes: Iterable[str]) -> Scope:
    """What the head of these regions (by country code) reads: every row of their regions'
    shops, whatever the customer's country (a row of a country no region covers thus counts
    under its shop's region), and the rows of their countries sold by shops elsewhere.
    The warehouse's row access policies (one per region) are written from it too."""
    codes = frozenset(country_codes)
    shops = frozenset(Shop.objects.filter(region__country_code__in=codes).values_list("code", flat=True))
    return Scope(country_codes=codes, shop_codes=shops, role=Profile.Role.REGIONAL_HEAD)


def scope_for_operator() -> Scope:
    """Everything: for commands run by whoever operates the server (`manage.py ingest`)."""
    return _admin_scope()


def _admin_scope() -> Scope:
    return Scope(
        everything=True,
        country_codes=frozenset(Region.objects.values_list("country_code", flat=True)),
        upload_shop_codes=frozenset(Shop.objects.values_list("code", flat=True)),
        role=Profile.Role.ADMIN,
    )
