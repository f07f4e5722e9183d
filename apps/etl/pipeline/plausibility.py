"""Plausibility: an upload's figures beside its shop's own recent uploads, before it loads.

`upload_summary` reads the run's clean rows once (one DuckDB statement) into a few
figures: lines, sales, orders, average order value, the median unit price, the dates and
the currencies. `plausibility_judge` compares them with the same figures of the shop's
recent loaded uploads and says whether the upload looks like a fault (ten times the usual
volume, prices a hundred times off, dates a year off, another currency). Robust statistics
only (medians, the median absolute deviation of the logarithms): one odd upload in the
history moves nothing. Pure: no ORM, no settings; the caller brings the history.
"""

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import duckdb

# Fewer earlier uploads than this: never held (a new shop has no pattern yet).
MIN_HISTORY = 3
# How many of the shop's latest loaded uploads make its pattern.
HISTORY_SIZE = 12
# A figure is held when it is this many robust standard deviations (1.4826 x the median
# absolute deviation of the logarithms) from the history's median, and by at least
# `floor` times; a history that varies a lot widens the limit, up to `cap` times.
SPREAD_Z = 3.0


@dataclass(frozen=True)
class Measure:
    key: str  # in the summary
    label: str  # what the page calls it
    floor: float  # the least factor that holds
    cap: float  # the most factor needed to hold, however the history varies
    both_ways: bool  # held when this many times lower too
    why: str  # the likely fault, for the sentence on the page


REPEATS = "the file may hold its rows several times over"
MEASURES = (
    Measure("lines_read", "number of lines in the file", 5.0, 8.0, False, REPEATS),
    Measure("lines", "number of valid lines", 5.0, 8.0, False, "it may hold more than one period, or rows repeated"),
    Measure("sales", "sales", 5.0, 8.0, False, "quantities or prices may be read wrongly, or rows repeated"),
    Measure("aov", "average order value", 5.0, 8.0, True, "quantities or prices may be read wrongly"),
    Measure("median_price", "median unit price", 8.0, 20.0, True, "prices may be in cents, or in another unit"),
)
# Dates: the days between an upload and its median order date; held when that lag is
# 3 robust standard deviations and at least DATE_FLOOR_DAYS from the shop's usual lag (a year
# off, not a late month); not judged when that limit passes DATE_CAP_DAYS (no steady lag).
DATE_FLOOR_DAYS = 180
DATE_CAP_DAYS = 300
# A file most of whose lines repeat (dropped as exact duplicates) when the shop's files do not.
REPEATED_SHARE = 0.5


def upload_summary(
    con: duckdb.DuckDBPyConnection, clean: str, *, present: Sequence[str], currency: str, lines_read: int, dropped: int
) -> dict:
    """The figures of an upload's clean rows (table or view `clean`), JSON-ready. Sales count
    only the lines that are not returns; the average order value is sales per order with a
    sale (None when the file has no order id); currencies as the load sets them (the file's,
    else `currency`, the region's)."""
    orders = "count(DISTINCT order_id) FILTER (WHERE NOT is_return)" if "order_id" in present else "NULL"
    row_currency = "coalesce(upper(trim(currency)), $currency)" if "currency" in present else "$currency"
    figures = con.execute(
        f"""SELECT count(*), {orders},
                   sum(CAST(quantity * unit_price AS DOUBLE)) FILTER (WHERE NOT is_return),
                   median(CAST(unit_price AS DOUBLE)) FILTER (WHERE NOT is_return),
                   CAST(min(order_date) AS DATE), CAST(max(order_date) AS DATE),
                   CAST(quantile_disc(order_date, 0.5) AS DATE),
                   histogram({row_currency})
            FROM {clean}""",
        {"currency": currency},
    ).fetchall()[0]
    lines, sale_orders, sales, median_price, first, last, middle, currencies = figures
    return {
        "lines_read": lines_read,
        "duplicates": dropped,
        "lines": lines,
        "orders": sale_orders,
        "sales": round(sales or 0.0, 2),
        "aov": round(sales / sale_orders, 4) if sale_orders and sales else None,
        "median_price": round(median_price, 4) if median_price is not None else None,
        "first_date": first.isoformat() if first else None,
        "last_date": last.isoformat() if last else None,
        "median_date": middle.isoformat() if middle else None,
        "currencies": dict(currencies or {}),
    }


@dataclass(frozen=True)
class Earlier:
    """One of the shop's recent loaded uploads, as the judge sees it."""

    id: str
    name: str
    uploaded_on: date
    summary: dict


def plausibility_judge(summary: dict, *, uploaded_on: date, history: Sequence[Earlier]) -> dict:
    """The upload beside its shop's recent uploads (newest first, at most HISTORY_SIZE): each
    figure's value, the history's median, the ratio and the limit, and `held` with the
    reasons when one is past its limit. Never held with fewer than MIN_HISTORY uploads."""
    history = [e for e in history if e.summary][:HISTORY_SIZE]
    findings = {"held": False, "reasons": [], "checks": [], "history": [_point(e) for e in history]}
    if len(history) < MIN_HISTORY:
        findings["note"] = (
            f"Not compared: the shop has {len(history)} earlier loaded uploads, fewer than {MIN_HISTORY}."
        )
        return findings
    checks = [c for m in MEASURES if (c := _ratio_check(m, summary, history))]
    checks += [c for c in (_repeat_check(summary, history), _date_check(summary, uploaded_on, history)) if c]
    checks += [c for c in (_currency_check(summary, history),) if c]
    findings["checks"] = checks
    held = {c["key"] for c in checks if c["held"]}
    # The file's lines say nothing more than its valid lines when both are past their limit.
    findings["reasons"] = [
        c["reason"] for c in checks if c["held"] and not (c["key"] == "lines_read" and "lines" in held)
    ]
    findings["held"] = bool(findings["reasons"])
    return findings


