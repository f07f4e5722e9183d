"""Rejected rows: what an upload with a tenth of its rows refused costs, its rejected-rows
files (the problems list, the rows as CSV and as a highlighted XLSX) included.

    .venv/bin/python bench/rejects_bench.py [--rows 400000] [--repeat 3] [--cache /tmp/salesapp-bench]

The files are written from what the run holds (the raw file is read once). Printed in the
same run, for comparison: DuckDB's read_csv of the file into a table (the fastest read of
it on this machine), and a second extract of the file as the rejected-rows files used to
do after the run (what they no longer cost). 400,000 rows give 40,000 refused rows, under
the 50,000 past which only the problems list is written. Results: docs/performance.md.
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.etl_bench import best_of, setup_django  # noqa: E402


def upload_once(path: Path, files_seconds: list[float]) -> tuple[float, float]:
    """Wall and CPU seconds of a whole upload run (stages, load, rejected-rows files, email)."""
    from django.contrib.auth import get_user_model
    from django.core.files import File

    from apps.accounts.access import scope_for
    from apps.accounts.models import Shop
    from apps.uploads.run import upload_run
    from apps.uploads.services import upload_create
    from apps.warehouse.services import warehouse

    user = get_user_model().objects.get(username="mgr_uk_lon")
    with open(path, "rb") as fh:
        upload = upload_create(
            scope=scope_for(user), user=user, shop=Shop.objects.get(code="UK-LON"), file=File(fh), name=path.name,
            enqueue=False,
        )  # fmt: skip
    start, cpu = time.perf_counter(), time.process_time()
    done = upload_run(upload_id=upload.id)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    print(
        f"    {done.get_status_display()}: read {done.rows_read:,}, rejected {done.rows_rejected:,}; "
        f"stages {done.report['timings']}; rows files {files_seconds[-1]:.2f} s",
        flush=True,
    )
    warehouse().delete_batch(upload_id=str(upload.id))
    upload.delete()
    return wall, cpu


def timed_rows_files(files_seconds: list[float]) -> None:
    """Time the rejected-rows files inside the run (the run calls rejected.rows_files_store)."""
    from apps.uploads import rejected, run

    real = rejected.rows_files_store

    def timed(*args, **kwargs):
        start = time.perf_counter()
        try:
            return real(*args, **kwargs)
        finally:
            files_seconds.append(time.perf_counter() - start)

    run.rejected.rows_files_store = timed


def second_extract(path: Path, work: Path) -> tuple[float, float]:
    """The file extracted again as text, as the rejected-rows files did after the run."""
    from apps.etl.pipeline.engine import work_connection
    from apps.etl.pipeline.extract import extract
    from apps.etl.schemas import schema_spec_active

    spec = schema_spec_active()
    start, cpu = time.perf_counter(), time.process_time()
    con = work_connection(temp_dir=work)
    extract(con, path, file_name=path.name, work_dir=work, header_score=spec.header_score)
    con.close()
    return time.perf_counter() - start, time.process_time() - cpu


def read_csv_ceiling(path: Path) -> tuple[float, float]:
    import duckdb

    start, cpu = time.perf_counter(), time.process_time()
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT * FROM read_csv($p)", {"p": str(path)})
    con.close()
    return time.perf_counter() - start, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=400_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "salesapp-bench")
    args = parser.parse_args()
    from bench.generate import sales_csv_with_rejects

    args.cache.mkdir(parents=True, exist_ok=True)
    path = sales_csv_with_rejects(args.cache, args.rows)
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        setup_django(Path(tmp))
        files_seconds: list[float] = []
        timed_rows_files(files_seconds)
        upload_once(path, files_seconds)  # the first run of a process is slower (imports): not compared
        whole = best_of(args.repeat, lambda: upload_once(path, files_seconds))
        ceiling = best_of(args.repeat, lambda: read_csv_ceiling(path))
        again = best_of(args.repeat, lambda: second_extract(path, Path(tmp)))
    print(f"{args.rows:,}-row CSV ({path.stat().st_size / 1e6:.0f} MB), a tenth refused, best of {args.repeat}:")
    print(f"  whole upload (stages, load, rejected-rows files, email): {whole} = {whole.wall / ceiling.wall:.1f}x")
    print(f"    of which the rows files (CSV + XLSX): best {min(files_seconds):.2f} s")
    print(f"  DuckDB read_csv -> in-memory table: {ceiling}")
    print(f"  the second extract the rows files no longer make: {again}")


if __name__ == "__main__":
    main()
