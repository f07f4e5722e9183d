"""Transform: valid, clean rows -> rows of the fact table, with currency and lineage.

Each row's currency is the file's, else the region's. The reporting amount uses the FX
rate in force for the order's month: the latest rate set for a month at or before it
("as of"), so a rate entered once holds until a newer one is entered.
"""

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from apps.etl.pipeline.engine import enum_type, ident, literal
from apps.etl.pipeline.extracted import SOURCE_ROW
from apps.etl.pipeline.spec import DataType, SchemaSpec, UploadContext
from apps.warehouse.fact import FACT_SCHEMA, LINE_KEY_PARTS_DUCKDB, MONEY, line_key_duckdb

RATES = "month_rates"
# The fields the fact table is built from; any other schema field is an added column.
CANONICAL_INPUTS = frozenset(
    {"order_id", "order_date", "product_id", "product_name", "category", "quantity", "unit_price"}
    | {"currency", "customer_id", "country"}
)


class MissingFxRate(Exception):
    """No exchange rate for a currency and month: the load stops rather than guess."""


def _optional(present: list[str], name: str) -> str:
    # Typed, so the stream's schema is the fact table's and needs no cast.
    return name if name in present else "CAST(NULL AS VARCHAR)"


def _currency(present: list[str], prefix: str = "") -> str:
    column = f"{prefix}currency" if "currency" in present else "NULL"
    return f"coalesce(upper(trim({column})), $currency)"


def rate_months(con: duckdb.DuckDBPyConnection, months: str, ctx: UploadContext) -> str:
    """One rate per (currency, month) the rows need (`months`: clean.finish's pairs, the
    currency as in the file); stops when one is missing."""
    fx = pa.table(
        {
            "currency": pa.array([r[0] for r in ctx.fx_rates], pa.string()),
            "month": pa.array([r[1] for r in ctx.fx_rates], pa.date32()),
            "rate": pa.array([r[2] for r in ctx.fx_rates], pa.decimal128(18, 8)),
        }
    )
    con.register("fx", fx)
    con.execute(
        f"""CREATE OR REPLACE TABLE {RATES} AS
            WITH needed AS (SELECT DISTINCT coalesce(upper(trim(currency)), $currency) AS currency, month FROM {months})
            SELECT n.currency, n.month, CASE WHEN n.currency = $reporting THEN 1 ELSE fx.rate END AS rate
            FROM needed n ASOF LEFT JOIN fx ON fx.currency = n.currency AND fx.month <= n.month""",
        {"currency": ctx.currency, "reporting": ctx.reporting_currency},
    )
    missing = con.execute(
        f"SELECT currency, strftime(min(month), '%Y-%m') FROM {RATES} WHERE rate IS NULL GROUP BY 1 ORDER BY 1"
    ).fetchall()
    if missing:
        listed = ", ".join(f"{cur} from {month}" for cur, month in missing)
        raise MissingFxRate(
            f"No exchange rate to {ctx.reporting_currency} for {listed}. "
            "An admin can add it under FX rates; then reprocess this upload."
        )
    return RATES


# quantity x unit_price is exact in DECIMAL(18, 4); times the rate, DuckDB multiplies in
# 64-bit numbers (a tenth of a microsecond) as long as the product stays under 10^6, else it
# overflows; in 128-bit numbers it is exact at any size but 30 times slower (half a second
# per million rows). The 64-bit product is used where it cannot overflow: the same value.
_REVENUE = "CAST(quantity * unit_price AS DECIMAL(18, 4))"
_RATE = "CAST(r.rate AS DECIMAL(18, 8))"
REPORTING_AMOUNT = (
    f"CASE WHEN abs(CAST({_REVENUE} AS DOUBLE) * CAST({_RATE} AS DOUBLE)) < 900000 "
    f"THEN CAST({_REVENUE} * {_RATE} AS DECIMAL(18, 4)) "
    f"ELSE CAST(quantity * unit_price * r.rate AS DECIMAL(18, 4)) END"
)


