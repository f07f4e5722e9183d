"""ETL benchmark: the whole ETL against the fastest tools and a row-at-a-time importer.

    .venv/bin/python bench/etl_bench.py [--rows 1000000] [--big-rows 5000000]
        [--xlsx-rows 500000] [--row-at-a-time-rows 100000] [--cache /tmp/salesapp-bench]
        [--only csv,rowwise,xlsx,memory] [--repeat 3]

Generated files are cached under --cache (never committed). Each ETL figure is
`pipeline_run` on a file already in storage, until its rows are queryable in the
warehouse, on a fresh DATA_DIR. Peak memory is measured in a child process that runs only
the ETL (resource.getrusage: the process's maximum resident set). Results: docs/performance.md.
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def setup_django(data_dir: Path) -> None:
    os.environ["DATA_DIR"] = str(data_dir)
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    for name in ("DATABASE_URL", "REDIS_URL", "GCS_BUCKET", "WAREHOUSE"):
        os.environ.pop(name, None)
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    from apps.demo.seed import demo_seed
    from apps.warehouse.services import warehouse_sync

    demo_seed(password="bench-pass-1234")
    warehouse_sync()


@dataclass
class Timing:
    """Best of `repeat` runs: wall seconds, and CPU seconds of this process (all its threads:
    DuckDB's and delta-rs's too). On a machine shared with other work, CPU seconds move less
    than wall seconds; on an idle one, wall below CPU is the parallelism gained."""

    wall: float
    cpu: float
    runs: list[float]

    def __str__(self) -> str:
        spread = f", runs {' / '.join(f'{r:.2f}' for r in self.runs)}" if len(self.runs) > 1 else ""
        return f"{self.wall:.2f} s (CPU {self.cpu:.2f} s{spread})"


def best_of(repeat: int, measure) -> Timing:
    walls, cpus = [], []
    for _ in range(repeat):
        wall, cpu = measure()
        walls.append(wall)
        cpus.append(cpu)
    return Timing(min(walls), min(cpus), walls)


def etl_once(path: Path, *, shop_code: str = "UK-LON") -> tuple[float, float, int]:
    """Seconds (wall, CPU) from a stored file to its rows queryable in the warehouse; rows
    loaded. The upload and its rows are removed afterwards, so the next run starts alike."""
    from django.contrib.auth import get_user_model
    from django.core.files import File

    from apps.accounts.access import scope_for
    from apps.accounts.models import Shop
    from apps.uploads.run import pipeline_run
    from apps.uploads.services import upload_create
    from apps.warehouse.services import warehouse

    user = get_user_model().objects.get(username="mgr_uk_lon")
    with open(path, "rb") as fh:
        upload = upload_create(
            scope=scope_for(user),
            user=user,
            shop=Shop.objects.get(code=shop_code),
            file=File(fh),
            name=path.name,
            enqueue=False,
        )
    start, cpu = time.perf_counter(), time.process_time()
    done = pipeline_run(upload_id=upload.id)
    sql = 'SELECT count(*) AS n FROM "orders-cleaned" WHERE upload_id = $id'
    count = warehouse().query(sql, {"id": str(upload.id)})
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    assert done.rows_loaded == count.column(0)[0].as_py(), done.message
    print(f"    stages: {done.report.get('timings')}  status={done.status} loaded={done.rows_loaded}", flush=True)
    warehouse().delete_batch(upload_id=str(upload.id))
    upload.delete()
    return seconds, cpu, done.rows_loaded


def etl_seconds(path: Path, *, repeat: int = 1) -> tuple[Timing, int]:
    rows = []

    def measure():
        wall, cpu, loaded = etl_once(path)
        rows.append(loaded)
        return wall, cpu

    return best_of(repeat, measure), rows[-1]


def interleaved(repeat: int, *measures) -> list[Timing]:
    """Each measure run once per round, round after round, so that a machine busy for a
    while slows them all alike; the best of each."""
    runs = [[] for _ in measures]
    for _ in range(repeat):
        for measure, got in zip(measures, runs, strict=True):
            got.append(measure())
    return [Timing(min(w for w, _ in got), min(c for _, c in got), [w for w, _ in got]) for got in runs]


def ceiling_measures(path: Path, work: Path):
    """The two ceiling measures (in memory, in a database file), each returning (wall, CPU)."""
    import duckdb

    def in_memory():
        start, cpu = time.perf_counter(), time.process_time()
        con = duckdb.connect()
        con.execute("CREATE TABLE t AS SELECT * FROM read_csv($p)", {"p": str(path)})
        con.close()
        return time.perf_counter() - start, time.process_time() - cpu

    def on_disk():
        database = work / "ceiling.duckdb"
        database.unlink(missing_ok=True)
        start, cpu = time.perf_counter(), time.process_time()
        con = duckdb.connect(str(database))
        con.execute("CREATE TABLE t AS SELECT * FROM read_csv($p)", {"p": str(path)})
        con.close()
        return time.perf_counter() - start, time.process_time() - cpu

    return in_memory, on_disk


def row_at_a_time_seconds(path: Path) -> float:
    """django-import-export's Resource.import_data into a Django model, as its docs show it."""
    import tablib
    from django.db import connection
    from import_export import fields, resources, widgets

    from bench.models import OrderLine

    with connection.schema_editor() as editor:
        editor.create_model(OrderLine)

    class OrderLineResource(resources.ModelResource):
        invoice_no = fields.Field(attribute="invoice_no", column_name="InvoiceNo")
        stock_code = fields.Field(attribute="stock_code", column_name="StockCode")
        description = fields.Field(attribute="description", column_name="Description")
        quantity = fields.Field(attribute="quantity", column_name="Quantity", widget=widgets.IntegerWidget())
        invoice_date = fields.Field(
            attribute="invoice_date", column_name="InvoiceDate", widget=widgets.DateTimeWidget(format="%m/%d/%Y %H:%M")
        )
        unit_price = fields.Field(attribute="unit_price", column_name="UnitPrice", widget=widgets.DecimalWidget())
        customer_id = fields.Field(attribute="customer_id", column_name="CustomerID")
        country = fields.Field(attribute="country", column_name="Country")

        class Meta:
            model = OrderLine
            fields = ("invoice_no", "stock_code", "description", "quantity", "invoice_date", "unit_price")
            fields += ("customer_id", "country")
            import_id_fields = ()  # every row is new: no per-row lookup, the importer's fastest path

    start = time.perf_counter()
    dataset = tablib.Dataset().load(path.read_text(), format="csv")
    result = OrderLineResource().import_data(dataset, dry_run=False, raise_errors=True)
    seconds = time.perf_counter() - start
    assert not result.has_errors() and OrderLine.objects.count() == len(dataset)
    return seconds


