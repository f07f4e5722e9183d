"""The report filters: parsed and validated here, and nowhere else.

The URL's query string is parsed once per request into a `ParsedFilter`, without asking
the warehouse anything. Values that do not validate are dropped (and said so), never
passed on. The page then settles what only the data can tell (`ParsedFilter.resolve`):
the day a preset counts back from, and whether a shop outside the viewer's own shops has
rows in their scope. What the page reads is a `ReportFilter`.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from urllib.parse import urlencode

from apps.warehouse.fact import MASTER_VIEW

PRESETS = {
    "7d": "Last 7 days",
    "30d": "Last 30 days",
    "90d": "Last 90 days",
    "month": "This month",
    "quarter": "This quarter",
    "ytd": "Year to date",
    "last-year": "Last year",
    "all": "All time",
    "custom": "Custom",
}
# Older spellings a saved link may carry ("This year" was the year to date).
PRESET_ALIASES = {"year": "ytd"}
DEFAULT_PRESET = "90d"
# The bulk of the data: presets count back from the last day of the latest run of days
# with data (runs are split by gaps of more than BULK_GAP days) that holds at least
# 1/BULK_SHARE of the rows of the busiest BULK_DAYS in the view. A few stray rows far from
# the rest (a sale dated years after the shops' data) are a run that falls short of that,
# so they never set the window; they stay one click away under "All time".
BULK_DAYS = 90
BULK_GAP = 30
BULK_SHARE = 20
GRAINS = {"day": "Day", "week": "Week", "month": "Month"}
# The URL parameters a filter owns, in the order they are written back.
PARAMS = ("preset", "start", "end", "grain", "country", "shop", "product", "category")
COUNTRY_RE = re.compile(r"^[A-Z]{2}$")
SHOP_RE = re.compile(r"^[A-Z0-9][A-Z0-9-]{1,31}$")
MAX_TEXT = 128
MAX_DAYS = 366 * 5
# The days a custom range may name: from the first year the ETL reads as a date to the day
# before the last a date can hold (a period's reads look past its end, and its previous
# period and weeks reach before its start). Outside, a day is moved to the nearest one.
EARLIEST = date(1000, 1, 1)
LATEST = date.max - timedelta(days=1)
# Pages of order lines: numbers up to this many digits are read; a longer one is past the end.
PAGE_DIGITS = 9


@dataclass(frozen=True)
class ReportFilter:
    start: date
    end: date
    preset: str = DEFAULT_PRESET
    grain: str = "day"
    country: str = ""
    shop: str = ""
    product: str = ""
    category: str = ""
    # Set by code (the country page), never from the URL: the warehouse view to read.
    view: str = MASTER_VIEW
    problems: tuple[str, ...] = field(default=(), compare=False)
    # Where the data of the view lies around these dates (set when the page resolved them).
    window: "Window | None" = field(default=None, compare=False)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> "ReportFilter":
        """The period of the same length just before this one."""
        length = timedelta(days=self.days)
        if self.start - date.min < length:  # an "All time" of rows dated centuries apart
            return replace(self, start=date.min, end=max(self.start - timedelta(days=1), date.min))
        return replace(self, start=self.start - length, end=self.end - length)

    def query(self, **changes: str) -> str:
        """This filter as a query string, with some parameters changed ('' removes one)."""
        values = {
            "preset": self.preset,
            "start": self.start.isoformat() if self.preset == "custom" else "",
            "end": self.end.isoformat() if self.preset == "custom" else "",
            "grain": "" if self.grain == "day" else self.grain,
            "country": self.country,
            "shop": self.shop,
            "product": self.product,
            "category": self.category,
        }
        values.update(changes)
        if values.get("preset") != "custom":  # dates of their own only for a custom range
            values.update(start=changes.get("start", ""), end=changes.get("end", ""))
        if values.get("preset") == DEFAULT_PRESET:
            values["preset"] = ""
        pairs = [(k, values[k]) for k in PARAMS if values.get(k)]
        return urlencode(pairs)


@dataclass(frozen=True)
class DataDays:
    """The lines of each day with data in a view, within the viewer's scope, oldest first:
    what places the presets' window, and what a window leaves out."""

    days: tuple[tuple[date, int], ...] = ()

    @property
    def first(self) -> date | None:
        return self.days[0][0] if self.days else None

    @property
    def last(self) -> date | None:
        return self.days[-1][0] if self.days else None

    def bulk_end(self) -> date | None:
        """The last day of the latest run of days with data (no gap over BULK_GAP days)
        holding at least 1/BULK_SHARE of the lines of the busiest BULK_DAYS; None without
        data. A few stray rows far from the rest are a run too small to count."""
        held, tail, busiest = 0, 0, 0
        for day, lines in self.days:
            held += lines
            while self.days[tail][0].toordinal() <= day.toordinal() - BULK_DAYS:
                held -= self.days[tail][1]
                tail += 1
            busiest = max(busiest, held)
        runs: list[tuple[date, int]] = []  # (last day, lines) of each run, oldest first
        for day, lines in self.days:
            if runs and day.toordinal() - runs[-1][0].toordinal() <= BULK_GAP:
                runs[-1] = (day, runs[-1][1] + lines)
            else:
                runs.append((day, lines))
        return next((last for last, lines in reversed(runs) if lines * BULK_SHARE >= busiest), None)

    def outside(self, start: date, end: date) -> tuple[int, int]:
        """The lines before `start` and after `end`."""
        before = sum(lines for day, lines in self.days if day < start)
        after = sum(lines for day, lines in self.days if day > end)
        return before, after


