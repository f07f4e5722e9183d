"""KPI tiles: each figure formatted with its change against the previous period."""

from apps.reports.coverage import Completeness
from apps.reports.filters import ReportFilter

# key, label, kind (money | local | count | ratio | share), help text
TILES = (
    ("revenue", "Revenue", "money", "All sales less returns, converted at the month's FX rate."),
    ("revenue_local", "Revenue (local)", "local", "In the rows' own currency (shown when they are all in one)."),
    ("orders", "Orders", "count", "Distinct order numbers."),
    ("units", "Units", "count", "Units sold less units returned."),
    ("aov", "Average order value", "money", "Revenue divided by orders."),
    ("return_rate", "Return rate", "share", "Share of order lines that are returns."),
    ("shops", "Active shops", "count", "Shops with at least one sale."),
)


def _format(value, kind: str, currency: str) -> str:
    if value is None:
        return "—"
    if kind in ("money", "local"):
        return f"{value:,.2f} {currency}"
    if kind == "share":
        return f"{value:.1%}"
    return f"{value:,}"


def _change(current, previous, kind: str) -> tuple[str, str]:
    """The change as text and its direction (up, down, flat, none)."""
    if current is None or previous is None:
        return "no earlier data", "none"
    if kind == "share":
        points = (current - previous) * 100
        direction = "up" if points > 0.05 else "down" if points < -0.05 else "flat"
        return f"{points:+.1f} pts", direction
    if not previous:
        return ("new" if current else "no change"), ("up" if current else "flat")
    pct = (current - previous) / abs(previous)
    direction = "up" if pct > 0.0005 else "down" if pct < -0.0005 else "flat"
    return f"{pct:+.1%}", direction


def kpi_tiles(figures: dict, *, report: ReportFilter, currency: str, completeness: Completeness) -> list[dict]:
    current, previous = figures["current"], figures["previous"]
    previous_period = report.previous()
    compared = f"vs {previous_period.start:%d %b %Y} to {previous_period.end:%d %b %Y}"
    tiles = []
    for key, label, kind, help_text in TILES:
        tile_currency = currency
        if kind == "local":
            # Local revenue only adds up when one currency is in view.
            if not current["currency"]:
                continue
            tile_currency = current["currency"]
        had_previous = previous["orders"] > 0
        change, direction = _change(current[key], previous[key] if had_previous else None, kind)
        tiles.append(
            {
                "key": key,
                "label": label,
                "value": _format(current[key], kind, tile_currency),
                "change": change,
                "direction": direction,
                "compared": compared,
                "help": help_text,
                "incomplete": completeness.note,
            }
        )
    return tiles
