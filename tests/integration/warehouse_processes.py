"""Loader and reader processes for the warehouse concurrency test.

Started with multiprocessing's 'spawn' method, so each is a fresh interpreter with its own
delta-rs runtime and DuckDB, like separate Celery workers and a web process. No Django:
they use EmbeddedWarehouse on a folder directly. Each puts one result dict on `results`.
"""

import logging
import time
import traceback
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pyarrow as pa

from apps.warehouse.embedded import EmbeddedWarehouse
from apps.warehouse.fact import FACT_SCHEMA

BATCH_QUERY = 'SELECT upload_id, count(*) AS n FROM "orders-cleaned" GROUP BY 1'


def fact_rows(upload_id: str, rows: int, *, product_id: str = "P-1") -> pa.Table:
    """`rows` fact rows of one upload, every column filled the way the ETL fills it."""
    numbers = range(1, rows + 1)
    price = Decimal("2.5000")
    return pa.table(
        {
            "upload_id": [upload_id] * rows,
            "source_row": list(numbers),
            "order_id": [f"O-{i}" for i in numbers],
            "order_date": [date(2024, 1, 1) + timedelta(days=i % 365) for i in numbers],
            "order_ts": pa.nulls(rows, pa.timestamp("us")),
            "country_code": ["US"] * rows,
            "store_id": ["US-NYC"] * rows,
            "product_id": [product_id] * rows,
            "product_name": ["Mug"] * rows,
            "category": pa.nulls(rows, pa.string()),
            "quantity": [i % 5 + 1 for i in numbers],
            "unit_price": [price] * rows,
            "currency": ["USD"] * rows,
            "revenue": [price * (i % 5 + 1) for i in numbers],
            "revenue_reporting": [price * (i % 5 + 1) for i in numbers],
            "customer_id": pa.nulls(rows, pa.string()),
            "is_return": [False] * rows,
            "loaded_at": [datetime.now(UTC)] * rows,
            "line_key": pa.nulls(rows, pa.string()),  # as rows loaded before keys existed
        },
        schema=FACT_SCHEMA,
    )


class _Counter(logging.Handler):
    """Counts the warehouse's commit-conflict retries (to show the writers did collide)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += "commit conflict" in record.getMessage()


def writer(root: str, batches: int, rows: int, go, results) -> None:
    conflicts = _Counter()
    log = logging.getLogger("apps.warehouse.embedded")
    log.addHandler(conflicts)
    log.setLevel(logging.INFO)
    summary = {"role": "writer", "ids": [], "conflict_retries": 0, "error": None}
    try:
        warehouse = EmbeddedWarehouse(Path(root))
        if not go.wait(timeout=60):
            raise TimeoutError("the reader never started")
        for _ in range(batches):
            upload_id = str(uuid.uuid4())
            warehouse.replace_batch(upload_id=upload_id, table=fact_rows(upload_id, rows))
            summary["ids"].append(upload_id)
    except BaseException:
        summary["error"] = traceback.format_exc()
    finally:
        summary["conflict_retries"] = conflicts.count
        results.put(summary)


def reader(root: str, rows: int, go, stop, results) -> None:
    """Query the per-upload counts in a loop until `stop`; report every count that is not
    a whole batch, and how many batches each snapshot had."""
    summary = {"role": "reader", "queries": 0, "partial_batches": [], "batches_seen": set(), "error": None}
    try:
        warehouse = EmbeddedWarehouse(Path(root))
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            done = stop.is_set()  # read before the query, so the last query sees every commit
            table = warehouse.query(BATCH_QUERY).to_pydict()
            counts = dict(zip(table["upload_id"], table["n"], strict=True))
            summary["queries"] += 1
            summary["batches_seen"].add(len(counts))
            summary["partial_batches"] += [(u, n) for u, n in counts.items() if n != rows][:10]
            go.set()
            if done:
                break
        else:
            raise TimeoutError("the writers never finished")
    except BaseException:
        summary["error"] = traceback.format_exc()
    finally:
        go.set()  # never leave the writers waiting
        summary["batches_seen"] = sorted(summary["batches_seen"])
        results.put(summary)
