"""What each report page shows: selectors + charts + links composed into a template context,
so views stay thin and templates hold no logic."""

from datetime import date

from django.conf import settings
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.utils import timezone

from apps.accounts.access import Scope
from apps.accounts.models import Region, Shop
from apps.reports import charts, looker, notes, selectors
from apps.reports.coverage import coverage_grid, late_shops, period_completeness, shops_in_scope
from apps.reports.drill import Drill
from apps.reports.exports import DATASETS
from apps.reports.filters import GRAINS, PRESETS, ParsedFilter, ReportFilter, report_filter_parse
from apps.reports.kpis import kpi_tiles
from apps.reports.lines import order_lines_page
from apps.warehouse.fact import MASTER_VIEW


def report_filter_for(*, scope: Scope, params, region: Region | None) -> ReportFilter:
    """The page's filter: parsed without a read, then settled by the page's first reads."""
    return report_filter_resolve(scope=scope, parsed=report_filter_parsed(scope=scope, params=params, region=region))


def report_filter_parsed(*, scope: Scope, params, region: Region | None) -> ParsedFilter:
    """The URL's filter, parsed; a country page fixes its country and view from the Region row."""
    fixed = {"view": region.view_name, "country": region.country_code} if region else {}
    shops = frozenset(shops_in_scope(scope=scope).values_list("code", flat=True))
    return report_filter_parse(params, scope_shops=shops, **fixed)


def report_filter_resolve(*, scope: Scope, parsed: ParsedFilter) -> ReportFilter:
    """Settle what only the data tells: the days with data in the page's view (presets
    count back from the end of their bulk; "All time" spans them), and whether a shop
    outside the scope's own has rows in its scope (in any country the scope sees, so on the
    master view)."""
    days = selectors.days_with_data(scope=scope, view=parsed.view)
    kept = parsed.shop_unchecked and selectors.shop_has_rows(scope=scope, view=MASTER_VIEW, shop=parsed.shop)
    return parsed.resolve(days=days, today=timezone.localdate(), shop_has_rows=kept)


def _frame(*, scope: Scope, report: ReportFilter, region: Region | None) -> dict:
    """What every report page has: title, tabs, breadcrumb, filter form."""
    regions = [r for r in Region.objects.all() if scope.allows_country(r.country_code)]
    names = {r.country_code: r.name for r in regions}
    drill = Drill(scope=scope, report=report, region_names=names)
    base = reverse("reports:country", args=[region.country_code]) if region else reverse("reports:master")
    shops = shops_in_scope(scope=scope, report=ReportFilter(start=report.start, end=report.end, country=report.country))
    return {
        "title": region.name if region else "All countries",
        "region": region,
        "report": report,
        "drill": drill,
        "breadcrumb": drill.breadcrumb(),
        "tabs": _tabs(report, regions, region),
        "form": {
            "action": base,
            "presets": PRESETS.items(),
            "grains": GRAINS.items(),
            "countries": [] if region else [(r.country_code, r.name) for r in regions],
            "shops": _shop_options(shops, report),
        },
        "currency": settings.REPORTING_CURRENCY,
        "rows_held": notes.rows_held(scope=scope, country=region.country_code if region else report.country),
        "window_note": notes.window_note(report, country_page=region is not None),
        "page_links": {
            "charts": f"{base}?{report.query(country='' if region else report.country)}",
            "coverage": f"{reverse('reports:coverage')}?{report.query()}",
            "looker": f"{reverse('reports:looker')}?{report.query(product='', category='')}",
            "lines": drill.lines(),
        },
    }


def _shop_options(shops, report: ReportFilter) -> list[tuple[str, str]]:
    """The scope's shops, and the one filtered on when it is another region's shop with rows
    in the scope (kept by the filter): else the form would show "All" and drop it on Apply."""
    options = list(shops.values_list("code", "name"))
    if report.shop and report.shop not in {code for code, _ in options}:
        options += Shop.objects.filter(code=report.shop).values_list("code", "name")
    return options


def _tabs(report: ReportFilter, regions: list[Region], region: Region | None) -> list[dict]:
    keep = report.query(country="", shop="", product="", category="")
    tabs = [{"label": "All countries", "url": f"{reverse('reports:master')}?{keep}", "active": region is None}]
    for r in regions:
        url = f"{reverse('reports:country', args=[r.country_code])}?{keep}"
        tabs.append({"label": r.name, "url": url, "active": region == r})
    return tabs


def dashboard_context(*, scope: Scope, report: ReportFilter, region: Region | None) -> dict:
    context = _frame(scope=scope, report=report, region=region)
    drill: Drill = context["drill"]
    currency = context["currency"]
    figures, breakdown = selectors.dashboard_figures(scope=scope, report=report)
    completeness = period_completeness(scope=scope, report=report)
    context.update(
        kpis=kpi_tiles(figures, report=report, currency=currency, completeness=completeness),
        completeness=completeness,
        has_data=bool(breakdown.by_country),
        empty_reason=_empty_reason(scope=scope, report=report, has_data=bool(breakdown.by_country)),
        charts=_charts(breakdown, report=report, drill=drill, currency=currency),
        shop_rows=[_shop_row(r, scope=scope, drill=drill) for r in breakdown.by_shop],
        product_rows=[{**r, "url": drill.product(r["product_id"])} for r in breakdown.products],
        exports=_exports(report),
        level=drill.level,
    )
    return context