@dataclass(frozen=True)
class Window:
    """Where the view's data lies around a filter's dates: the day the presets counted back
    from (None without data), the first and last day with data, and the lines in scope
    before and after the dates."""

    anchor: date | None
    anchored_today: bool
    first: date | None
    last: date | None
    before: int
    after: int


@dataclass(frozen=True)
class ParsedFilter:
    """The URL's filter, validated, before any read: the preset's dates are not counted
    yet, and `shop_unchecked` says the shop is kept only if it has rows in the scope."""

    preset: str = DEFAULT_PRESET
    custom_start: date | None = None
    custom_end: date | None = None
    grain: str = "day"
    country: str = ""
    shop: str = ""
    shop_unchecked: bool = False
    product: str = ""
    category: str = ""
    view: str = MASTER_VIEW
    problems: tuple[str, ...] = ()

    def resolve(self, *, days: DataDays, today: date, shop_has_rows: bool) -> ReportFilter:
        """The filter the page reads: presets count back from the last day of the bulk of
        `days` (the view's days with data in scope; not from today, nor from a few stray
        rows far after the rest), "all" spans every day with data, and an unchecked shop
        holds if `shop_has_rows`."""
        bulk = days.bulk_end()
        anchor = _within(min(bulk, today) if bulk else today)
        start, end = _period(self.preset, anchor)
        if self.preset == "all" and days.days:
            start, end = _within(days.first), _within(days.last)
        problems = list(self.problems)
        if self.preset == "custom":
            start, end, clamped = _custom_period(self.custom_start or start, self.custom_end or end)
            # Always the first problem: a valid custom preset has no other date problem.
            problems[:0] = ["Ranges are limited to five years; the start was moved."] if clamped else []
        shop = self.shop
        if self.shop_unchecked and not shop_has_rows:
            # Not echoed back: the name of a shop outside the scope is not shown.
            problems.append("That shop is not in your reports; the shop filter was dropped.")
            shop = ""
        return ReportFilter(
            start=start,
            end=end,
            preset=self.preset,
            grain=self.grain,
            country=self.country,
            shop=shop,
            product=self.product,
            category=self.category,
            view=self.view,
            problems=tuple(problems),
            window=_window(days, bulk=bulk, anchor=anchor, today=today, dates=(start, end)),
        )


