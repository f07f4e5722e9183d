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
    ]
)


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
