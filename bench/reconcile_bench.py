"""The reconciliation's cost: the whole table's grouped count against every upload, and the
check after one load, on the embedded warehouse with many uploads.

    .venv/bin/python bench/reconcile_bench.py [--uploads 2000] [--rows 1000] [--repeat 3]

Writes `uploads` batches of `rows` fact rows (one commit each, as loads do) and as many
loaded Upload records, then times `uploads_reconcile()` (all uploads: one grouped count of
the table, one query of the uploads) and `upload_reconcile()` (one upload and the one it
replaces: their files only), before and after a compaction (one file mixing all uploads).
Results: docs/reliability.md.
"""

import argparse
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.etl_bench import setup_django  # noqa: E402


def best(call, repeat: int) -> tuple[float, object]:
    runs, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = call()
        runs.append(time.perf_counter() - start)
    return min(runs), result


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--uploads", type=int, default=2000)
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    # No compaction on load: the first timing is of a table with one file per upload.
    os.environ["WAREHOUSE_COMPACT_FILES"] = "0"
    with tempfile.TemporaryDirectory(prefix="reconcile-bench-") as tmp:
        setup_django(Path(tmp))
        from apps.accounts.models import Shop
        from apps.uploads.models import Upload
        from apps.uploads.reconcile import upload_reconcile, uploads_reconcile
        from apps.warehouse.services import warehouse
        from tests.warehouse.factories import fact_rows

        shop = Shop.objects.get(code="US-NYC")
        ids = [str(uuid.uuid4()) for _ in range(args.uploads)]
        start = time.perf_counter()
        for upload_id in ids:
            warehouse().replace_batch(upload_id=upload_id, table=fact_rows(upload_id, args.rows))
        loading = time.perf_counter() - start
        Upload.objects.bulk_create(
            Upload(id=i, shop=shop, sha256=i.replace("-", "") * 2, status="loaded", rows_loaded=args.rows) for i in ids
        )
        total = args.uploads * args.rows
        print(f"{args.uploads} uploads of {args.rows} rows ({total:,} rows) loaded in {loading:.0f} s")
        one = Upload.objects.get(pk=ids[len(ids) // 2])
        for state in ("one file per upload", "compacted"):
            if state == "compacted":
                warehouse().compact(retention_hours=0)
            seconds, found = best(uploads_reconcile, args.repeat)
            assert not found.mismatches and found.checked == args.uploads, found
            print(f"{state}: all uploads {seconds:.3f} s; ", end="")
            seconds, found = best(lambda: upload_reconcile(one), args.repeat)
            assert not found.mismatches and found.checked == 1, found
            print(f"after one load {seconds * 1000:.0f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
