"""Plausibility benchmark: the time the check before the load adds to an upload.

    .venv/bin/python bench/plausibility_bench.py [--rows 10000,100000,1000000] [--repeat 3]
        [--cache /tmp/salesapp-bench]

For each size: a shop gets three loaded uploads of that many rows (its history), then a
fourth file of the same shape runs through `pipeline_run` `--repeat` times; printed per run:
the check's time (`timings["plausibility"]`: the figures read from the run's clean rows in
DuckDB, the shop's recent uploads read from the database, the judgement) beside the whole
run's. Generated files are cached under --cache (never committed). Results: docs/performance.md.
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.csv as pacsv

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.etl_bench import setup_django
from bench.generate import sales_table


def _file(cache: Path, rows: int, seed: int) -> Path:
    path = cache / f"plausibility_{rows}_{seed}.csv"
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        pacsv.write_csv(sales_table(rows, seed=seed), tmp, write_options=pacsv.WriteOptions(quoting_style="none"))
        tmp.replace(path)
    return path


def _run(path: Path, shop_code: str, *, days_ago: int):
    from datetime import timedelta

    from django.contrib.auth import get_user_model
    from django.core.files import File
    from django.utils import timezone

    from apps.accounts.access import scope_for
    from apps.accounts.models import Shop
    from apps.uploads.models import Upload
    from apps.uploads.run import pipeline_run
    from apps.uploads.services import upload_create

    user = get_user_model().objects.get(username="admin")
    with open(path, "rb") as fh:
        upload = upload_create(
            scope=scope_for(user), user=user, shop=Shop.objects.get(code=shop_code), file=File(fh),
            name=path.name, enqueue=False,
        )  # fmt: skip
    Upload.objects.filter(pk=upload.pk).update(created_at=timezone.now() - timedelta(days=days_ago))
    start = time.perf_counter()
    done = pipeline_run(upload_id=upload.id)
    return done, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", default="10000,100000,1000000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "salesapp-bench")
    args = parser.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    setup_django(Path(tempfile.mkdtemp(prefix="plausibility-bench-")))
    from apps.warehouse.services import warehouse

    shops = ["US-NYC", "UK-LON", "FR-PAR", "AU-SYD", "US-SFO", "UK-MAN"]
    for size, shop in zip([int(n) for n in args.rows.split(",")], shops, strict=False):
        for k in range(3):  # the shop's history: three loaded uploads, a month apart
            earlier, _ = _run(_file(args.cache, size, 100 + k), shop, days_ago=90 - 30 * k)
            assert earlier.rows_loaded, earlier.message
        checks, totals = [], []
        for _ in range(args.repeat):
            done, seconds = _run(_file(args.cache, size, 200), shop, days_ago=0)
            checks.append(done.report["timings"]["plausibility"] * 1000)
            totals.append(seconds)
            print(f"  {size:>9,} rows: check {checks[-1]:6.1f} ms of the run's {seconds:6.2f} s  ({done.status})")
            warehouse().delete_batch(upload_id=str(done.id))
            done.delete()
        check, total = statistics.median(checks), statistics.median(totals)
        print(
            f"{size:>9,} rows: plausibility check per upload, median of {args.repeat}: {check:.1f} ms "
            f"({check / 10 / total:.1f}% of the run, {total:.2f} s)",
            flush=True,
        )


if __name__ == "__main__":
    main()
