"""Plotly figures for the report pages, built on the server as plain dicts and drawn by
plotly.js (static/js/charts.js). A point's `customdata` is the URL it drills down to.

Plotly reads every text it draws (titles, axis and tick labels, legend entries, hover
labels) as a pseudo-HTML: <a href> makes a working link, <b>, <i>, <br>, <sup>, <sub> and
<span style> format it. A label that comes from data (a product code, a category, a shop or
a country code from an uploaded file) is escaped with `plotly_text`, so it shows as typed;
a hover template names a trace or point value (%{y}, %{fullData.name}), never data itself
(a "%{" in data would be read as a template field).
"""

from collections.abc import Callable
from datetime import date, timedelta

# One colour per country on every page.
COUNTRY_COLOURS = {"US": "#1f77b4", "GB": "#d62728", "FR": "#2ca02c", "AU": "#ff7f0e"}
OTHER_COLOURS = ["#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]
NEUTRAL = "#5b6475"
GRAIN_LABEL = {"day": "Day", "week": "Week starting", "month": "Month"}
# One bar per period, as wide as its period (Plotly's own period units: ms, or "M1").
GRAIN_PERIOD = {"day": 86_400_000, "week": 7 * 86_400_000, "month": "M1"}
# A bar's width on a date axis is in ms (Plotly draws a lone bar a sliver otherwise).
GRAIN_BAR_MS = {"day": 0.8 * 86_400_000, "week": 0.8 * 7 * 86_400_000, "month": 0.8 * 28 * 86_400_000}
GRAIN_TICKS = {"day": "%-d %b %Y", "week": "%-d %b %Y", "month": "%b %Y"}
# Up to this many periods a tick per period reads well; past it Plotly spaces the ticks.
TICK_EVERY_PERIOD_UP_TO = 12


def plotly_text(value) -> str:
    """Data as Plotly text: its pseudo-HTML's tags and entities written as literal text
    (Plotly turns &lt; &gt; &amp; back into the characters when it draws them)."""
    return str(value if value is not None else "").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def country_colour(code: str | None) -> str:
    if not code:
        return NEUTRAL
    if code in COUNTRY_COLOURS:
        return COUNTRY_COLOURS[code]
    return OTHER_COLOURS[sum(map(ord, code)) % len(OTHER_COLOURS)]


def _layout(title: str, *, x: dict, y: dict, **extra) -> dict:
    return {
        "title": {"text": title, "x": 0, "font": {"size": 15}},
        "xaxis": {"automargin": True, **x},
        "yaxis": {"automargin": True, **y},
        "margin": {"l": 10, "r": 10, "t": 44, "b": 10},
        "template": {"layout": {"paper_bgcolor": "#fff", "plot_bgcolor": "#fff"}},
        "font": {"family": "system-ui, sans-serif", "size": 12},
        "hoverlabel": {"namelength": -1},
        **extra,
    }


def revenue_over_time_chart(rows: list[dict], *, currency: str, grain: str, drill: Callable[[str], str]) -> dict:
    """Revenue per day/week/month, one stacked bar colour per country."""
    data = []
    for code in sorted({r["country_code"] for r in rows}):
        series = [r for r in rows if r["country_code"] == code]
        data.append(
            {
                "type": "bar",
                "name": plotly_text(code),
                "x": [_iso(r["period"]) for r in series],
                "y": [r["revenue"] for r in series],
                "customdata": [drill(code)] * len(series),
                "marker": {"color": country_colour(code)},
                # Without a period a lone bar is a sliver and the axis ticks sub-seconds.
                "xperiod": GRAIN_PERIOD[grain],
                "xperiodalignment": "middle",
                "width": GRAIN_BAR_MS[grain],
                "xhoverformat": GRAIN_TICKS[grain],
                "hovertemplate": f"%{{fullData.name}} %{{x}}<br>%{{y:,.2f}} {currency}<extra></extra>",
            }
        )
    x = {"title": {"text": GRAIN_LABEL[grain]}, "type": "date"}
    periods = sorted({r["period"] for r in rows})
    if len(periods) <= TICK_EVERY_PERIOD_UP_TO:
        # A tick per period, its label under the period's bar (past that, Plotly's own ticks).
        x.update(dtick=GRAIN_PERIOD[grain], tickformat=GRAIN_TICKS[grain], ticklabelmode="period")
        if periods:
            x["tick0"] = _iso(periods[0])  # weeks start on Mondays, Plotly's ticks on Sundays
    if len(periods) == 1 and isinstance(periods[0], date):
        # Alone, it is shown between its neighbours (Plotly would zoom into the bar).
        x["range"] = [_iso(_periods_after(periods[0], grain, -1)), _iso(_periods_after(periods[0], grain, 2))]
    layout = _layout(
        f"Revenue by {grain} ({currency})",
        x=x,
        y={"title": {"text": f"Revenue ({currency})"}, "tickformat": ",.0f"},
        barmode="relative",
        legend={"title": {"text": "Country"}, "orientation": "h", "y": -0.2},
    )
    return {"data": data, "layout": layout}


def ranked_bar_chart(
    rows: list[dict], *, title: str, label: Callable[[dict], str], colour: Callable[[dict], str], currency: str,
    drill: Callable[[dict], str],
) -> dict:  # fmt: skip
    """Horizontal bars, biggest on top: revenue by country, shop, product or category."""
    rows = list(reversed(rows))
    data = [
        {
            "type": "bar",
            "orientation": "h",
            "x": [r["revenue"] for r in rows],
            "y": [plotly_text(label(r)) for r in rows],
            "customdata": [drill(r) for r in rows],
            "marker": {"color": [colour(r) for r in rows]},
            "hovertemplate": f"%{{y}}<br>%{{x:,.2f}} {currency}<extra></extra>",
        }
    ]
    layout = _layout(
        title,
        x={"title": {"text": f"Revenue ({currency})"}, "tickformat": ",.0f"},
        y={"type": "category"},
        height=max(260, 60 + 26 * len(rows)),
        showlegend=False,
    )
    return {"data": data, "layout": layout}


def _periods_after(start: date, grain: str, n: int) -> date:
    if grain == "month":
        months = start.year * 12 + start.month - 1 + n
        return date(months // 12, months % 12 + 1, 1)
    return start + timedelta(days=n * (7 if grain == "week" else 1))


def _iso(value) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)
