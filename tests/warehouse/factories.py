"""Fact rows for warehouse tests, shaped exactly like the pipeline's output."""

import datetime as dt
import decimal

import pyarrow as pa

from apps.warehouse.fact import FACT_SCHEMA


def fact_rows(upload_id: str, n: int, *, country: str = "US", day: int = 1) -> pa.Table:
    rows = [
        {
            "upload_id": upload_id,
            "source_row": i + 1,
            "order_id": f"O{i}",
            "order_date": dt.date(2024, 1, day),
            "order_ts": dt.datetime(2024, 1, day, 10, i % 60),
            "country_code": country,
            "store_id": "S1",
            "product_id": f"P{i % 3}",
            "product_name": "thing",
            "category": None,
            "quantity": 2,
            "unit_price": decimal.Decimal("1.25"),
            "currency": "USD",
            "revenue": decimal.Decimal("2.5"),
            "revenue_reporting": decimal.Decimal("2.5"),
            "customer_id": None,
            "is_return": False,
            "loaded_at": dt.datetime(2024, 2, 1, tzinfo=dt.UTC),
        }
        for i in range(n)
    ]
    return pa.Table.from_pylist(rows, schema=FACT_SCHEMA)
