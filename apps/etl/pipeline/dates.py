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


def lead_date_format(con: duckdb.DuckDBPyConnection, table: str, column: str, order: str) -> str | None:
    """The one format most of a 500-value sample of `column` reads with (files use one format
    throughout); None when none reads any."""
    candidates = [*ISO_FORMATS, *ORDER_FORMATS[order]["%Y"], *ORDER_FORMATS[order]["%y"]]
    values = f"SELECT trim({column}) AS v FROM {table} WHERE trim({column}) <> '' LIMIT 500"
    # `%Y` reads `19/4/11` as the year 11: only plausible years count, here and below.
    reads = [f"year(try_strptime(v, '{f}')) >= 1000" for f in candidates]
    # The formats the first value reads with are counted first (a strptime for each of 35
    # formats and 500 values took 8 ms); all of them only when none of those reads most.
    first = con.execute(
        f"SELECT {', '.join(f'coalesce({r}, false)' for r in reads)} FROM ({values}) LIMIT 1"
    ).fetchall()
    likely = [i for i, ok in enumerate(first[0] if first else []) if ok]
    for indexes in (likely, range(len(candidates))):
        if not indexes:
            continue
        counts = ", ".join(f"count(*) FILTER (WHERE {reads[i]})" for i in indexes)
        *row, total = con.execute(f"SELECT {counts}, count(*) FROM ({values})").fetchall()[0]
        best = max(range(len(indexes)), key=lambda i: row[i])
        if row[best] * 2 > total or (indexes is not likely and row[best]):
            return candidates[indexes[best]]
    return None


def fast_date_expression(con: duckdb.DuckDBPyConnection, table: str, column: str, order: str, *, value: str) -> str:
    """`date_expression` of `value` (trimmed `column`), led by the sample's lead format: most
    rows then take one strptime, not a list."""
    full = date_expression(value, order)
    lead = lead_date_format(con, table, column, order)
    if lead is None:
        return full
    primary = f"try_strptime({value}, '{lead}')"
    return f"CASE WHEN year({primary}) >= 1000 THEN {primary} ELSE {full} END"


def is_day_month(fmt: str) -> bool:
    """Whether dates in `fmt` start with a day and a month (in some order), not a year."""
    return fmt.startswith(("%d", "%m"))


def decide_date_order(
    con: duckdb.DuckDBPyConnection, table: str, column: str, default: str, *, chosen: bool = False
) -> tuple[str, str]:
    """Let the file's own values decide the day/month order; else `default`: the region's
    usual one, or (`chosen`) the one the user chose for the upload."""
    return order_note(*date_order_votes(con, table, column), default, chosen=chosen)


def date_order_votes(con: duckdb.DuckDBPyConnection, table: str, column: str) -> tuple[int, int, int]:
    """How many values of text `column` only read day first, only month first, and start
    with a day and a month at all. A value decides when one of its first two numbers is
    above 12 (19/4 is day first)."""
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
    return dmy, mdy, slashed


def typed_date_votes(con: duckdb.DuckDBPyConnection, table: str, column: str, *, fmt: str, order: str):
    """`date_order_votes` of a column the CSV reader typed with `fmt`: every value read in
    `order`, so none reads only the other way, and a value reads only that way when its day
    is above 12."""
    if not is_day_month(fmt):
        return 0, 0, 0
    decided, slashed = con.execute(
        f"SELECT count(*) FILTER (WHERE day({column}) > 12), count({column}) FROM {table}"
    ).fetchall()[0]
    return (decided, 0, slashed) if order == "DMY" else (0, decided, slashed)


def order_note(dmy: int, mdy: int, slashed: int, default: str, *, chosen: bool = False) -> tuple[str, str]:
    """The order, and why, from the counts of dates that only read day first (`dmy`), only
    month first (`mdy`), and that start with a day and a month at all (`slashed`)."""
    region = f"{'the order chosen for this upload' if chosen else "the region's usual order"} ({ORDER_NAMES[default]})"
    if slashed == 0:
        return default, "dates are in ISO order (year first) or Excel dates"
    if dmy == mdy == 0:
        return default, f"{AMBIGUOUS}: every date reads both ways ({slashed:,} dates); used {region}"
    picked = "DMY" if dmy > mdy else "MDY"
    note = f"decided by the file's values: {max(dmy, mdy):,} of {slashed:,} dates only read {ORDER_NAMES[picked]}"
    if (other := min(dmy, mdy)) == 1:
        note += "; 1 reads only the other way and is rejected"
    elif other:
        note += f"; {other:,} read only the other way and are rejected"
    return picked, note
