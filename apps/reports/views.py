from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from apps.accounts.access import scope_for
from apps.accounts.models import Region
from apps.reports import charts, selectors
from apps.reports.selectors import ReportFilter


@login_required
@require_GET
def report_master(request: HttpRequest) -> HttpResponse:
    return _report(request, ReportFilter(), title="All countries", region=None)


@login_required
@require_GET
def report_country(request: HttpRequest, country_code: str) -> HttpResponse:
    scope = scope_for(request.user)
    region = Region.objects.filter(country_code=country_code.upper()).first()
    if region is None or not scope.allows_country(region.country_code):
        raise Http404("No such country report in your scope.")
    return _report(request, ReportFilter(view=region.view_name), title=region.name, region=region)


def _report(request: HttpRequest, report: ReportFilter, *, title: str, region) -> HttpResponse:
    scope = scope_for(request.user)
    if not scope.can_read_reports:
        return render(request, "reports/no_access.html", status=403)
    rows = selectors.revenue_by_month_country(scope=scope, report=report)
    context = {
        "title": title,
        "region": region,
        "regions": [r for r in Region.objects.all() if scope.allows_country(r.country_code)],
        "kpi": selectors.kpi_totals(scope=scope, report=report),
        "currency": settings.REPORTING_CURRENCY,
        "revenue_chart": charts.revenue_by_month_chart(rows, currency=settings.REPORTING_CURRENCY) if rows else None,
    }
    return render(request, "reports/dashboard.html", context)
