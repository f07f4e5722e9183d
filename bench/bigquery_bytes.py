"""The bytes BigQuery would bill (on-demand) for one upload, one delete, one page view per role,
one lines page and one export, at 100M fact rows, from the statements the app really sends.

The statements come from the capture of tests/googlesql (SQL_CAPTURE_OUT; this script runs
that capture when no file is given). Each is analysed by ZetaSQL (tests/googlesql/analysis.py):
the columns each scan of the fact table or a view references (the analyzer prunes the
others, as BigQuery reads only referenced columns) and whether order_date is bounded with
constants (then BigQuery prunes partitions). Then, with BigQuery's rules:

- column sizes (https://cloud.google.com/bigquery/pricing#data): INT64, FLOAT64, DATE,
  TIMESTAMP 8 bytes, NUMERIC 16, BOOL 1, STRING 2 + its UTF-8 bytes (averages measured on
  real files in tests/data), NULL 0;
- a scan reads its columns over the partitions it is bounded to: the days between its DATE
  parameters for a read (the page's filter), the upload's days for a write (--upload-days),
  every day of the table (--days) when unbounded or bounded by a subquery;
- DML on a partitioned table (dml-syntax#on-demand_query_size_calculation): INSERT q',
  DELETE/UPDATE/MERGE q' + t', t' = every column of the partitions it modifies (the upload's days);
- at least 10 MB per statement (each statement of a script is a child job billed on its own).

    .venv/bin/python bench/bigquery_bytes.py [--capture statements.json] [--rows 100000000] [--days 1096]
"""

import argparse
import csv
import io
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "salesapp.settings")
os.environ.setdefault("DATA_DIR", tempfile.mkdtemp(prefix="bigquery-bytes-"))

import django  # noqa: E402

django.setup()

from zetasql.types import ResolvedDeleteStmt, ResolvedInsertStmt, ResolvedMergeStmt, ResolvedTableScan  # noqa: E402

from apps.warehouse.bigquery_dialect import column_type  # noqa: E402
from apps.warehouse.fact import FACT_SCHEMA, FACT_TABLE  # noqa: E402
from tests.googlesql.analysis import analysed, nodes, unbounded_scans, view_names  # noqa: E402
from tests.googlesql.capture import Statement, statements_read  # noqa: E402

MB, GB = 10**6, 10**9
MINIMUM = 10 * 2**20  # 10 MB (BigQuery's MB here are MiB)
FIXED = {"INT64": 8, "FLOAT64": 8, "DATE": 8, "TIMESTAMP": 8, "DATETIME": 8, "NUMERIC": 16, "BOOL": 1}
# STRING columns whose length is fixed by the app: a UUID, ISO codes, an MD5 in hex, a shop code.
KNOWN_LENGTHS = {"upload_id": 36, "country_code": 2, "currency": 3, "line_key": 32, "store_id": 6}
# The fact columns as the files name them (Online Retail, sales_data_sample), for measured lengths.
FILE_COLUMNS = {
    "order_id": ("InvoiceNo", "ORDERNUMBER"),
    "product_id": ("StockCode", "PRODUCTCODE"),
    "product_name": ("Description", None),
    "category": (None, "PRODUCTLINE"),
    "customer_id": ("CustomerID", "CUSTOMERNAME"),
}
FILES = ("online_retail_sample_vikash_1500.csv", "sales_data_sample_head.csv")


def string_lengths() -> dict[str, float]:
    """Average bytes of each free-text column: 2 + its UTF-8 bytes per value (an empty cell is
    NULL, 0 bytes), averaged per file, then over the files that have the column (so the
    1,500-row file does not drown the other)."""
    per_file: dict[str, list[float]] = {name: [] for name in FILE_COLUMNS}
    for index, name in enumerate(FILES):
        text = (ROOT / "tests/data" / name).read_text(encoding="utf-8-sig").lstrip("\r\n")  # one starts blank
        rows = list(csv.DictReader(io.StringIO(text, newline="")))
        for column, headers in FILE_COLUMNS.items():
            if headers[index]:
                values = [row.get(headers[index]) or "" for row in rows]
                per_file[column].append(sum(2 + len(v.encode()) if v else 0 for v in values) / len(values))
    return {column: sum(found) / len(found) for column, found in per_file.items()}


def column_bytes() -> dict[str, float]:
    measured = string_lengths()
    sizes = {}
    for field in FACT_SCHEMA:
        kind = column_type(field.type)
        if kind == "STRING":
            sizes[field.name] = 2 + KNOWN_LENGTHS[field.name] if field.name in KNOWN_LENGTHS else measured[field.name]
        else:
            sizes[field.name] = FIXED[kind]
    return sizes


@dataclass
class Line:
    what: str
    statement: str
    arithmetic: str
    billed: float


def date_span(statement: Statement) -> int | None:
    dates = [date.fromisoformat(str(p.value)) for p in statement.params if p.type == "DATE" and p.value]
    return (max(dates) - min(dates)).days + 1 if dates else None


