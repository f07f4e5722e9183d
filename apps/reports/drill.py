"""The drill-down hierarchy global -> country -> shop -> product -> order lines: where a
click on a bar or a row leads, and the breadcrumb back up. URLs keep the date filters."""

from dataclasses import dataclass

from django.urls import reverse

from apps.accounts.access import Scope
from apps.reports.filters import ReportFilter

LEVELS = ("global", "country", "shop", "product", "lines")


@dataclass(frozen=True)
class Crumb:
    label: str
    url: str


@dataclass(frozen=True)
class Drill:
    """Links for one page, built from its filter and the viewer's scope."""

    scope: Scope
    report: ReportFilter
    region_names: dict[str, str]

    def _page(self, country: str, **params: str) -> str:
        # Country pages for countries in scope; otherwise the master page filtered to it
        # (a shop manager's figures come from their shops, not from whole countries).
        changes = {"product": "", "shop": "", "category": "", **params}
        if country and self.scope.allows_country(country) and country in self.region_names:
            return f"{reverse('reports:country', args=[country])}?{self.report.query(country='', **changes)}"
        return f"{reverse('reports:master')}?{self.report.query(country=country, **changes)}"

    def master(self) -> str:
        return self._page("")

    def country(self, code: str) -> str:
        return self._page(code)

    def shop(self, shop: str, country: str = "") -> str:
        return self._page(country or self.report.country, shop=shop)

    def product(self, product: str) -> str:
        return self._page(self.report.country, shop=self.report.shop, product=product)

    def category(self, category: str) -> str:
        return self._page(self.report.country, shop=self.report.shop, category=category)

    def lines(self, **changes: str) -> str:
        return f"{reverse('reports:lines')}?{self.report.query(**changes)}"

    @property
    def level(self) -> str:
        if self.report.product:
            return "product"
        if self.report.shop:
            return "shop"
        return "country" if self.report.country else "global"

    def breadcrumb(self, *, lines: bool = False) -> list[Crumb]:
        report = self.report
        crumbs = [Crumb("All countries", self.master())]
        if report.country:
            crumbs.append(Crumb(self.region_names.get(report.country, report.country), self.country(report.country)))
        if report.shop:
            crumbs.append(Crumb(f"Shop {report.shop}", self.shop(report.shop)))
        if report.product:
            crumbs.append(Crumb(f"Product {report.product}", self.product(report.product)))
        if report.category:
            crumbs.append(Crumb(f"Category {report.category}", self.category(report.category)))
        if lines:
            crumbs.append(Crumb("Order lines", self.lines()))
        return crumbs
