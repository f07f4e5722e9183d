"""The canonical fact table `orders-cleaned`, its views, shared by every backend."""

import re
from dataclasses import dataclass

import pyarrow as pa

FACT_TABLE = "orders-cleaned"
MASTER_VIEW = "Master_Sales_View"
MONEY = pa.decimal128(18, 4)

FACT_SCHEMA = pa.schema(
    [
        ("upload_id", pa.string()),
        ("source_row", pa.int64()),
        ("order_id", pa.string()),
        ("order_date", pa.date32()),
        ("order_ts", pa.timestamp("us")),
        ("country_code", pa.string()),
        ("store_id", pa.string()),
        ("product_id", pa.string()),
        ("product_name", pa.string()),
        ("category", pa.string()),
        ("quantity", pa.int64()),
        ("unit_price", MONEY),
        ("currency", pa.string()),
        ("revenue", MONEY),
        ("revenue_reporting", MONEY),
        ("customer_id", pa.string()),
        ("is_return", pa.bool_()),
        ("loaded_at", pa.timestamp("us", tz="UTC")),
        # The line's business key within its shop (see LINE_KEY_TEXT); NULL in rows loaded
        # before it existed, whose key the overlap check computes from their columns.
        ("line_key", pa.string()),
    ]
)

# A loaded line is identified by (store_id, line_key): line_key is the MD5 (32 lowercase hex
# digits) of the text below, made of the fact row's parsed values, so that the same sale read
# from a CSV or a workbook, with or without a BOM, with 2- or 4-digit years, gives the same key:
#   order_id | product_id | order time YYYYMMDDHHMMSS | quantity | unit price in 1/10,000 |
#   occurrence (1, 2, ... among the upload's lines with the same first five parts, in file order)
# The shop is not in the text: the same key under two shops is found (and shown) as such.
# Written in the SQL both engines share; each backend names its own md5-to-hex and date
# formatting (LINE_KEY_PARTS_DUCKDB here; bigquery.py has the GoogleSQL spelling).
LINE_KEY_PARTS_DUCKDB = (
    "coalesce(order_id, '') || '|' || coalesce(product_id, '') || '|' || "
    "strftime(coalesce(order_ts, CAST(order_date AS TIMESTAMP)), '%Y%m%d%H%M%S') || '|' || "
    "CAST(quantity AS VARCHAR) || '|' || CAST(CAST(unit_price * 10000 AS BIGINT) AS VARCHAR)"
)


def line_key_duckdb(parts: str, occurrence: str) -> str:
    """DuckDB SQL for the line key from its first five parts and its occurrence number."""
    return f"md5({parts} || '|' || CAST({occurrence} AS VARCHAR))"


@dataclass(frozen=True)
class ViewSpec:
    """A country view: the fact rows of one country. The master view has no filter."""

    name: str
    country_code: str | None = None

    def __post_init__(self) -> None:
        # Both end up in view DDL, so they must be plain identifiers and codes.
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,63}", self.name):
            raise ValueError(f"Bad view name: {self.name!r}")
        if self.country_code is not None and not re.fullmatch(r"[A-Z]{2}", self.country_code):
            raise ValueError(f"Bad country code: {self.country_code!r}")
