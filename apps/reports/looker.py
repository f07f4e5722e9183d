"""Which Looker Studio report a viewer sees, its embed URL with their region (and a shop
manager's shops) as report parameters, and the CSP that lets exactly that host be framed.

The parameters only pre-filter the report, and a viewer can edit them in Looker Studio:
what the report's own data source may show is governed by Looker Studio and the
warehouse's permissions (BigQuery row access policies, docs/deploy-gcp.md), not by this
application. A shop manager is shown a report only when it takes a shop parameter, so
that at least what the app passes is their shop and not their whole country.
"""

import json
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from django.conf import settings

from apps.accounts.access import Scope
from apps.accounts.models import Region, Shop
from apps.reports.models import LookerStudioReport, looker_url_is_valid


@dataclass(frozen=True)
class LookerEmbed:
    report: LookerStudioReport | None
    url: str = ""
    countries: tuple[str, ...] = ()
    shops: tuple[str, ...] = ()
    # Why a report that exists is not shown (empty when it is, or when there is none).
    withheld: str = ""


def viewer_countries(*, scope: Scope, region: Region | None) -> list[str]:
    """The country codes to pass: the page's country, else the viewer's (none for admins)."""
    if region is not None:
        return [region.country_code]
    if scope.everything:
        return []
    shops = Shop.objects.filter(code__in=scope.shop_codes).values_list("region__country_code", flat=True)
    return sorted(set(scope.country_codes) | set(shops))


def viewer_shops(scope: Scope) -> list[str]:
    """The shops to pass: a shop manager's own (a viewer who reads whole countries has none)."""
    if scope.everything or scope.country_codes:
        return []
    return sorted(scope.shop_codes)


def looker_report_for(*, countries: list[str]) -> LookerStudioReport | None:
    """The region's own report when the viewer is in exactly one region, else the global one."""
    reports = LookerStudioReport.objects.select_related("region")
    if len(countries) == 1:
        own = reports.filter(region__country_code=countries[0]).first()
        if own:
            return own
    return reports.filter(region__isnull=True).first()


def looker_embed(*, scope: Scope, region: Region | None) -> LookerEmbed:
    """The report this viewer sees, and the URL that frames it (or why it is withheld)."""
    countries, shops = viewer_countries(scope=scope, region=region), viewer_shops(scope)
    report = looker_report_for(countries=countries)
    if report is None:
        return LookerEmbed(report=None)
    if not looker_url_is_valid(report.embed_url):  # saved before the check was strict
        return LookerEmbed(report, withheld="This report's embed URL is not a Looker Studio URL; an admin must fix it.")
    if shops and not report.shop_parameter:
        return LookerEmbed(
            report,
            withheld="This Looker Studio report cannot be limited to your shop (it has no shop parameter), "
            "so it is not shown to shop managers. Ask an admin to set its shop parameter.",
        )
    url = looker_embed_url(report, countries=countries, shops=shops)
    return LookerEmbed(report, url, tuple(countries), tuple(shops))


def looker_embed_url(report: LookerStudioReport, *, countries: list[str], shops: list[str] = ()) -> str:
    values = {}
    if report.region_parameter and countries:
        values[report.region_parameter] = ",".join(countries)
    if report.shop_parameter and shops:
        values[report.shop_parameter] = ",".join(shops)
    if not values:
        return report.embed_url
    params = urlencode({"params": json.dumps(values)})
    separator = "&" if urlsplit(report.embed_url).query else "?"
    return f"{report.embed_url}{separator}{params}"


def looker_csp(embed: LookerEmbed) -> dict:
    """The site's CSP plus frame-src for this report's host only (frames, nothing else)."""
    if not embed.url:
        return settings.SECURE_CSP
    parts = urlsplit(embed.url)
    return {**settings.SECURE_CSP, "frame-src": [f"https://{parts.hostname}"]}
