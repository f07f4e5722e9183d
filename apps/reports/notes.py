"""What a report page says about its figures, in words: which rows they hold (it differs by
viewer), and where the page's dates stand against the data in scope (the rule that placed
them, and the rows they leave out, with a link to All time)."""

from django.template.defaultfilters import pluralize

from apps.accounts.access import Scope
from apps.accounts.models import Region
from apps.reports.filters import BULK_DAYS, BULK_GAP, BULK_SHARE, PRESETS, ReportFilter

# The presets that count back from the day the bulk of the data ends.
COUNTED_BACK = ("7d", "30d", "90d", "month", "quarter", "ytd", "last-year")


def _names(codes) -> str:
    names = dict(Region.objects.filter(country_code__in=codes).values_list("country_code", "name"))
    return " and ".join(sorted(names.get(code, code) for code in codes))


def rows_held(*, scope: Scope, country: str = "") -> str:
    """Which rows the page's figures hold for this viewer, e.g. for head_uk "UK shops'
    sales (to customers anywhere) and other shops' sales to UK customers"."""
    mine = _names(scope.country_codes) if not scope.everything else ""
    own_shops = "your shops'" if len(scope.shop_codes) > 1 else "your shop's"
    if country:
        whose = _names([country])
        if scope.everything or country in scope.country_codes:
            return f"Sales to {whose} customers, from every shop."
        if scope.country_codes:
            return f"{mine} shops' sales to {whose} customers."
        return f"{own_shops.capitalize()} sales ({', '.join(sorted(scope.shop_codes))}) to {whose} customers."
    if scope.everything:
        return "Every shop's sales, to customers in every country."
    if scope.country_codes:
        return f"{mine} shops' sales (to customers anywhere), and other shops' sales to {mine} customers."
    return f"{own_shops.capitalize()} sales ({', '.join(sorted(scope.shop_codes))}), to customers anywhere."


def window_note(report: ReportFilter, *, country_page: bool = False) -> dict | None:
    """The rule that placed the dates, and the rows of the view in scope they leave out,
    with the link to this page's All time; None before anything is loaded."""
    window = report.window
    if window is None or window.last is None:
        return None
    if report.preset == "all":
        rule = f"All time: every row in your scope, {window.first:%d %b %Y} to {window.last:%d %b %Y}."
    elif report.preset in COUNTED_BACK:
        since = "today" if window.anchored_today else f"{window.anchor:%d %b %Y}"
        rule = (
            f"{PRESETS[report.preset]}, counted back from {since}: the latest day with data in your scope, "
            f"stray rows far from the rest left aside (days with data no more than {BULK_GAP} days apart count "
            f"when they hold at least 1/{BULK_SHARE} of the rows of your busiest {BULK_DAYS} days)."
        )
    else:
        rule = ""
    hidden = window.before + window.after
    # A country page's country is its path's, not a parameter.
    all_time = report.query(preset="all", country="" if country_page else report.country)
    outside = ""
    if hidden:
        parts = [f"{window.before:,} earlier"] if window.before else []
        parts += [f"{window.after:,} later (the last on {window.last:%d %b %Y})"] if window.after else []
        outside = f"{hidden:,} row{pluralize(hidden)} in your scope {pluralize(hidden, 'is,are')} outside these dates: "
        outside += " and ".join(parts) + "."
    return {"rule": rule, "outside": outside, "all_time": f"?{all_time}" if hidden else ""}
