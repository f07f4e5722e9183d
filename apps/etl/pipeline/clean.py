"""Clean: drop exact duplicate rows, and give each valid row its country and return flag.

Text normalisation and the country lookup happen in validate's one pass (a country must be
resolved to be checked); here what needs the whole file (duplicates) or the valid rows only
(the flags of the rules in rules.py: returns, countries from the file, else the shop's).
"""

from dataclasses import dataclass

import duckdb

from apps.etl.pipeline.engine import ident, literal
from apps.etl.pipeline.extracted import ROW_HASH, SOURCE_ROW
from apps.etl.pipeline.rules import COUNTRIES_FROM_FILE, RETURNS, field_value, flag

UNIQUE = "unique_rows"
CLEAN = "clean"
MONTHS = "clean_months"  # the valid rows counted by currency (as in the file) and month


def drop_duplicates(con: duckdb.DuckDBPyConnection, source: str, *, columns: list[str]) -> tuple[str, int]:
    """Keep the first of each set of rows identical in every mapped column.

    A hash of each row finds the few candidates in one pass (no copy of the rows); only
    those are compared column by column. DuckDB spills both steps to disk when needed,
    so duplicates are found across the whole file however big it is. When `source`
    carries each row's hash over `columns` (taken as the file was read), that one is used.
    """
    if not columns:
        return source, 0
    key = ", ".join(ident(c) for c in columns)
    carried = ROW_HASH in [d[0] for d in con.execute(f"SELECT * FROM {source} LIMIT 0").description]
    row_hash = ROW_HASH if carried else f"hash({key})"
    con.execute(
        f"""CREATE OR REPLACE TABLE dup_hashes AS
            SELECT h FROM (SELECT {row_hash} AS h FROM {source}) GROUP BY h HAVING count(*) > 1"""
    )
    if not con.execute("SELECT count(*) FROM dup_hashes").fetchall()[0][0]:
        return source, 0  # no two rows alike: the rows need not be scanned again
    con.execute(
        f"""CREATE OR REPLACE TABLE dropped_rows AS
            SELECT {SOURCE_ROW} FROM (
                SELECT {SOURCE_ROW}, row_number() OVER (PARTITION BY {key} ORDER BY {SOURCE_ROW}) AS copy
                FROM {source} WHERE {row_hash} IN (SELECT h FROM dup_hashes))
            WHERE copy > 1"""
    )
    dropped = con.execute("SELECT count(*) FROM dropped_rows").fetchall()[0][0]
    if not dropped:
        return source, 0
    con.execute(
        f"""CREATE OR REPLACE VIEW {UNIQUE} AS
            SELECT * FROM {source} WHERE {SOURCE_ROW} NOT IN (SELECT {SOURCE_ROW} FROM dropped_rows)"""
    )
    return UNIQUE, dropped


@dataclass(frozen=True)
class Cleaned:
    table: str
    returns: int
    countries_from_file: int
    countries_defaulted: int
    months: str = MONTHS  # currency, month: the FX rates the load needs (transform.rate_months)


def finish(
    con: duckdb.DuckDBPyConnection,
    typed: str,
    *,
    present: list[str],
    default_country: str,
    country_type: str = "VARCHAR",
) -> Cleaned:
    """The valid rows, with their ISO country (the file's, else the shop's) and `is_return`:
    the flags of the rules (rules.py) that count returns and countries from the file.
    `country_type`: the type of `typed`'s country_code (Validated.country_type)."""
    country = field_value("country", present)
    con.execute(
        f"""CREATE OR REPLACE VIEW {CLEAN} AS
            SELECT * EXCLUDE (problems, trimmed{", country_code" if "country" in present else ""}),
                   coalesce({country}, CAST({literal(default_country)} AS {country_type})) AS country_code,
                   {flag(COUNTRIES_FROM_FILE, present)} AS country_from_file,
                   {flag(RETURNS, present)} AS is_return
            FROM {typed} WHERE len(problems) = 0"""
    )
    # One scan counts the rules' rows and finds the (currency, month) pairs the load needs rates for.
    currency = "currency" if "currency" in present else "CAST(NULL AS VARCHAR)"
    month = "CAST(date_trunc('month', order_date) AS DATE)" if "order_date" in present else "CAST(NULL AS DATE)"
    con.execute(
        f"""CREATE OR REPLACE TABLE {MONTHS} AS
            SELECT {currency} AS currency, {month} AS month, count(*) FILTER (WHERE is_return) AS returns,
                   count(*) FILTER (WHERE country_from_file) AS from_file, count(*) AS n
            FROM {CLEAN} GROUP BY ALL"""
    )
    returns, from_file, total = con.execute(
        f"SELECT coalesce(sum(returns), 0), coalesce(sum(from_file), 0), coalesce(sum(n), 0) FROM {MONTHS}"
    ).fetchall()[0]
    return Cleaned(CLEAN, int(returns), int(from_file), int(total - from_file))