def report_filter_parse(params: Mapping[str, str], *, scope_shops: frozenset[str], **fixed: str) -> ParsedFilter:
    """Parse the query string; no warehouse is asked. `scope_shops` are the scope's own
    shops; `fixed` values (the country page's country and view) come from code and win
    over the URL."""
    problems: list[str] = []
    preset = params.get("preset", "") or DEFAULT_PRESET
    preset = PRESET_ALIASES.get(preset, preset)
    if preset not in PRESETS:
        problems.append("Unknown date range; showing the last 90 days.")
        preset = DEFAULT_PRESET
    custom_start, custom_end = _custom_dates(params, problems) if preset == "custom" else (None, None)
    grain = params.get("grain", "day")
    if grain not in GRAINS:
        problems.append("Unknown time grain; showing days.")
        grain = "day"
    country = _code(params.get("country", ""), COUNTRY_RE, "country", problems)
    typed = params.get("shop", "")
    shop = _code(typed, SHOP_RE, "shop", problems)
    # Another region's shop may hold rows of the viewer's countries: the page checks that.
    # A code typed other than as stored was dropped without that check before, and still is.
    unchecked = bool(shop) and shop not in scope_shops and typed == shop
    if shop and shop not in scope_shops and not unchecked:
        problems.append("That shop is not in your reports; the shop filter was dropped.")
        shop = ""
    values = {
        "preset": preset,
        "custom_start": custom_start,
        "custom_end": custom_end,
        "grain": grain,
        "country": country,
        "shop": shop,
        "shop_unchecked": unchecked,
        "product": _text(params.get("product", "")),
        "category": _text(params.get("category", "")),
    }
    values.update(fixed)
    return ParsedFilter(**values, problems=tuple(problems))


def _period(preset: str, anchor: date) -> tuple[date, date]:
    if preset in ("7d", "30d", "90d"):
        return anchor - timedelta(days=int(preset[:-1]) - 1), anchor
    if preset == "month":
        return anchor.replace(day=1), anchor
    if preset == "quarter":
        return date(anchor.year, 3 * ((anchor.month - 1) // 3) + 1, 1), anchor
    if preset == "ytd":
        return date(anchor.year, 1, 1), anchor
    if preset == "last-year":
        return date(anchor.year - 1, 1, 1), date(anchor.year - 1, 12, 31)
    return anchor - timedelta(days=BULK_DAYS - 1), anchor


def _window(days: DataDays, *, bulk: date | None, anchor: date, today: date, dates: tuple[date, date]) -> Window:
    before, after = days.outside(*dates)
    return Window(bulk and anchor, bool(bulk) and today < bulk, days.first, days.last, before, after)


def _within(day: date) -> date:
    """The day moved into EARLIEST..LATEST (a row's date may lie outside: a year 1 typo)."""
    return min(max(day, EARLIEST), LATEST)


def _custom_dates(params: Mapping[str, str], problems: list[str]) -> tuple[date | None, date | None]:
    """The typed dates (None where not typed); both dropped when either is malformed, each
    moved into EARLIEST..LATEST when outside."""
    try:
        start = date.fromisoformat(params.get("start", "")) if params.get("start") else None
        end = date.fromisoformat(params.get("end", "")) if params.get("end") else None
    except ValueError:
        problems.append("Dates are written YYYY-MM-DD; showing the default range.")
        return None, None
    return _in_range(start, "start", problems), _in_range(end, "end", problems)


def _in_range(day: date | None, name: str, problems: list[str]) -> date | None:
    if day is None or EARLIEST <= day <= LATEST:
        return day
    moved = min(max(day, EARLIEST), LATEST)
    problems.append(f"Dates run from {EARLIEST.isoformat()} to {LATEST.isoformat()}; the {name} was moved to {moved}.")
    return moved


def lines_page_parse(value: str) -> tuple[int, str]:
    """The page of order lines a URL asks for, and a problem to show. Pages count from 1; a
    number too long to be a page is past the last one (the page then shows the last)."""
    if value == "":
        return 1, ""
    digits = value.lstrip("0") if re.fullmatch(r"[0-9]+", value) else ""
    if not digits:
        return 1, "Pages are numbered 1, 2, 3...; showing the first page."
    if len(digits) > PAGE_DIGITS:
        return 10**PAGE_DIGITS, ""
    return int(digits), ""


def _custom_period(start: date, end: date) -> tuple[date, date, bool]:
    if end < start:
        start, end = end, start
    if (end - start).days > MAX_DAYS:
        return end - timedelta(days=MAX_DAYS), end, True
    return start, end, False


def _code(value: str, pattern: re.Pattern, what: str, problems: list[str]) -> str:
    value = value.strip().upper()
    if value and not pattern.match(value):
        problems.append(f"That {what} code is not valid; the {what} filter was dropped.")
        return ""
    return value


def _text(value: str) -> str:
    return value.strip()[:MAX_TEXT]
