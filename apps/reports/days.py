"""The days with data of a scope and a view, from the app database (UploadDay, kept at load
time), not the warehouse: the lines per order day, country and shop of every upload whose
rows the warehouse holds. The same rows as the scope's predicate over the fact table
(query.scope_predicate) selects: a row is seen when its shop is one of the scope's shops or
its customer's country one of the scope's countries; a country view holds its country's.
"""

from django.db.models import Q, QuerySet

from apps.accounts.access import Scope
from apps.accounts.models import Region
from apps.uploads.models import UploadDay
from apps.warehouse.fact import MASTER_VIEW


def scope_days(*, scope: Scope, view: str, country: str = "", shop: str = "") -> QuerySet[UploadDay]:
    """The day rows a scope sees in a view, of one country and one shop when given."""
    days = UploadDay.objects.all()
    if not scope.everything:
        if not (scope.shop_codes or scope.country_codes):
            return days.none()
        days = days.filter(Q(store_id__in=scope.shop_codes) | Q(country_code__in=scope.country_codes))
    if view != MASTER_VIEW:
        view_country = Region.objects.filter(view_name=view).values_list("country_code", flat=True).first()
        if view_country is None:
            return days.none()
        days = days.filter(country_code=view_country)
    if country:
        days = days.filter(country_code=country)
    if shop:
        days = days.filter(store_id=shop)
    return days
