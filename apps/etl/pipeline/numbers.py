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
_PLAIN = r"[-+]?\d+"
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
        return COMMA, f"decimal comma ({commas} values read only that way)"
    if dots:
        return DOT, f"decimal point ({dots} values read only that way)"
    return None, "no value decided it"


def decide_decimal_marks(con: duckdb.DuckDBPyConnection, table: str, columns: list[str]) -> dict[str, tuple[str, str]]:
    """Each numeric column's mark. A column its own values leave open (`1.200` in a whole
    number column) follows the file's other numbers, else the decimal point."""
    decided = {c: decide_decimal_mark(con, table, ident(c)) for c in columns}
    marks = [mark for mark, _ in decided.values() if mark]
    fallback = max(set(marks), key=marks.count) if marks else DOT
    name = "decimal comma" if fallback == COMMA else "decimal point"
    return {
        c: (mark, note) if mark else (fallback, f"{name}, as the file's other numbers ({note})")
        for c, (mark, note) in decided.items()
    }


def decimal_expression(v: str, mark: str) -> str:
    """SQL reading trimmed text `v` as DECIMAL(18, 4); NULL when it is not a number in `mark`."""
    if mark == COMMA:
        cleaned = f"replace(regexp_replace({v}, '[.]|{_GROUP}', '', 'g'), ',', '.')"
    else:
        cleaned = f"regexp_replace({v}, ',|{_GROUP}', '', 'g')"
    # Most cells are plain (`3.95`, `12`): one cast, no regex.
    plain = r"[-+]?\d+(\.\d+)?" if mark == DOT else _PLAIN
    return (
        f"CASE WHEN regexp_full_match({v}, '{plain}') THEN TRY_CAST({v} AS {MONEY_SQL}) "
        f"WHEN regexp_full_match({v}, '{PATTERNS[mark]}') THEN TRY_CAST({cleaned} AS {MONEY_SQL}) END"
    )