def _point(earlier: Earlier) -> dict:
    s = earlier.summary
    keys = ("lines_read", "lines", "sales", "aov", "median_price", "median_date")
    return {"id": earlier.id, "name": earlier.name, "uploaded_on": earlier.uploaded_on.isoformat()} | {
        k: s.get(k) for k in keys
    }


def _log_spread(values: Sequence[float]) -> tuple[float, float]:
    """The median of the logarithms and their robust standard deviation (1.4826 x MAD)."""
    logs = [math.log(v) for v in values]
    middle = statistics.median(logs)
    return middle, 1.4826 * statistics.median(abs(x - middle) for x in logs)


def _ratio_check(m: Measure, summary: dict, history: Sequence[Earlier]) -> dict | None:
    value = summary.get(m.key)
    earlier = [e.summary.get(m.key) for e in history]
    earlier = [v for v in earlier if v is not None and v > 0]
    if value is None or value <= 0 or len(earlier) < MIN_HISTORY:
        return None
    middle, spread = _log_spread(earlier)
    usual = math.exp(middle)
    limit = min(max(math.exp(SPREAD_Z * spread), m.floor), m.cap)
    ratio = value / usual
    high, low = ratio >= limit, m.both_ways and ratio <= 1 / limit
    reason = ""
    if high or low:
        times = f"{ratio:,.1f} times" if high else f"1/{1 / ratio:,.0f} of"
        verb = "are" if m.label == "sales" else "is"  # "its sales are", "its median unit price is"
        reason = f"Its {m.label} ({_num(value)}) {verb} {times} the shop's usual ({_num(usual)}): {m.why}."
    return {
        "key": m.key,
        "label": m.label,
        "value": value,
        "usual": round(usual, 4),
        "ratio": round(ratio, 3),
        "limit": round(limit, 2),
        "held": high or low,
        "reason": reason,
    }


def _repeat_check(summary: dict, history: Sequence[Earlier]) -> dict | None:
    read = summary.get("lines_read") or 0
    if not read:
        return None
    share = (summary.get("duplicates") or 0) / read
    usual = statistics.median(_share(e.summary) for e in history)
    held = share >= REPEATED_SHARE and usual < REPEATED_SHARE / 2
    reason = (
        f"{share:.0%} of its lines repeat other lines of the file exactly (the shop's files: {usual:.0%}): "
        "the file may hold its rows several times over."
        if held
        else ""
    )
    return _check("duplicates", "lines repeated in the file", round(share, 4), round(usual, 4), REPEATED_SHARE, reason)


def _share(summary: dict) -> float:
    read = summary.get("lines_read") or 0
    return (summary.get("duplicates") or 0) / read if read else 0.0


def _date_check(summary: dict, uploaded_on: date, history: Sequence[Earlier]) -> dict | None:
    """How far behind its upload day an upload's median order date is, beside the shop's usual lag."""
    if not summary.get("median_date"):
        return None
    lags = [(e.uploaded_on - date.fromisoformat(e.summary["median_date"])).days for e in history
            if e.summary.get("median_date")]  # fmt: skip
    if len(lags) < MIN_HISTORY:
        return None
    lag = (uploaded_on - date.fromisoformat(summary["median_date"])).days
    usual = statistics.median(lags)
    spread = 1.4826 * statistics.median(abs(x - usual) for x in lags)
    limit = max(SPREAD_Z * spread, DATE_FLOOR_DAYS)
    off = lag - usual
    # A shop whose uploads hold dates at no steady distance from their upload day (a back
    # catalogue loaded in one go) has no pattern to be a year off from.
    held = limit <= DATE_CAP_DAYS and abs(off) >= limit
    reason = ""
    if held:
        way = "earlier" if off > 0 else "later"
        reason = (
            f"Its dates (middle {summary['median_date']}) are {abs(off):,.0f} days {way} than the shop's uploads "
            f"usually hold: the dates may be a year off, or read in the wrong order."
        )
    return _check("date_lag", "days between the sales and the upload", lag, usual, round(limit), reason)


def _currency_check(summary: dict, history: Sequence[Earlier]) -> dict | None:
    """Held when most of the upload's lines are in a currency none of the recent uploads had."""
    currencies = summary.get("currencies") or {}
    if not currencies:
        return None
    known = {c for e in history for c in (e.summary.get("currencies") or {})}
    if not known:
        return None
    new = {c: n for c, n in currencies.items() if c not in known}
    share = sum(new.values()) / sum(currencies.values())
    held = share > 0.5
    reason = ""
    if held:
        listed = ", ".join(sorted(new))
        usual = ", ".join(sorted(known))
        reason = f"Most of its lines are in {listed}; the shop's recent uploads are in {usual}."
    return _check("currency", "currency", ", ".join(sorted(currencies)), ", ".join(sorted(known)), None, reason)


def _check(key: str, label: str, value, usual, limit, reason: str) -> dict:
    """A check without a ratio; held when it gives a reason."""
    return {"key": key, "label": label, "value": value, "usual": usual, "ratio": None, "limit": limit,
            "held": bool(reason), "reason": reason}  # fmt: skip


def _num(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 or float(value).is_integer() else f"{value:,.2f}"
