"""Load: N worker processes load many small uploads at once into BigQuery through the real
BigQueryWarehouse.replace_batch (stage, record, group-apply under the writer lock), against
the BigQuery double (tests/emulators/bigquery_double.py: aborts overlapping transactions,
queues mutating DML 2 running + 20 pending per table, injects BigQuery's error payloads)
in front of local-bigquery, both started here on 127.0.0.1.

The uploads: 20-200 rows each, over 50 shops and 28 days; about 5% are loaded again later
(a rerun: its batch replaces its earlier one) and 3% are corrections retiring an earlier
upload, each passing the spans of what it removes as the app does. Then every upload's rows
are counted in the table and compared with what was staged last for it:

    failed         replace_batch raised
    lost           fewer rows than staged (or none)
    double-counted more rows than staged (or rows of a retired upload left)

Prints uploads per minute and statements per upload (the mutating statements on the fact
table the double saw, divided by uploads); exits 1 if any upload failed, was lost or counted
twice.

    .venv/bin/python bench/bigquery_load_test.py [--workers 8] [--uploads 1000] [--json]
        [--faults rateLimitExceeded=0.02,backendError=0.02]
"""

import argparse
import datetime as dt
import json
import random
import sys
import tempfile
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from multiprocessing import get_context
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from apps.warehouse.base import DateSpan  # noqa: E402
from apps.warehouse.fact import MASTER_VIEW, ViewSpec  # noqa: E402
from tests.emulators.bigquery_double import BigQueryDouble  # noqa: E402
from tests.emulators.servers import bigquery_emulator_serving  # noqa: E402
from tests.warehouse.bigquery_writers import Job, Target, replace_all, warehouse_of  # noqa: E402

SHOPS, DAYS = 50, 28


def _day(job: Job) -> DateSpan:
    return DateSpan(dt.date(2024, 1, job.day), dt.date(2024, 1, job.day))


def plan(uploads: int, workers: int, seed: int = 19) -> list[list[Job]]:
    """Each worker's jobs, in order. A rerun or a correction follows its original in the same
    worker's list (as a run again follows the first run of an upload), so the last load of
    each upload is known."""
    rng = random.Random(seed)
    plans: list[list[Job]] = [[] for _ in range(workers)]
    for n in range(uploads):
        mine = plans[n % workers]
        earlier = [j for j in mine if not j.retire]
        roll = rng.random()
        if earlier and roll < 0.05:  # a rerun: the same upload staged again, maybe other rows
            first = rng.choice(earlier)
            mine.append(replace(first, rows=rng.randint(20, 200), removes=(_day(first),)))
        elif earlier and roll < 0.08:  # a correction: a new upload retiring an earlier one
            old = rng.choice(earlier)
            new = Job(str(uuid.uuid4()), rng.randint(20, 200), day=old.day, store=old.store)
            mine.append(replace(new, retire=(old.upload_id,), removes=(_day(old),)))
        else:
            store = f"S{rng.randrange(SHOPS):02d}"
            mine.append(Job(str(uuid.uuid4()), rng.randint(20, 200), day=rng.randint(1, DAYS), store=store))
    return plans


def expected_rows(plans: list[list[Job]], done: list[tuple[str, int, str, float]]) -> dict[str, int]:
    """Rows each upload should hold: its last load's, none if a later upload retired it."""
    expected: dict[str, int] = {}
    jobs = [j for p in plans for j in p]
    for job, (upload_id, rows, error, _) in zip(jobs, done, strict=True):
        assert job.upload_id == upload_id
        if not error:
            expected[upload_id] = rows
            for retired in job.retire:
                expected[retired] = 0
    return expected


def run(endpoint: str, project: str, *, workers: int, uploads: int, double: BigQueryDouble) -> dict:
    with tempfile.TemporaryDirectory(prefix="bq-commits-") as commits:
        target = Target(endpoint, project, f"load_{uuid.uuid4().hex[:10]}", commits)
        warehouse_of(target).ensure_schema(views=[ViewSpec(MASTER_VIEW)])
        plans = plan(uploads, workers)
        before = double.snapshot()["stats"].get("fact_statements", 0)
        with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
            list(pool.map(warehouse_of, [target] * workers))  # the processes started (not timed)
            started = time.monotonic()
            results = list(pool.map(replace_all, [target] * workers, plans))
            seconds = time.monotonic() - started
        done = [r for p in results for r in p]
        expected = expected_rows(plans, [r for p in results for r in p])
        held = warehouse_of(target).batch_rows()
    stats = double.snapshot()["stats"]
    statements = stats.get("fact_statements", 0) - before
    failed = [(u, e) for u, _, e, _ in done if e]
    lost = [u for u, n in expected.items() if held.get(u, 0) < n]
    doubled = [u for u, n in held.items() if n > expected.get(u, 0)]
    waits = sorted(s for *_, s in done)
    return {
        "workers": workers,
        "uploads": len(done),
        "seconds": round(seconds, 1),
        "uploads_per_minute": round(len(done) / seconds * 60, 1),
        "statements": statements,
        "statements_per_upload": round(statements / len(done), 3),
        "p50_seconds": round(waits[len(waits) // 2], 2),
        "p95_seconds": round(waits[int(len(waits) * 0.95)], 2),
        "failed": len(failed),
        "lost": len(lost),
        "double_counted": len(doubled),
        "aborted": stats.get("aborted", 0),
        "faults_injected": {k[6:]: v for k, v in stats.items() if k.startswith("fault:")},
        "first_failures": failed[:3],
    }


def _faults(text: str) -> dict[str, float]:
    return {k: float(v) for k, v in (item.split("=") for item in text.split(",") if item)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--uploads", type=int, default=1000)
    parser.add_argument("--faults", default="", help="reason=rate,... injected on mutating statements")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="bq-load-") as root,
        bigquery_emulator_serving(Path(root)) as emulator,
    ):
        double = BigQueryDouble(emulator.endpoint, seed=19)
        endpoint = double.start()
        double.inject(rates=_faults(args.faults))
        try:
            found = run(endpoint, emulator.project, workers=args.workers, uploads=args.uploads, double=double)
        finally:
            double.stop()
    if args.json:
        print(json.dumps(found, indent=2))
    else:
        for key, value in found.items():
            print(f"{key:>22}: {value}")
    return 1 if found["failed"] or found["lost"] or found["double_counted"] else 0


if __name__ == "__main__":
    sys.exit(main())
