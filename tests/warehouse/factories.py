"""Fact rows for warehouse tests, shaped exactly like the pipeline's output."""

import datetime as dt
import decimal
import uuid

import pyarrow as pa

from apps.warehouse.fact import FACT_SCHEMA, FACT_TABLE

# A bound on order_date that holds every row: BigQuery's fact table refuses a query without
# one (require_partition_filter), and so does the emulator.
EVERY_DAY = "order_date BETWEEN DATE '1900-01-01' AND DATE '2999-12-31'"


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


# 2024-01-07 is a Sunday: its ISO week starts on Monday 2024-01-01, the next day's on the 8th.
TRUNC_DAYS = (7, 8)
TRUNC_EXPECTED = [
    (dt.date(2024, 1, 7), dt.date(2024, 1, 1), dt.date(2024, 1, 1)),
    (dt.date(2024, 1, 8), dt.date(2024, 1, 8), dt.date(2024, 1, 1)),
]


def date_trunc_periods(wh) -> list[tuple]:
    """Day, week and month of a Sunday and a Monday, through the backend's date hook."""
    for day in TRUNC_DAYS:
        upload_id = str(uuid.uuid4())
        wh.replace_batch(upload_id=upload_id, table=fact_rows(upload_id, 1, day=day))
    periods = ", ".join(f"{wh.sql_date_trunc('order_date', g)} AS {g}" for g in ("day", "week", "month"))
    rows = wh.query(f'SELECT {periods} FROM "{FACT_TABLE}" WHERE {EVERY_DAY} ORDER BY order_date').to_pylist()
    return [(r["day"], r["week"], r["month"]) for r in rows]