def fastexcel_seconds(path: Path, *, repeat: int = 1) -> Timing:
    import fastexcel

    def read():
        start, cpu = time.perf_counter(), time.process_time()
        fastexcel.read_excel(path).load_sheet(0).to_arrow()
        return time.perf_counter() - start, time.process_time() - cpu

    return best_of(repeat, read)


def child_memory(path: Path) -> dict:
    """Run the ETL alone in a child process; its time and peak resident memory."""
    out = subprocess.run(
        [sys.executable, __file__, "--child-etl", str(path)], capture_output=True, text=True, check=True
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def _child(path: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-child-") as tmp:
        setup_django(Path(tmp))
        timing, rows = etl_seconds(path)
        seconds = timing.wall
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"seconds": seconds, "rows": rows, "peak_mb": peak_kb / 1024}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--big-rows", type=int, default=5_000_000)
    parser.add_argument("--xlsx-rows", type=int, default=500_000)
    parser.add_argument("--row-at-a-time-rows", type=int, default=100_000)
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "salesapp-bench")
    parser.add_argument("--only", default="csv,rowwise,xlsx,memory")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each timing; the best is kept")
    parser.add_argument("--child-etl", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_etl:
        return _child(args.child_etl)
    from bench.generate import sales_csv, sales_xlsx

    args.cache.mkdir(parents=True, exist_ok=True)
    only = set(args.only.split(","))
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        setup_django(Path(tmp))
        if "csv" in only:
            untidy = sales_csv(args.cache, args.rows, stray_spaces=True)
            _csv(sales_csv(args.cache, args.rows), untidy, Path(tmp), repeat=args.repeat)
        if "rowwise" in only:
            _rowwise(sales_csv(args.cache, args.row_at_a_time_rows), repeat=args.repeat)
        if "xlsx" in only:
            _xlsx(sales_xlsx(args.cache, args.xlsx_rows), repeat=args.repeat)
    if "memory" in only:
        big = sales_csv(args.cache, args.big_rows)
        result = child_memory(big)
        print(
            f"{args.big_rows:,}-row CSV ({big.stat().st_size / 1e6:.0f} MB) ETL in a child process: "
            f"{result['seconds']:.2f} s, peak RSS {result['peak_mb']:.0f} MB (target <= 1536 MB)"
        )


def _line_count(path: Path) -> int:
    with open(path, "rb") as fh:
        return sum(1 for _ in fh) - 1


def _csv(path: Path, untidy: Path, work: Path, *, repeat: int) -> None:
    """The generated file, and the same with Online Retail's stray spaces (its untidy
    descriptions make the ETL trim and collapse white space in a fifth of the rows)."""
    rows = _line_count(path)
    etl_once(path)  # the first run of a process is 0.1-0.2 s slower (imports, first allocations): not compared
    timings = interleaved(
        repeat,
        *ceiling_measures(path, work),
        lambda: etl_once(path)[:2],
        *ceiling_measures(untidy, work),
        lambda: etl_once(untidy)[:2],
    )
    print(f"{rows:,}-row CSV ({path.stat().st_size / 1e6:.0f} MB), best of {repeat}, run round by round")
    for (in_memory, on_disk, etl), what in zip(
        (timings[:3], timings[3:]),
        ["tidy text", "a fifth of the descriptions padded, as in Online Retail"],
        strict=True,
    ):
        print(f"  {what}:")
        print(f"    DuckDB read_csv -> in-memory table: {in_memory}; -> database file: {on_disk}")
        print(
            f"    whole ETL (stored file -> queryable): {etl} = {etl.wall / in_memory.wall:.2f}x the in-memory "
            f"ceiling, {etl.wall / on_disk.wall:.2f}x the on-disk one (target <= 2.5x); "
            f"CPU {etl.cpu / in_memory.cpu:.2f}x / {etl.cpu / on_disk.cpu:.2f}x; {rows / etl.wall / 1e6:.2f} M rows/s"
        )
        # Each round's ETL against the same round's ceiling: a slow spell of the shared machine
        # slows both, where the best of each may come from different spells.
        rounds = sorted(e / c for e, c in zip(etl.runs, on_disk.runs, strict=True))
        print(
            f"    round by round against the on-disk ceiling: {' / '.join(f'{r:.2f}' for r in rounds)}x, "
            f"median {statistics.median(rounds):.2f}x"
        )


def _rowwise(path: Path, *, repeat: int) -> None:
    rows = _line_count(path)
    etl, _ = etl_seconds(path, repeat=repeat)
    row_seconds = row_at_a_time_seconds(path)
    print(
        f"{rows:,}-row CSV: django-import-export import_data {row_seconds:.1f} s ({rows / row_seconds:,.0f} rows/s);"
        f" ETL {etl} (best of {repeat}); ETL is {row_seconds / etl.wall:.0f}x faster (target >= 50x)"
    )


def _xlsx(path: Path, *, repeat: int) -> None:
    bare = fastexcel_seconds(path, repeat=repeat)
    etl, rows = etl_seconds(path, repeat=repeat)
    print(
        f"{rows:,}-row XLSX ({path.stat().st_size / 1e6:.0f} MB), best of {repeat}: fastexcel bare read {bare}; "
        f"whole ETL {etl} = {etl.wall / bare.wall:.2f}x (target <= 1.5x); CPU {etl.cpu / bare.cpu:.2f}x"
    )


if __name__ == "__main__":
    main()
