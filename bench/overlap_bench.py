"""The overlap check's cost: an upload of --rows lines checked against a shop that holds
--table-uploads other uploads of as many lines each (all over the same ~9 months, so the
check reads every one of the shop's rows: its worst case), on the embedded warehouse.

    .venv/bin/python bench/overlap_bench.py [--rows 1000000] [--table-uploads 3]
        [--cache /tmp/salesapp-bench]

Prints, for an upload with no line loaded before and for a copy of it with a byte-order mark
(every line loaded before: held), the run's seconds per stage and the check's seconds
(report["overlap"]["seconds"]); and the cost of writing the line keys into the fact file
(fact_file with and without them, on the same run). Results: docs/performance.md.
"""

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.csv as pacsv

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.etl_bench import setup_django  # noqa: E402
from bench.generate import sales_table  # noqa: E402


def sales_file(folder: Path, rows: int, seed: int) -> Path:
    path = folder / f"overlap_{rows}_{seed}.csv"
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        pacsv.write_csv(sales_table(rows, seed=seed), tmp, write_options=pacsv.WriteOptions(quoting_style="none"))
        tmp.replace(path)
    return path


def run(path: Path, name: str):
    from django.contrib.auth import get_user_model
    from django.core.files import File

    from apps.accounts.access import scope_for
    from apps.accounts.models import Shop
    from apps.uploads.run import pipeline_run
    from apps.uploads.services import upload_create

    user = get_user_model().objects.get(username="mgr_uk_lon")
    with open(path, "rb") as fh:
        upload = upload_create(scope=scope_for(user), user=user, shop=Shop.objects.get(code="UK-LON"), file=File(fh),
                               name=name, enqueue=False)  # fmt: skip
    start = time.perf_counter()
    done = pipeline_run(upload_id=upload.id)
    return done, time.perf_counter() - start


def key_cost(path: Path, work: Path) -> tuple[float, float]:
    """(fact_file's best seconds with keys, without); leaves the keyed file at work/f0.parquet."""
    """fact_file's seconds on one run's clean rows, with the line keys and without."""
    from apps.etl.pipeline import transform
    from apps.etl.pipeline.engine import work_connection
    from apps.etl.pipeline.run import FileToRun, fact_file, stages_run
    from apps.etl.schemas import schema_spec_active
    from apps.uploads.models import Upload
    from apps.uploads.run import upload_context

    upload = Upload.objects.select_related("shop__region").first()
    spec, ctx = schema_spec_active(), upload_context(upload)
    con = work_connection(temp_dir=work)
    done = stages_run(con, FileToRun(path, path.name), spec, ctx, work_dir=work)
    timed = {}
    keyed = transform.with_line_key
    unkeyed = lambda f, repeated: f"SELECT *, NULL::VARCHAR AS line_key FROM ({f})"  # noqa: E731
    for label, wrap in (("without", unkeyed), ("with keys", keyed)):
        transform.with_line_key = wrap
        best = []
        for i in range(3):
            start = time.perf_counter()
            fact_file(done, spec, ctx, path=work / f"f{i}.parquet", parquet_version="v2", loaded_at=datetime.now(UTC))
            best.append(time.perf_counter() - start)
        timed[label] = min(best)
    transform.with_line_key = keyed
    return timed["with keys"], timed["without"]


def check_seconds(fact: Path, repeat: int = 5) -> tuple[float, float, int]:
    """Warehouse.line_matches on a fact file against the shop's rows: best and median seconds."""
    import statistics

    from apps.warehouse.base import ParquetBatch
    from apps.warehouse.services import warehouse

    runs, lines = [], 0
    for _ in range(repeat):
        start = time.perf_counter()
        lines = warehouse().line_matches(store_id="UK-LON", batch=ParquetBatch(fact)).lines
        runs.append(time.perf_counter() - start)
    return min(runs), statistics.median(runs), lines


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--table-uploads", type=int, default=3)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/salesapp-bench"))
    args = parser.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    setup_django(Path(tempfile.mkdtemp(prefix="overlap-bench-")))
    for seed in range(args.table_uploads):
        done, seconds = run(sales_file(args.cache, args.rows, 100 + seed), f"earlier_{seed}.csv")
        print(f"earlier upload {seed}: {done.status} {done.rows_loaded:,} lines in {seconds:.1f} s", flush=True)
    upload = sales_file(args.cache, args.rows, 7)
    done, seconds = run(upload, "new.csv")
    found = done.report["overlap"]
    print(f"new lines: {done.status} {done.rows_loaded:,} in {seconds:.2f} s; stages {done.report['timings']}; "
          f"overlap check {found['seconds']:.3f} s ({found['lines']:,} lines found)")  # fmt: skip
    bom = args.cache / f"overlap_{args.rows}_7_bom.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + upload.read_bytes())
    held, seconds = run(bom, "new_with_bom.csv")
    found = held.report["overlap"]
    print(f"same lines, BOM: {held.status} in {seconds:.2f} s; stages {held.report['timings']}; "
          f"overlap check {found['seconds']:.3f} s ({found['lines']:,} lines found)")  # fmt: skip
    work = Path(tempfile.mkdtemp(prefix="overlap-keys-"))
    with_keys, without = key_cost(upload, work)
    print(f"fact file of {args.rows:,} lines: {with_keys:.2f} s with line keys, {without:.2f} s without")
    table = (args.table_uploads + 1) * args.rows
    best, median, lines = check_seconds(work / "f0.parquet")
    print(f"check alone, every line loaded before ({table:,} lines of the shop): best {best:.2f} s, median "
          f"{median:.2f} s ({lines:,} found)")  # fmt: skip
    fresh = Path(tempfile.mkdtemp(prefix="overlap-fresh-"))
    key_cost(sales_file(args.cache, args.rows, 99), fresh)
    best, median, lines = check_seconds(fresh / "f0.parquet")
    print(f"check alone, new lines: best {best:.2f} s, median {median:.2f} s ({lines:,} found)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