def rate_currencies(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The currencies the fact rows can have: those `rate_months` found rates for."""
    return [row[0] for row in con.execute(f"SELECT DISTINCT currency FROM {RATES}").fetchall()]


def fact_sql(
    clean: str,
    ctx: UploadContext,
    *,
    present: list[str],
    extras: dict[str, str],
    loaded_at: datetime,
    keyed: "Callable[[str, dict], bool] | None" = None,
) -> tuple[str, dict]:
    """SQL (and its parameters) selecting the fact rows, in `fact_schema(extras)`'s order.

    `extras` are the admin's added fields (name -> data type): they ride along as nullable
    columns after the canonical ones.
    """
    added = "".join(
        f", {ident(name)}" if name in present else f", CAST(NULL AS {SQL_TYPES[data_type]}) AS {ident(name)}"
        for name, data_type in extras.items()
    )
    opt = {name: _optional(present, name) for name in ("product_id", "product_name", "category", "customer_id")}
    sql = f"""
        SELECT $upload_id AS upload_id, {SOURCE_ROW}, {_optional(present, "order_id")} AS order_id,
            CAST(order_date AS DATE) AS order_date,
            CASE WHEN CAST(order_date AS TIME) <> TIME '00:00:00' THEN order_date END AS order_ts,
            country_code, $store_id AS store_id,
            {opt["product_id"]} AS product_id, {opt["product_name"]} AS product_name, {opt["category"]} AS category,
            quantity, unit_price, r.currency AS currency,
            CAST(quantity * unit_price AS DECIMAL(18, 4)) AS revenue,
            {REPORTING_AMOUNT} AS revenue_reporting,
            -- Spreadsheet exports turn the customer id 16764 into 16764.0 or 16764.00.
            CASE WHEN {opt["customer_id"]} LIKE '%.0%' THEN regexp_replace({opt["customer_id"]}, '^(\\d+)\\.0+$', '\\1')
                 ELSE {opt["customer_id"]} END AS customer_id,
            is_return, $loaded_at AS loaded_at{added}
        FROM {clean} c JOIN {RATES} r
          ON r.currency = {_currency(present, "c.")} AND r.month = CAST(date_trunc('month', c.order_date) AS DATE)"""
    params = {
        "upload_id": ctx.upload_id,
        "store_id": ctx.store_id,
        "loaded_at": loaded_at,
        "currency": ctx.currency,
    }
    # `keyed` says whether lines may repeat their key's parts (line_parts_repeat); unasked: they may.
    return with_line_key(sql, repeated=keyed(sql, params) if keyed else True), params


def with_line_key(fact: str, *, repeated: bool = True) -> str:
    """The fact rows with their line key (apps/warehouse/fact.py): the occurrence number
    counts the lines with the same parts in file order, so a line repeated in one order
    (not an exact duplicate row: those are dropped) keeps a key of its own.

    Counting them takes a window over every row and a sort back into file order (about
    1 s per million rows here); `repeated=False` (no two lines share their parts, as
    `line_parts_repeat` finds in a tenth of that) writes occurrence 1 with neither."""
    if not repeated:
        return f"SELECT *, {line_key_duckdb(LINE_KEY_PARTS_DUCKDB, '1')} AS line_key FROM ({fact})"
    occurrence = "row_number() OVER (PARTITION BY _key_parts ORDER BY source_row)"
    return f"""
        SELECT * EXCLUDE (_key_parts), {line_key_duckdb("_key_parts", occurrence)} AS line_key
        FROM (SELECT *, {LINE_KEY_PARTS_DUCKDB} AS _key_parts FROM ({fact}))
        ORDER BY source_row"""


def line_parts_repeat(con: duckdb.DuckDBPyConnection, fact: str, params: dict) -> bool:
    """Whether two of the fact rows may share their key's parts: their 64-bit hashes
    compared (a collision only sends the rows through the exact count)."""
    sql = f"SELECT count(*) > count(DISTINCT hash({LINE_KEY_PARTS_DUCKDB})) FROM ({fact})"
    return bool(con.execute(sql, params).fetchall()[0][0])


ARROW_TYPES = {
    DataType.STRING: pa.string(),
    DataType.INTEGER: pa.int64(),
    DataType.DECIMAL: MONEY,
    DataType.DATETIME: pa.timestamp("us"),
}


SQL_TYPES = {
    DataType.STRING: "VARCHAR",
    DataType.INTEGER: "BIGINT",
    DataType.DECIMAL: "DECIMAL(18, 4)",
    DataType.DATETIME: "TIMESTAMP",
}


def extra_fields(spec: SchemaSpec) -> dict[str, str]:
    """The admin's fields beyond the canonical ones: extra nullable columns of the fact table."""
    return {f.name: f.data_type for f in spec.fields if f.name not in CANONICAL_INPUTS | set(FACT_SCHEMA.names)}


def fact_schema(extras: dict[str, str]) -> pa.Schema:
    """The fact table's schema with the admin's added fields appended (all nullable)."""
    schema = FACT_SCHEMA
    for name, data_type in extras.items():
        schema = schema.append(pa.field(name, ARROW_TYPES[data_type], nullable=True))
    return schema


def _sql_type(arrow: pa.DataType) -> str:
    if pa.types.is_timestamp(arrow):
        return "TIMESTAMPTZ" if arrow.tz else "TIMESTAMP"
    if pa.types.is_decimal(arrow):
        return f"DECIMAL({arrow.precision}, {arrow.scale})"
    return {pa.string(): "VARCHAR", pa.int64(): "BIGINT", pa.date32(): "DATE", pa.bool_(): "BOOLEAN"}[arrow]


def fact_write(
    con: duckdb.DuckDBPyConnection,
    sql: str,
    params: dict,
    *,
    schema: pa.Schema,
    path: Path,
    few_values: dict[str, list[str]] | None = None,
    parquet_version: str = "v1",
) -> int:
    """Writes the fact rows to `path`, one snappy parquet file whose columns have `schema`'s
    types, in one statement (DuckDB writes in parallel, rows kept in order); returns the
    number of rows. Each column is cast to its type, so the file's schema is the table's.

    `few_values`: text columns known to hold only these values (the upload, the shop, the
    country codes, the currencies), passed as a DuckDB ENUM. The file holds the same strings
    of the same types (dictionary encoded, as any text column; only DuckDB's mark that a
    column has no NULL may go, and the table's columns all allow NULL), but the writer takes
    each value's dictionary entry from the ENUM instead of hashing every row's text: -0.05 s
    per million rows for the four.

    `parquet_version` "v2": V2 data pages and the newer encodings, for readers that take them.
    """
    if parquet_version not in ("v1", "v2"):
        raise ValueError(f"parquet_version must be v1 or v2, not {parquet_version!r}")
    few_values = {name: values for name, values in (few_values or {}).items() if values}

    def sql_type(f: pa.Field) -> str:
        if f.name in few_values:
            return enum_type(few_values[f.name])
        return _sql_type(f.type)

    columns = ", ".join(f"CAST({ident(f.name)} AS {sql_type(f)}) AS {ident(f.name)}" for f in schema)
    # No bloom filters: upload_id's min = max statistics already find a batch's files, and a
    # compaction rewrites files without them; writing them cost 0.03 s per million rows.
    options = f"FORMAT parquet, COMPRESSION snappy, WRITE_BLOOM_FILTER false, PARQUET_VERSION {parquet_version}"
    copy = f"COPY (SELECT {columns} FROM ({sql})) TO {literal(str(path))} ({options})"
    return int(con.execute(copy, params).fetchall()[0][0])
