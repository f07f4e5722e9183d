"""Benchmark: the master report page against the slowest raw DuckDB query it runs.

Loads N generated fact rows (default 10M) into a fresh embedded warehouse (a Delta table
written directly from Arrow batches), then, in the same run, times
  * the master report page (Django test client GET /reports/ as admin, every query), and
  * each warehouse query that page ran, executed raw on the warehouse's DuckDB connection.
Target: page <= 3x the slowest single query.  Usage:

    .venv/bin/python bench/reports_bench.py [--rows 10000000] [--repeat 5]
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ["DATA_DIR"] = tempfile.mkdtemp(prefix="reports-bench-")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "salesapp.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django

django.setup()

from deltalake import write_deltalake  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

from apps.accounts.models import Shop  # noqa: E402
from apps.demo.seed import DEMO_RATES_TO_USD, demo_seed  # noqa: E402
from apps.uploads.models import Upload  # noqa: E402
from apps.warehouse.fact import FACT_SCHEMA  # noqa: E402
from apps.warehouse.services import warehouse, warehouse_sync  # noqa: E402

FIRST_DAY, DAYS = date(2010, 1, 1), 730
PRODUCTS, CATEGORIES = 4000, 20


def _shop_batch(rng, shop: Shop, rows: int, upload_ids: list[str]) -> pa.Table:
    """`rows` sales lines of one shop over two years, sorted by day, one upload per month."""
    days = np.sort(rng.integers(0, DAYS, rows))
    order_date = np.datetime64(FIRST_DAY) + days.astype("timedelta64[D]")
    month = (days // 30.5).astype(int).clip(0, len(upload_ids) - 1)
    product = rng.integers(0, PRODUCTS, rows)
    quantity = rng.integers(1, 12, rows)
    quantity[rng.random(rows) < 0.02] *= -1
    price_cents = (100 + product % 900).astype("int64")
    revenue_cents = quantity * price_cents
    rate = float(DEMO_RATES_TO_USD[shop.region.currency])
    order_no = np.arange(rows) // 3
    money = lambda cents: pa.array(cents / 100).cast(FACT_SCHEMA.field("revenue").type, safe=False)  # noqa: E731
    columns = {
        "upload_id": pa.array(np.array(upload_ids, dtype=object)[month]),
        "source_row": pa.array(np.arange(1, rows + 1)),
        "order_id": pa.array(np.char.add(f"{shop.code}-", order_no.astype(str))),
        "order_date": pa.array(order_date.astype("datetime64[D]")),
        "order_ts": pa.nulls(rows, pa.timestamp("us")),
        "country_code": pa.array([shop.region.country_code] * rows),
        "store_id": pa.array([shop.code] * rows),
        "product_id": pa.array(np.char.add("P", product.astype(str))),
        "product_name": pa.array(np.char.add("Product ", product.astype(str))),
        "category": pa.array(np.char.add("Category ", (product % CATEGORIES).astype(str))),
        "quantity": pa.array(quantity),
        "unit_price": money(price_cents),
        "currency": pa.array([shop.region.currency] * rows),
        "revenue": money(revenue_cents),
        "revenue_reporting": money(np.round(revenue_cents * rate).astype("int64")),
        "customer_id": pa.nulls(rows, pa.string()),
        "is_return": pa.array(quantity < 0),
        "loaded_at": pa.array([datetime.now(UTC)] * rows, pa.timestamp("us", tz="UTC")),
        "line_key": pa.nulls(rows, pa.string()),
    }
    return pa.table({name: columns[name].cast(FACT_SCHEMA.field(name).type) for name in FACT_SCHEMA.names})


def load(total_rows: int) -> float:
    call_command("migrate", verbosity=0)
    demo_seed(password="bench-pass-1")
    warehouse_sync()
    shops = list(Shop.objects.select_related("region"))
    rng = np.random.default_rng(6)
    started = time.perf_counter()
    for shop in shops:
        upload_ids = [str(uuid.uuid4()) for _ in range(24)]
        Upload.objects.bulk_create(
            Upload(id=u, shop=shop, original_name=f"{shop.code}-{i:02}.csv", raw_path="-", sha256="-",
                   status=Upload.Status.LOADED) for i, u in enumerate(upload_ids)
        )  # fmt: skip
        table = _shop_batch(rng, shop, total_rows // len(shops), upload_ids)
        write_deltalake(warehouse().table_uri, table, mode="append")
    return time.perf_counter() - started


def _seconds(run) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def measure(repeat: int) -> dict:
    """Page and raw queries interleaved, round after round, so that a busy machine slows
    both alike; the median of each is reported."""
    setup_test_environment()
    client = Client()
    client.force_login(django.contrib.auth.get_user_model().objects.get(username="admin"))
    wh = warehouse()
    seen: list[tuple[str, dict]] = []
    original = wh.query
    wh.query = lambda sql, params=None: seen.append((sql, dict(params or {}))) or original(sql, params)
    assert client.get("/reports/").status_code == 200  # warm-up, and the list of queries
    wh.query = original

    def raw(sql: str, params: dict):
        def run():
            cursor = wh._reader().cursor()
            try:
                cursor.sql(sql, params=params).to_arrow_table()
            finally:
                cursor.close()

        return run

    page_times: list[float] = []
    query_times: list[list[float]] = [[] for _ in seen]
    for _ in range(repeat):
        page_times.append(_seconds(lambda: client.get("/reports/")))
        for i, (sql, params) in enumerate(seen):
            query_times[i].append(_seconds(raw(sql, params)))
    queries = [(sql, statistics.median(t), min(t)) for (sql, _), t in zip(seen, query_times, strict=True)]
    return {"page": statistics.median(page_times), "page_min": min(page_times), "queries": queries}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    seconds = load(args.rows)
    rows = warehouse().query('SELECT count(*) FROM "orders-cleaned"').column(0)[0].as_py()
    print(f"loaded {rows:,} rows in {seconds:.1f} s")
    result = measure(args.repeat)
    queries = result["queries"]
    print("\n| query (first words) | median ms | best ms |\n|---|---:|---:|")
    for sql, median, best in queries:
        print(f"| {' '.join(sql.split())[:70]}... | {median * 1000:.0f} | {best * 1000:.0f} |")
    slowest, slowest_best = max(q[1] for q in queries), max(q[2] for q in queries)
    print(
        f"\nmaster page GET /reports/: {result['page'] * 1000:.0f} ms median, {result['page_min'] * 1000:.0f} ms best"
    )
    print(f"sum of its {len(queries)} queries: {sum(q[1] for q in queries) * 1000:.0f} ms median")
    print(f"slowest single query: {slowest * 1000:.0f} ms median, {slowest_best * 1000:.0f} ms best")
    print(f"ratio page / slowest query: {result['page'] / slowest:.2f}x median, "
          f"{result['page_min'] / slowest_best:.2f}x best (target <= 3x)")  # fmt: skip
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
