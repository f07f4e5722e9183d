"""Validate: text cells -> typed values, and every refused row as data with its reasons.

The work runs as vectorised SQL in an in-memory DuckDB over the Arrow table: no Python
loop over rows. A row with several problems gets one error per problem.
"""

from dataclasses import dataclass

import duckdb
import pyarrow as pa

from apps.etl.pipeline.extract import SOURCE_ROW
from apps.etl.pipeline.spec import DataType, SchemaSpec

ERRORS_SCHEMA = pa.schema(
    [("source_row", pa.int64()), ("column", pa.string()), ("value", pa.string()), ("reason", pa.string())]
)

_TIMES = (" %H:%M:%S", " %H:%M", "")
ISO_FORMATS = [f"%Y{s}%m{s}%d{t}" for s in "-/" for t in (" %H:%M:%S.%f", "T%H:%M:%S", *_TIMES)]
ORDER_FORMATS = {
    "MDY": {y: [f"%m{s}%d{s}{y}{t}" for s in "/-." for t in _TIMES] for y in ("%Y", "%y")},
    "DMY": {y: [f"%d{s}%m{s}{y}{t}" for s in "/-." for t in _TIMES] for y in ("%Y", "%y")},
}


@dataclass(frozen=True)
class Validated:
    rows: pa.Table  # rows that passed, typed; same source_row numbers
    errors: pa.Table  # ERRORS_SCHEMA, one line per problem
    date_order: str  # the order used for ambiguous dates: "MDY" or "DMY"
    date_order_note: str  # how it was decided, for the upload's report


def _sql_list(values: list[str]) -> str:
    return "[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def date_expression(column: str, order: str) -> str:
    """SQL that reads a text column as a TIMESTAMP in ISO, or in the given day/month order."""
    v = f"trim({column})"
    fmts = ORDER_FORMATS[order]
    return (
        f"CASE WHEN regexp_matches({v}, '^\\d{{4}}[-/]') THEN try_strptime({v}, {_sql_list(ISO_FORMATS)}) "
        f"WHEN regexp_matches({v}, '^\\d{{1,2}}[-/.]\\d{{1,2}}[-/.]\\d{{2}}(\\D|$)') "
        f"THEN try_strptime({v}, {_sql_list(fmts['%y'])}) "
        f"ELSE try_strptime({v}, {_sql_list(fmts['%Y'])}) END"
    )


def decide_date_order(con: duckdb.DuckDBPyConnection, column: str, default: str) -> tuple[str, str]:
    """Let the file's own values decide the day/month order; else the region's usual one."""
    not_iso = f"trim({column}) <> '' AND NOT regexp_matches(trim({column}), '^\\d{{4}}[-/]')"
    mdy, dmy, filled = con.execute(
        f"SELECT count(*) FILTER (WHERE {date_expression(column, 'MDY')} IS NOT NULL), "
        f"count(*) FILTER (WHERE {date_expression(column, 'DMY')} IS NOT NULL), "
        f"count(*) FROM src WHERE {not_iso}"
    ).fetchone()
    if filled == 0:
        return default, "dates are in ISO order (year first)"
    if mdy == dmy:
        if mdy == 0:
            return default, "no readable dates"
        return default, f"ambiguous: every date reads both ways; used the region's usual order ({default})"
    chosen = "MDY" if mdy > dmy else "DMY"
    return chosen, f"decided by the file's values ({max(mdy, dmy)} of {filled} dates read as {chosen})"


def _typed_expression(name: str, data_type: str, date_order: str) -> str:
    col = f'"{name}"'
    if data_type == DataType.DATETIME:
        return date_expression(col, date_order)
    if data_type == DataType.INTEGER:
        # A spreadsheet's 6.0 is a whole number; 2.7 is not, and must not be rounded to 3.
        number = f"TRY_CAST(NULLIF(trim({col}), '') AS DOUBLE)"
        return f"CASE WHEN {number} = trunc({number}) THEN TRY_CAST({number} AS BIGINT) END"
    if data_type == DataType.DECIMAL:
        return f"TRY_CAST(NULLIF(trim({col}), '') AS DECIMAL(18, 4))"
    return f"NULLIF(regexp_replace(trim({col}), '\\s+', ' ', 'g'), '')"


def validate(table: pa.Table, spec: SchemaSpec, *, default_date_order: str) -> Validated:
    con = duckdb.connect()
    con.register("src", table)
    present = [f for f in spec.fields if f.name in table.column_names]
    date_order, note = default_date_order, ""
    if spec.field("order_date") and "order_date" in table.column_names:
        date_order, note = decide_date_order(con, '"order_date"', default_date_order)

    typed = ", ".join(f'{_typed_expression(f.name, f.data_type, date_order)} AS "{f.name}"' for f in present)
    con.execute(f"CREATE TEMP TABLE typed AS SELECT {SOURCE_ROW}, {typed} FROM src")

    checks = []
    for f in present:
        raw = f'trim(src."{f.name}")'
        if f.required:
            checks.append((f.name, f"{raw} = ''", "required value is missing"))
        if f.data_type != DataType.STRING:
            kind = {DataType.INTEGER: "a whole number", DataType.DECIMAL: "a number"}.get(f.data_type, "a date")
            checks.append((f.name, f"{raw} <> '' AND typed.\"{f.name}\" IS NULL", f"cannot be read as {kind}"))
    if "order_date" in table.column_names:
        checks.append(
            (
                "order_date",
                "year(typed.order_date) NOT BETWEEN 1900 AND 2100",
                "date out of range (1900-2100)",
            )
        )
    if {"quantity", "unit_price"} <= set(table.column_names):
        checks.append(("quantity", "typed.quantity = 0", "quantity is zero"))
        checks.append(("unit_price", "typed.quantity > 0 AND typed.unit_price <= 0", "price must be above 0 on a sale"))
    if "country" in table.column_names:
        aliases = pa.table({"alias": list(spec.country_aliases), "code": list(spec.country_aliases.values())})
        con.register("country_aliases", aliases)
        checks.append(
            (
                "country",
                "trim(src.country) <> '' AND upper(trim(src.country)) NOT IN (SELECT alias FROM country_aliases)",
                "unknown country",
            )
        )

    error_selects = [
        f"SELECT src.{SOURCE_ROW}, '{column}' AS \"column\", src.\"{column}\" AS value, '{reason}' AS reason "
        f"FROM src JOIN typed USING ({SOURCE_ROW}) WHERE {condition}"
        for column, condition, reason in checks
    ]
    if error_selects:
        errors = con.sql(" UNION ALL ".join(error_selects) + f" ORDER BY {SOURCE_ROW}").to_arrow_table()
    else:
        errors = ERRORS_SCHEMA.empty_table()
    con.register("errors", errors)
    rows = con.sql(
        f"SELECT * FROM typed WHERE {SOURCE_ROW} NOT IN (SELECT {SOURCE_ROW} FROM errors) ORDER BY {SOURCE_ROW}"
    ).to_arrow_table()
    return Validated(rows=rows, errors=errors.cast(ERRORS_SCHEMA), date_order=date_order, date_order_note=note)