def statement_lines(what: str, statement: Statement, views, sizes, args) -> list[Line]:
    """One line per statement (of a script: per child statement) with its arithmetic."""
    rows_a_day = args.rows / args.days
    lines = []
    for text, tree in analysed(statement, views):
        unbounded = unbounded_scans(tree, views)
        target = getattr(tree, "table_scan", None) if isinstance(tree, ResolvedInsertStmt) else None
        parts, total = [], 0.0
        for scan in nodes(tree):
            if not isinstance(scan, ResolvedTableScan) or scan is target:
                continue
            name = scan.table.name.rsplit(".", 1)[-1]
            if name != FACT_TABLE and name not in views:
                continue  # a staging table: an upload's rows, kilobytes
            columns = sorted({c.name for c in scan.column_list} & sizes.keys())
            width = sum(sizes[c] for c in columns)
            is_write = what.startswith(("upload", "delete"))
            days = (
                args.days
                if unbounded
                else (args.upload_days if is_write else min(args.days, date_span(statement) or args.days))
            )
            scanned = width * rows_a_day * days
            total += scanned
            parts.append(f"{len(columns)} cols x {width:.0f} B x {rows_a_day:,.0f} rows/day x {days} days")
        if isinstance(tree, ResolvedDeleteStmt | ResolvedMergeStmt):
            modified = sum(sizes.values()) * rows_a_day * args.upload_days
            total += modified
            parts.append(f"t' {sum(sizes.values()):.0f} B x {rows_a_day:,.0f} x {args.upload_days} days")
        kind = type(tree).__name__.removeprefix("Resolved").removesuffix("Stmt")
        if kind in ("Begin", "Commit", "CreateView"):
            continue
        billed = max(MINIMUM, total)
        arithmetic = " + ".join(parts) or "no fact scan"
        lines.append(
            Line(what, f"{kind}: {' '.join(text.split())[:70]}", f"{arithmetic} = {total / MB:,.1f} MB", billed)
        )
    return lines


def representative(statements: list[Statement]) -> list[tuple[str, Statement]]:
    """One upload's statements (its overlap check, its MERGE, its reconcile), one delete, the
    master page of each role, a lines page, an export of the lines and one of the figures."""
    chosen = []
    first_swap = next(i for i, s in enumerate(statements) if s.sql.lstrip().upper().startswith("MERGE"))
    start = next(i for i, s in enumerate(statements) if s.path == "write: upload load")
    for s in statements[start : first_swap + 2]:
        if s.path == "write: upload load":
            chosen.append(("upload", s))
    chosen += [("delete", next(s for s in statements if s.path == "write: delete"))]
    for label, path in [
        ("page admin", "page admin /reports/"),
        ("page regional head", "page head_uk /reports/"),
        ("page shop manager", "page mgr_us_nyc /reports/"),
        ("lines page", "page admin /reports/lines/"),
        ("export lines", "page admin /reports/export/lines.csv"),
        ("export kpis", "page admin /reports/export/kpis.csv"),
    ]:
        first = next(s.path for s in statements if s.path.split("?")[0] == path)  # the first view of that page
        chosen += [(label, s) for s in statements if s.path == first]
    return chosen


def capture_file(given: str | None) -> Path:
    if given:
        return Path(given)
    out = Path(tempfile.mkdtemp(prefix="sql-capture-")) / "statements.json"
    test = "tests/googlesql/test_statements.py::test_the_capture_covers_every_path"
    env = {**os.environ, "SQL_CAPTURE_OUT": str(out)}
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", test, "-p", "no:cacheprovider"], cwd=ROOT, env=env, check=True
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--capture", help="statements captured by tests/googlesql (SQL_CAPTURE_OUT)")
    parser.add_argument("--rows", type=int, default=100_000_000)
    parser.add_argument("--days", type=int, default=1096, help="days (partitions) of the table: 3 years")
    parser.add_argument("--upload-days", type=int, default=1, help="days an upload's rows span (a daily file)")
    args = parser.parse_args()
    statements = statements_read(capture_file(args.capture))
    views, sizes = view_names(statements), column_bytes()
    print(
        f"Fact row: {sum(sizes.values()):.1f} B -> {sum(sizes.values()) * args.rows / GB:.1f} GB at {args.rows:,} rows"
    )
    print("  " + ", ".join(f"{name} {size:.1f}" for name, size in sizes.items()))
    totals: dict[str, float] = {}
    print(f"\n{'what':<20}{'billed MB':>11}  statement / arithmetic")
    for what, statement in representative(statements):
        for line in statement_lines(what, statement, views, sizes, args):
            totals[what] = totals.get(what, 0) + line.billed
            print(f"{line.what:<20}{line.billed / MB:>11,.1f}  {line.statement}\n{'':<33}{line.arithmetic}")
    print("\nper action (sum of statements, each at least 10 MB):")
    for what, total in totals.items():
        print(f"  {what:<20}{total / GB:>9.2f} GB")
    print(
        "\nnote: an export of lines reads them span by span (apps/reports/lines.py, SPAN_LINES lines a\n"
        "span): the test files make one short span; at scale the spans together cover the filter's\n"
        "days, so its line reads cost the lines page's bytes per day times the filter's days."
    )


if __name__ == "__main__":
    main()
