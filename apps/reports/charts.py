"""Plotly figures for the report pages, built on the server and drawn by plotly.js."""

import json

import plotly.graph_objects as go

# One colour per country on every page.
COUNTRY_COLOURS = {"US": "#1f77b4", "GB": "#d62728", "FR": "#2ca02c", "AU": "#ff7f0e"}
OTHER_COLOURS = ["#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]


def country_colour(code: str) -> str:
    if code in COUNTRY_COLOURS:
        return COUNTRY_COLOURS[code]
    return OTHER_COLOURS[sum(map(ord, code)) % len(OTHER_COLOURS)]


def revenue_by_month_chart(rows: list[dict], *, currency: str) -> dict:
    """Stacked monthly revenue, one bar colour per country; a figure for Plotly.newPlot."""
    figure = go.Figure()
    for code in sorted({r["country_code"] for r in rows}):
        series = [r for r in rows if r["country_code"] == code]
        figure.add_bar(
            name=code,
            x=[r["month"] for r in series],
            y=[r["revenue"] for r in series],
            marker_color=country_colour(code),
            hovertemplate=f"{code} %{{x}}<br>%{{y:,.2f}} {currency}<extra></extra>",
        )
    figure.update_layout(
        title=f"Revenue by month and country ({currency})",
        barmode="stack",
        # Categories follow first appearance across traces unless told; months are "YYYY-MM".
        xaxis={"title": "Month", "type": "category", "categoryorder": "category ascending"},
        yaxis={"title": f"Revenue ({currency})", "tickformat": ",.0f"},
        legend={"title": "Country"},
        margin={"l": 70, "r": 20, "t": 50, "b": 60},
        template="plotly_white",
    )
    return json.loads(figure.to_json())
