"""Many small uploads against one big one: report query time before and after compaction.

    .venv/bin/python bench/compaction_bench.py [--uploads 2000] [--rows 50] [--repeat 7]

Loads the same synthetic fact rows into three embedded warehouses in a temp folder:
  one-file   all rows in one commit (one parquet file)
  small      one replace_batch per upload, as the workers do (one file per upload)
  compacted  `small`, then EmbeddedWarehouse.compact()
and times two report queries (the selectors' KPI and month x country queries) on each:
the first query of a fresh reader (as in a new process: it loads the Delta log and
defines its views over the file list) and the median of warm repeats (a running web
process, which only reads new commits). Prints the figures and the ratios; exits 1 if
the warm compacted ratio is above 2.
"""

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import pyarrow as pa
from deltalake import write_deltalake

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from apps.warehouse.embedded import EmbeddedWarehouse
from apps.warehouse.fact import FACT_SCHEMA, MASTER_VIEW, ViewSpec

QUERIES = {
    "kpi": f"""SELECT coalesce(sum(revenue_reporting), 0) AS revenue, count(DISTINCT order_id) AS orders,
        coalesce(sum(quantity), 0) AS units, count(*) AS lines, count(DISTINCT store_id) AS shops,
        min(order_date) AS first_day, max(order_date) AS last_day
        FROM "{MASTER_VIEW}" WHERE (country_code IN ($c0, $c1))""",
    "month_country": f"""SELECT substr(CAST(order_date AS STRING), 1, 7) AS month, country_code,
        sum(revenue_reporting) AS revenue FROM "{MASTER_VIEW}" WHERE (country_code IN ($c0, $c1))
        GROUP BY 1, 2 ORDER BY month, country_code""",
}
PARAMS = {"c0": "GB", "c1": "US"}


def money(amounts: np.ndarray) -> pa.Array:
    """Whole amounts as the fact table's decimal(18, 4)."""
    return pa.array(amounts, pa.int64()).cast(pa.decimal128(38, 0)).cast(pa.decimal128(18, 4))


def batches(uploads: int, rows: int) -> list[pa.Table]:
    rng = np.random.default_rng(7)
    out = []
    start = dt.date(2023, 1, 1)
    for i in range(uploads):
        uid = str(uuid.UUID(int=i + 1))
        qty = rng.integers(-2, 20, rows)
        price = rng.integers(1, 500, rows)
        revenue = qty * price
        out.append(
            pa.table(
                {
                    "upload_id": [uid] * rows,
                    "source_row": np.arange(1, rows + 1),
                    "order_id": [f"{i}-{j // 3}" for j in range(rows)],
                    "order_date": pa.array([start + dt.timedelta(days=int(d)) for d in rng.integers(0, 730, rows)]),
                    "order_ts": pa.nulls(rows, pa.timestamp("us")),
                    "country_code": rng.choice(["US", "GB", "FR", "AU"], rows),
                    "store_id": [f"S{i % 40}"] * rows,
                    "product_id": [f"P{p}" for p in rng.integers(0, 500, rows)],
                    "product_name": ["thing"] * rows,
                    "category": pa.nulls(rows, pa.string()),
                    "quantity": qty,
                    "unit_price": money(price),
                    "currency": ["USD"] * rows,
                    "revenue": money(revenue),
                    "revenue_reporting": money(revenue),
                    "customer_id": pa.nulls(rows, pa.string()),
                    "is_return": qty < 0,
                    "loaded_at": pa.array(
                        [dt.datetime(2024, 1, 1, tzinfo=dt.UTC)] * rows, pa.timestamp("us", tz="UTC")
                    ),
                    "line_key": pa.nulls(rows, pa.string()),
                }
            ).cast(FACT_SCHEMA)
        )
    return out


def timed(wh: EmbeddedWarehouse, repeat: int) -> dict[str, tuple[float, float]]:
    """Per query: (first query on a fresh reader, median of warm repeats), in ms."""
    out = {}
    for name, sql in QUERIES.items():
        wh._con = None  # a fresh reader, as after a new commit
        t0 = time.perf_counter()
        first_result = wh.query(sql, PARAMS)
        first = (time.perf_counter() - t0) * 1000
        warm = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            assert wh.query(sql, PARAMS).equals(first_result)
            warm.append((time.perf_counter() - t0) * 1000)
        out[name] = (first, statistics.median(warm))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--uploads", type=int, default=2000)
    parser.add_argument("--rows", type=int, default=50, help="rows per upload")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    views = [ViewSpec(MASTER_VIEW)]
    data = batches(args.uploads, args.rows)
    total = sum(t.num_rows for t in data)
    print(f"{args.uploads} uploads x {args.rows} rows = {total} rows")
    with tempfile.TemporaryDirectory() as tmp:
        one = EmbeddedWarehouse(Path(tmp) / "one")
        one.ensure_schema(views=views)
        write_deltalake(one.table_uri, pa.concat_tables(data), mode="append")

        small = EmbeddedWarehouse(Path(tmp) / "small")
        small.ensure_schema(views=views)
        t0 = time.perf_counter()
        for table in data:
            small.replace_batch(upload_id=table["upload_id"][0].as_py(), table=table)
        load_s = time.perf_counter() - t0
        print(f"loading {args.uploads} uploads one by one: {load_s:.1f} s ({load_s / args.uploads * 1000:.0f} ms each)")

        timed(one, 1)  # warm-up: the first query of a process pays for DuckDB's own start
        figures = {"one-file": timed(one, args.repeat), "small": timed(small, args.repeat)}
        t0 = time.perf_counter()
        result = small.compact()
        print(f"compaction: {time.perf_counter() - t0:.1f} s, {result}")
        figures["compacted"] = timed(small, args.repeat)

    print(f"\n{'layout':<10} {'query':<14} {'first ms':>9} {'warm ms':>9} {'first/1f':>9} {'warm/1f':>8}")
    for layout, per_query in figures.items():
        for name, (first, warm) in per_query.items():
            base_first, base_warm = figures["one-file"][name]
            print(f"{layout:<10} {name:<14} {first:9.1f} {warm:9.1f} {first / base_first:9.2f} {warm / base_warm:8.2f}")
    warm = max(figures["compacted"][q][1] / figures["one-file"][q][1] for q in QUERIES)
    first = max(figures["compacted"][q][0] / figures["one-file"][q][0] for q in QUERIES)
    print(f"\nworst compacted / one-file ratio: warm {warm:.2f} (target: within 2x), fresh reader {first:.2f}")
    sys.exit(0 if warm <= 2 else 1)


if __name__ == "__main__":
    main()
