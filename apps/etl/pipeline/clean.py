"""Clean: drop exact duplicate rows, and give each valid row its country and return flag.

Trimming and country codes happen in validate's one pass (a country must be resolved to be
checked); here the rules that need the whole file or the valid rows only.
"""

from dataclasses import dataclass

import duckdb

from apps.etl.pipeline.engine import ident, literal
from apps.etl.pipeline.extract import SOURCE_ROW

UNIQUE = "unique_rows"
CLEAN = "clean"


def drop_duplicates(con: duckdb.DuckDBPyConnection, source: str, *, columns: list[str]) -> tuple[str, int]:
    """Keep the first of each set of rows identical in every mapped column.

    One hash aggregation over the whole file, which DuckDB spills to disk when it outgrows
    memory: duplicates are found across the whole file, however it is read.
    """
    if not columns:
        return source, 0
    key = ", ".join(ident(c) for c in columns)
    con.execute(
        f"""CREATE OR REPLACE TABLE {UNIQUE} AS
            SELECT {key}, min({SOURCE_ROW}) AS {SOURCE_ROW} FROM {source} GROUP BY {key}"""
    )
    total = con.execute(f"SELECT count(*) FROM {source}").fetchall()[0][0]
    kept = con.execute(f"SELECT count(*) FROM {UNIQUE}").fetchall()[0][0]
    return UNIQUE, total - kept


@dataclass(frozen=True)
class Cleaned:
    table: str
    returns: int
    countries_from_file: int
    countries_defaulted: int


def finish(con: duckdb.DuckDBPyConnection, typed: str, *, present: list[str], default_country: str) -> Cleaned:
    """The valid rows, with their ISO country (the file's, else the shop's) and `is_return`.

    A return is a negative quantity or a cancelled invoice (`C536379`, Online Retail's mark).
    """
    country = "country_code" if "country" in present else "NULL"
    order_id = "order_id" if "order_id" in present else "NULL"
    quantity = "quantity" if "quantity" in present else "NULL"
    con.execute(
        f"""CREATE OR REPLACE VIEW {CLEAN} AS
            SELECT * EXCLUDE (problems, trimmed{", country, country_code" if "country" in present else ""}),
                   coalesce({country}, {literal(default_country)}) AS country_code,
                   {country} IS NOT NULL AS country_from_file,
                   (coalesce({quantity} < 0, false) OR upper(coalesce({order_id}, '')) LIKE 'C%') AS is_return
            FROM {typed} WHERE len(problems) = 0"""
    )
    returns, from_file, total = con.execute(
        f"SELECT count(*) FILTER (WHERE is_return), count(*) FILTER (WHERE country_from_file), count(*) FROM {CLEAN}"
    ).fetchall()[0]
    return Cleaned(CLEAN, returns, from_file, total - from_file)
