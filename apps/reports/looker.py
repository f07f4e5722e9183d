"""Which Looker Studio report a viewer sees, its embed URL with their region as a report
parameter, and the CSP that lets exactly that host be framed.

The parameter only pre-filters the report; what the report's own data source may show is
governed by Looker Studio and the warehouse's permissions, not by this application.
"""

import json
from urllib.parse import urlencode, urlsplit

from django.conf import settings

from apps.accounts.access import Scope
from apps.accounts.models import Region, Shop
from apps.reports.models import LookerStudioReport


def viewer_countries(*, scope: Scope, region: Region | None) -> list[str]:
    """The country codes to pass: the page's country, else the viewer's (none for admins)."""
    if region is not None:
        return [region.country_code]
    if scope.everything:
        return []
    shops = Shop.objects.filter(code__in=scope.shop_codes).values_list("region__country_code", flat=True)
    return sorted(set(scope.country_codes) | set(shops))


def looker_report_for(*, countries: list[str]) -> LookerStudioReport | None:
    """The region's own report when the viewer is in exactly one region, else the global one."""
    reports = LookerStudioReport.objects.select_related("region")
    if len(countries) == 1:
        own = reports.filter(region__country_code=countries[0]).first()
        if own:
            return own
    return reports.filter(region__isnull=True).first()


def looker_embed_url(report: LookerStudioReport, *, countries: list[str]) -> str:
    if not (report.region_parameter and countries):
        return report.embed_url
    params = urlencode({"params": json.dumps({report.region_parameter: ",".join(countries)})})
    separator = "&" if urlsplit(report.embed_url).query else "?"
    return f"{report.embed_url}{separator}{params}"


def looker_csp(report: LookerStudioReport | None) -> dict:
    """The site's CSP plus frame-src for this report's host only (frames, nothing else)."""
    if report is None:
        return settings.SECURE_CSP
    parts = urlsplit(report.embed_url)
    return {**settings.SECURE_CSP, "frame-src": [f"https://{parts.hostname}"]}