def _shop_row(row: dict, *, scope: Scope, drill: Drill) -> dict:
    # Another region's shop is in a head's figures by its sales to their countries only.
    partial = not scope.everything and row["store_id"] not in scope.shop_codes
    return {**row, "url": drill.shop(row["store_id"], row["country_code"]), "partial": partial}


def _charts(breakdown, *, report: ReportFilter, drill: Drill, currency: str) -> list[dict]:
    """The page's charts; a breakdown the filter already pins down (one country...) is left out."""
    by_country = lambda r: charts.country_colour(r.get("country_code"))  # noqa: E731
    neutral = lambda r: charts.NEUTRAL  # noqa: E731
    over_time = charts.revenue_over_time_chart(
        breakdown.over_time, currency=currency, grain=report.grain, drill=drill.country
    )
    out = [{"id": "chart-over-time", "data_id": "chart-over-time-data", "figure": over_time,
            "empty": not breakdown.over_time}]  # fmt: skip
    ranked = [
        ("chart-countries", not report.country, breakdown.by_country, "Revenue by country", "country_code",
         by_country, lambda r: drill.country(r["country_code"])),
        ("chart-shops", not report.shop, breakdown.by_shop, "Revenue by shop", "store_id",
         by_country, lambda r: drill.shop(r["store_id"], r["country_code"])),
        ("chart-products", not report.product, breakdown.products, f"Top {selectors.TOP_PRODUCTS} products",
         "product_label", neutral, lambda r: drill.product(r["product_id"])),
        ("chart-categories", True, breakdown.categories, "Revenue by category", "category_label",
         neutral, lambda r: drill.category(r["category"] or "")),
    ]  # fmt: skip
    for chart_id, shown, rows, title, key, colour, url in ranked:
        if shown:
            out.append(_ranked(chart_id, rows, title, key, colour, currency, url))
    return out


def _ranked(chart_id: str, rows: list[dict], title: str, key: str, colour, currency: str, url) -> dict:
    for row in rows:
        row.setdefault("product_label", f"{row.get('product_id')} · {(row.get('product_name') or '')[:28]}")
        row.setdefault("category_label", row.get("category") or "(no category)")
    figure = charts.ranked_bar_chart(
        rows, title=f"{title} ({currency})", label=lambda r: r[key], colour=colour, currency=currency, drill=url
    )
    return {"id": chart_id, "data_id": f"{chart_id}-data", "figure": figure, "empty": not rows}


def _exports(report: ReportFilter) -> list[dict]:
    query = report.query()
    return [
        {
            "label": label,
            "csv": f"{reverse('reports:export', args=[name, 'csv'])}?{query}",
            "xlsx": f"{reverse('reports:export', args=[name, 'xlsx'])}?{query}",
        }
        for name, label in DATASETS.items()
    ]


def _empty_reason(*, scope: Scope, report: ReportFilter, has_data: bool) -> str:
    if has_data:
        return ""
    latest = selectors.latest_order_date(scope=scope, view=report.view, country=report.country)
    if latest is None:
        return "No sales in your scope yet: figures appear here once an upload for your shops has loaded."
    return (
        f"No sales from {report.start:%d %b %Y} to {report.end:%d %b %Y} for these filters. "
        f"The latest sales in your scope are from {latest:%d %b %Y}; widen the date range or clear a filter."
    )


def lines_context(*, scope: Scope, report: ReportFilter, page: int, problem: str = "") -> dict:
    context = _frame(scope=scope, report=report, region=None)
    problems = [problem] if problem else []
    found = order_lines_page(scope=scope, report=report, page=page)
    if found.page < page and found.total:  # a page past the last shows the last, saying so
        last = found.page
        problems.append(f"These filters have {last:,} page{pluralize(last)} of lines; showing the last.")
    page = found.page
    query = report.query()
    context.update(
        page_problems=problems,
        breadcrumb=context["drill"].breadcrumb(lines=True),
        rows=found.rows,
        page=page,
        previous_url=f"?{query}&page={page - 1}" if page > 1 else "",
        next_url=f"?{query}&page={page + 1}" if found.more else "",
        exports=[e for e in _exports(report) if e["label"] == DATASETS["lines"]],
        empty_reason="" if found.rows else _empty_reason(scope=scope, report=report, has_data=False),
    )
    return context


def coverage_context(*, scope: Scope, report: ReportFilter, today: date) -> dict:
    context = _frame(scope=scope, report=report, region=None)
    context.update(grid=coverage_grid(scope=scope, report=report), late=late_shops(scope=scope, today=today))
    return context


def looker_context(*, scope: Scope, report: ReportFilter) -> dict:
    region = Region.objects.filter(country_code=report.country).first() if report.country else None
    if region and not scope.allows_country(region.country_code):
        region = None
    embed = looker.looker_embed(scope=scope, region=region)
    context = _frame(scope=scope, report=report, region=None)
    context.update(
        looker=embed.report,
        looker_embed=embed,
        looker_url=embed.url,
        looker_countries=embed.countries,
        looker_shops=embed.shops,
    )
    return context
