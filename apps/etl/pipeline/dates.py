"""Dates in the forms files use: ISO, month-first or day-first (2- or 4-digit years, with or
without a time), and Excel serial numbers. SQL expressions only, so they run vectorised."""

import duckdb

from apps.etl.pipeline.engine import sql_list

_TIMES = (" %H:%M:%S", " %H:%M", "")
ISO_FORMATS = [f"%Y{s}%m{s}%d{t}" for s in "-/" for t in (" %H:%M:%S.%f", "T%H:%M:%S", *_TIMES)]
ORDER_FORMATS = {
    "MDY": {y: [f"%m{s}%d{s}{y}{t}" for s in "/-." for t in _TIMES] for y in ("%Y", "%y")},
    "DMY": {y: [f"%d{s}%m{s}{y}{t}" for s in "/-." for t in _TIMES] for y in ("%Y", "%y")},
}
ORDER_NAMES = {"MDY": "month first", "DMY": "day first"}
# How the note starts when no date of the file decides the order (the user may choose it).
AMBIGUOUS = "ambiguous"
# Excel counts days from 1899-12-30 (its 1900 leap-year bug included); 2958465 is 9999-12-31.
EXCEL_EPOCH = "TIMESTAMP '1899-12-30'"
SERIAL = r"^\d{1,7}(\.\d+)?$"


def date_expression(v: str, order: str) -> str:
    """SQL reading trimmed text `v` as a TIMESTAMP: ISO, the given day/month order, or a serial."""
    fmts = ORDER_FORMATS[order]
    return (
        f"CASE WHEN regexp_matches({v}, '^\\d{{4}}[-/]') THEN try_strptime({v}, {sql_list(ISO_FORMATS)}) "
        f"WHEN regexp_matches({v}, '^\\d{{1,2}}[-/.]\\d{{1,2}}[-/.]\\d{{2}}(\\D|$)') "
        f"THEN try_strptime({v}, {sql_list(fmts['%y'])}) "
        f"WHEN regexp_matches({v}, '{SERIAL}') AND TRY_CAST({v} AS DOUBLE) BETWEEN 1 AND 2958465 "
        f"THEN {EXCEL_EPOCH} + to_microseconds(CAST(round(CAST({v} AS DOUBLE) * 86400000000) AS BIGINT)) "
        f"ELSE try_strptime({v}, {sql_list(fmts['%Y'])}) END"
    )


def fast_date_expression(con: duckdb.DuckDBPyConnection, table: str, column: str, order: str, *, value: str) -> str:
    """`date_expression` of `value` (trimmed `column`), led by the one format most of a sample
    reads with: files use one format throughout, so most rows take one strptime, not a list."""
    candidates = [*ISO_FORMATS, *ORDER_FORMATS[order]["%Y"], *ORDER_FORMATS[order]["%y"]]
    # `%Y` reads `19/4/11` as the year 11: only plausible years count, here and below.
    counts = ", ".join(f"count(*) FILTER (WHERE year(try_strptime(v, '{f}')) >= 1000)" for f in candidates)
    row = con.execute(
        f"SELECT {counts} FROM (SELECT trim({column}) AS v FROM {table} WHERE trim({column}) <> '' LIMIT 500)"
    ).fetchall()[0]
    best = max(range(len(candidates)), key=lambda i: row[i])
    full = date_expression(value, order)
    if row[best] == 0:
        return full
    primary = f"try_strptime({value}, '{candidates[best]}')"
    return f"CASE WHEN year({primary}) >= 1000 THEN {primary} ELSE {full} END"


def decide_date_order(
    con: duckdb.DuckDBPyConnection, table: str, column: str, default: str, *, chosen: bool = False
) -> tuple[str, str]:
    """Let the file's own values decide the day/month order; else `default`: the region's
    usual one, or (`chosen`) the one the user chose for the upload.

    A value decides when one of its first two numbers is above 12 (19/4 is day first).
    """
    parts = "regexp_extract(trim(v), '^(\\d{1,2})[-/.](\\d{1,2})[-/.]\\d', ['a', 'b'])"
    # The order shows in a value's first 7 characters (`12/31/2`): grouped by those, a
    # million timestamps are a few hundred days.
    prefix = f"left(CASE WHEN starts_with({column}, ' ') THEN ltrim({column}) ELSE {column} END, 7)"
    # Each distinct value is read once and counts as many times as it occurs.
    dmy, mdy, slashed = con.execute(
        f"""SELECT coalesce(sum(n) FILTER (WHERE TRY_CAST(p.a AS INT) > 12 AND TRY_CAST(p.b AS INT) <= 12), 0),
                   coalesce(sum(n) FILTER (WHERE TRY_CAST(p.b AS INT) > 12 AND TRY_CAST(p.a AS INT) <= 12), 0),
                   coalesce(sum(n) FILTER (WHERE p.a <> ''), 0)
            FROM (SELECT {parts} AS p, n FROM (SELECT {prefix} AS v, count(*) AS n FROM {table} GROUP BY 1))"""
    ).fetchall()[0]
    region = f"{'the order chosen for this upload' if chosen else "the region's usual order"} ({ORDER_NAMES[default]})"
    if slashed == 0:
        return default, "dates are in ISO order (year first) or Excel dates"
    if dmy == mdy == 0:
        return default, f"{AMBIGUOUS}: every date reads both ways ({slashed} dates); used {region}"
    chosen = "DMY" if dmy > mdy else "MDY"
    note = f"decided by the file's values: {max(dmy, mdy)} of {slashed} dates only read {ORDER_NAMES[chosen]}"
    if min(dmy, mdy):
        note += f"; {min(dmy, mdy)} read only the other way and are rejected"
    return chosen, note
