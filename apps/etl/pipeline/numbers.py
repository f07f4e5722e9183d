"""Numbers as files write them: `1234.56`, `1,234.56`, `1.234,56`, `1 234,56`.

The decimal mark is decided per column from its values: only values that read one way
vote (`1,234` reads both ways and does not). SQL expressions only, so they run vectorised.
"""

import duckdb

from apps.etl.pipeline.engine import ident

DOT = "."
COMMA = ","
# Group separators: space, no-break space, narrow no-break space, apostrophe (Swiss).
# (written as RE2 escapes: the pattern goes inside SQL string literals).
_GROUP = r"[ \x{a0}\x{202f}\x27]"
PATTERNS = {
    DOT: rf"[-+]?(\d{{1,3}}((,|{_GROUP})\d{{3}})+|\d*)(\.\d+)?",
    COMMA: rf"[-+]?(\d{{1,3}}((\.|{_GROUP})\d{{3}})+|\d*)(,\d+)?",
}
MONEY_SQL = "DECIMAL(18, 4)"


def decide_decimal_mark(con: duckdb.DuckDBPyConnection, table: str, column: str) -> tuple[str | None, str]:
    """(mark, how it was decided) for one column; no mark when no value decides it."""
    v = "trim(v)"
    only_comma = f"regexp_full_match({v}, '{PATTERNS[COMMA]}') AND NOT regexp_full_match({v}, '{PATTERNS[DOT]}')"
    only_dot = f"regexp_full_match({v}, '{PATTERNS[DOT]}') AND NOT regexp_full_match({v}, '{PATTERNS[COMMA]}')"
    # Each distinct value is tested once and votes as many times as it occurs: a price
    # column of a million rows holds a few thousand values.
    commas, dots = con.execute(
        f"SELECT coalesce(sum(n) FILTER (WHERE {only_comma}), 0), coalesce(sum(n) FILTER (WHERE {only_dot}), 0) "
        f"FROM (SELECT {column} AS v, count(*) AS n FROM {table} GROUP BY 1) WHERE contains(v, ',') OR contains(v, '.')"
    ).fetchall()[0]
    if commas > dots:
        return COMMA, "decimal comma (the column's values that read one way only read with it)"
    if dots:
        return DOT, "decimal point (the column's values that read one way only read with it)"
    return None, "no value decided it"


def decide_decimal_marks(
    con: duckdb.DuckDBPyConnection,
    table: str,
    columns: list[str],
    *,
    others: list[str] = (),
    own: dict[str, tuple[str | None, str]] | None = None,
) -> dict[str, tuple[str, str]]:
    """Each numeric column's mark. A column its own values leave open (`1.200` in a whole
    number column) follows the file's other numbers (with `others`, the marks of columns
    decided elsewhere), else the decimal point. `own`: each column's `decide_decimal_mark`,
    when already asked."""
    decided = own if own is not None else {c: decide_decimal_mark(con, table, ident(c)) for c in columns}
    marks = [mark for mark, _ in decided.values() if mark] + list(others)
    fallback = max(set(marks), key=marks.count) if marks else DOT
    name = "decimal comma" if fallback == COMMA else "decimal point"
    return {
        c: (mark, note) if mark else (fallback, f"{name}, as the file's other numbers ({note})")
        for c, (mark, note) in decided.items()
    }


def plain_number(v: str, mark: str) -> str:
    """SQL reading trimmed text `v` as DuckDB's CSV reader reads a DECIMAL(18, 4) cell with
    `mark` as its decimal separator (`3.95`, `-5`, `1e3`; with a comma, `3,95`); NULL when it
    does not. The typed CSV read (typed_read.py) and this expression agree on every value."""
    if mark == COMMA:
        return f"CASE WHEN NOT contains({v}, '.') THEN TRY_CAST(replace({v}, ',', '.') AS {MONEY_SQL}) END"
    return f"TRY_CAST({v} AS {MONEY_SQL})"


def decimal_expression(v: str, mark: str) -> str:
    """SQL reading trimmed text `v` as DECIMAL(18, 4); NULL when it is not a number in `mark`.

    A plain number is read as the CSV reader would (one cast, no regex: most cells); only
    what that refuses is tried as a number with group separators (`1,234.56`, `1 234,56`).
    """
    if mark == COMMA:
        cleaned = f"replace(regexp_replace({v}, '[.]|{_GROUP}', '', 'g'), ',', '.')"
    else:
        cleaned = f"regexp_replace({v}, ',|{_GROUP}', '', 'g')"
    grouped = f"CASE WHEN regexp_full_match({v}, '{PATTERNS[mark]}') THEN TRY_CAST({cleaned} AS {MONEY_SQL}) END"
    return f"coalesce({plain_number(v, mark)}, {grouped})"
