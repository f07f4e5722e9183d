"""Benchmark: warehouse queries and time per report page view, on the embedded warehouse.

Loads N generated fact rows (default 300,000) as reports_bench.py does (one upload per shop
and month, written straight into the Delta table, with what a load records in the app
database where this version keeps it), then views each report page as each role: cold (the
result cache emptied first) and again (nothing loaded in between). Prints, per page and
role, the warehouse calls (query, query_page, query_batches) and the median milliseconds.
Runs on older versions of the app too (no result cache, no days kept), for a before/after.

    .venv/bin/python bench/page_views_bench.py [--rows 300000] [--repeat 5]
"""

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ["DATA_DIR"] = tempfile.mkdtemp(prefix="page-views-bench-")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "salesapp.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.cache import cache  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

from apps.warehouse.services import warehouse  # noqa: E402
from bench.reports_bench import load  # noqa: E402

PERIOD = "preset=custom&start=2011-10-01&end=2011-12-31"
PAGES = {
    "master, default": "/reports/",
    "master, all time": "/reports/?preset=all",
    "master, a shop, by week": f"/reports/?{PERIOD}&shop=UK-LON&grain=week",
    "country GB": "/reports/GB/",
    "lines p1": f"/reports/lines/?{PERIOD}",
    "lines p3": f"/reports/lines/?{PERIOD}&page=3",
    "coverage": f"/reports/coverage/?{PERIOD}",
}
ROLES = ("admin", "head_uk")
METHODS = ("query", "query_page", "query_batches")


def days_record() -> None:
    """What each load records in the app database, where this version keeps it."""
    try:
        from apps.uploads.days import upload_days_set
        from apps.warehouse.services import warehouse_version_bump
    except ImportError:
        return  # a version that reads its days from the warehouse
    sql = (
        'SELECT upload_id, order_date, country_code, store_id, count(*) AS n FROM "orders-cleaned" '
        "WHERE order_date BETWEEN DATE '1900-01-01' AND DATE '2100-01-01' GROUP BY ALL"
    )
    days: dict[str, list] = {}
    for r in warehouse().query(sql).to_pylist():
        days.setdefault(r["upload_id"], []).append((r["order_date"], r["country_code"], r["store_id"], r["n"]))
    for upload_id, found in days.items():
        upload_days_set(upload_id, found)
    warehouse_version_bump()


class Counting:
    def __init__(self) -> None:
        self.n, self.lock = 0, threading.Lock()
        wh = warehouse()
        for method in METHODS:
            if hasattr(wh, method):
                setattr(wh, method, self._counted(getattr(wh, method)))

    def _counted(self, run):
        def counted(*args, **kwargs):
            with self.lock:
                self.n += 1
            return run(*args, **kwargs)

        return counted

    def taken(self) -> int:
        with self.lock:
            n, self.n = self.n, 0
        return n


def view(client: Client, url: str, counting: Counting, *, cold: bool) -> tuple[float, int]:
    if cold:
        cache.clear()
    counting.taken()
    started = time.perf_counter()
    response = client.get(url)
    seconds = time.perf_counter() - started
    assert response.status_code == 200, (url, response.status_code)
    return seconds, counting.taken()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    seconds = load(args.rows)
    days_record()
    print(f"loaded {args.rows:,} rows in {seconds:.1f} s")
    setup_test_environment()
    counting = Counting()
    print("\n| page | role | queries cold | ms cold | queries again | ms again |\n|---|---|---:|---:|---:|---:|")
    totals = {"cold": [], "again": []}
    for name, url in PAGES.items():
        for role in ROLES:
            client = Client()
            client.force_login(get_user_model().objects.get(username=role))
            view(client, url, counting, cold=True)  # warm-up (DuckDB's file footers, templates)
            cold = [view(client, url, counting, cold=True) for _ in range(args.repeat)]
            again = [view(client, url, counting, cold=False) for _ in range(args.repeat)]
            row = (statistics.median(s for s, _ in cold), max(n for _, n in cold))
            row_again = (statistics.median(s for s, _ in again), max(n for _, n in again))
            totals["cold"].append(row[0])
            totals["again"].append(row_again[0])
            print(f"| {name} | {role} | {row[1]} | {row[0] * 1000:.0f} | {row_again[1]} | {row_again[0] * 1000:.0f} |")
    print(f"\nmean ms per view: cold {statistics.mean(totals['cold']) * 1000:.0f}, "
          f"again {statistics.mean(totals['again']) * 1000:.0f}")  # fmt: skip
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
