"""Report pages, exports and chart data. Every view is a `report_view`: it is given the
viewer's scope, parses the filter once (`pages.report_filter_for`), calls one context
builder or export, and returns."""

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csp import csp_override
from django.views.decorators.http import require_GET

from apps.accounts.access import Scope, scope_for
from apps.accounts.models import Region
from apps.audit.models import AuditEvent
from apps.audit.services import audit_record
from apps.reports import exports, looker, pages, throttle
from apps.reports.filters import lines_page_parse

ReportView = Callable[..., HttpResponse]


def report_view(view: ReportView) -> ReportView:
    """The one way into a report: signed in, GET only, and the viewer's scope passed as
    `scope`; a scope that reads no report gets the no-access page (403)."""

    @wraps(view)
    def scoped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        scope = scope_for(request.user)
        if not scope.can_read_reports:
            return render(request, "reports/no_access.html", status=403)
        return view(request, *args, scope=scope, **kwargs)

    entry = login_required(require_GET(scoped))
    entry.report_scoped = True  # type: ignore[attr-defined]  # so a test can tell every report URL comes here
    return entry


@report_view
def report_master(request: HttpRequest, *, scope: Scope) -> HttpResponse:
    report = pages.report_filter_for(scope=scope, params=request.GET, region=None)
    context = pages.dashboard_context(scope=scope, report=report, region=None)
    return render(request, "reports/dashboard.html", context)


@report_view
def report_country(request: HttpRequest, country_code: str, *, scope: Scope) -> HttpResponse:
    region = _region_in_scope(scope, country_code)
    report = pages.report_filter_for(scope=scope, params=request.GET, region=region)
    context = pages.dashboard_context(scope=scope, report=report, region=region)
    return render(request, "reports/dashboard.html", context)


def _filter_detail(report) -> dict:
    names = ("start", "end", "preset", "grain", "country", "shop", "product", "category")
    return {name: getattr(report, name) for name in names}


def _region_in_scope(scope: Scope, country_code: str) -> Region:
    region = Region.objects.filter(country_code=country_code.upper()).first()
    if region is None or not scope.allows_country(region.country_code):
        raise Http404("No such country report in your scope.")
    return region


@report_view
def report_lines(request: HttpRequest, *, scope: Scope) -> HttpResponse:
    report = pages.report_filter_for(scope=scope, params=request.GET, region=None)
    page, problem = lines_page_parse(request.GET.get("page", ""))
    context = pages.lines_context(scope=scope, report=report, page=page, problem=problem)
    return render(request, "reports/lines.html", context)


@report_view
def report_coverage(request: HttpRequest, *, scope: Scope) -> HttpResponse:
    report = pages.report_filter_for(scope=scope, params=request.GET, region=None)
    context = pages.coverage_context(scope=scope, report=report, today=timezone.localdate())
    return render(request, "reports/coverage.html", context)


@report_view
def report_looker(request: HttpRequest, *, scope: Scope) -> HttpResponse:
    report = pages.report_filter_for(scope=scope, params=request.GET, region=None)
    context = pages.looker_context(scope=scope, report=report)
    # The frame's host is the admin's choice, so the CSP override is built per request.
    render_page = csp_override(looker.looker_csp(context["looker_embed"]))(render)
    return render_page(request, "reports/looker.html", context)


@report_view
def report_export(request: HttpRequest, dataset: str, fmt: str, *, scope: Scope) -> HttpResponse:
    if dataset not in exports.DATASETS or fmt not in exports.FORMATS:
        raise Http404("No such export.")
    refusal = throttle.export_refusal(user_id=request.user.pk, dataset=dataset)
    if refusal:
        if fmt == "json":  # a script's call: the reason as data
            response = JsonResponse({"error": refusal.message}, status=429)
        else:
            response = render(request, "reports/export_refused.html", {"message": refusal.message}, status=429)
        response["Retry-After"] = str(refusal.retry_after)
        return response
    report = pages.report_filter_for(scope=scope, params=request.GET, region=None)
    filename = f"sales-{dataset}-{report.start:%Y%m%d}-{report.end:%Y%m%d}.{fmt}"
    try:
        response = exports.export_response(scope=scope, report=report, name=dataset, fmt=fmt, filename=filename)
    except exports.ExportRefused as refused:
        csv_url = f"{reverse('reports:export', args=[dataset, 'csv'])}?{report.query()}"
        context = {"message": str(refused), "csv_url": csv_url}
        return render(request, "reports/export_refused.html", context, status=400)
    audit_record(
        request=request,
        scope=scope,
        action=AuditEvent.Action.REPORT_EXPORT,
        target=f"{dataset}.{fmt}",
        detail={"format": fmt, "filter": _filter_detail(report)},
    )
    return response
