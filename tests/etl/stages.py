"""Helpers to run the pure stages on small files, as a real run does, without the ORM."""

import csv
from pathlib import Path
from types import MappingProxyType

import xlsxwriter

from apps.demo.seed import SCHEMA_FIELDS
from apps.etl.countries import alias_rows
from apps.etl.pipeline.engine import work_connection
from apps.etl.pipeline.run import FileToRun, stages_run
from apps.etl.pipeline.spec import FieldSpec, SchemaSpec, UploadContext


def demo_spec(**changes) -> SchemaSpec:
    """The demo schema contract; `changes` replace fields by name (a FieldSpec) or add them."""
    fields = {n: FieldSpec(n, t, r, tuple(a.splitlines())) for n, t, r, a in SCHEMA_FIELDS}
    fields.update(changes)
    return SchemaSpec(1, tuple(fields.values()), MappingProxyType(dict(alias_rows())), 50.0)


def run(
    path: Path,
    tmp_path: Path,
    *,
    spec: SchemaSpec | None = None,
    region_order: str = "DMY",
    sheet=None,
    on_disk=False,
    typed_read=False,
    work_name="work",
):
    """The stages up to the clean rows over one file, as a real run runs them (the one
    `stages_run`), for a UK shop; the connection and every result.

    `typed_read`: a CSV's numbers and dates may be typed by the reader, as a real run has them."""
    spec = spec or demo_spec()
    work = tmp_path / work_name
    work.mkdir(exist_ok=True)
    con = work_connection(temp_dir=work, on_disk=on_disk)  # on disk: as for files past ETL_IN_MEMORY_MAX_BYTES
    ctx = UploadContext(
        upload_id="00000000-0000-0000-0000-000000000001",
        store_id="UK-LON",
        country_code="GB",
        currency="GBP",
        date_order=region_order,
        reporting_currency="USD",
    )
    done = stages_run(con, FileToRun(path, path.name, sheet), spec, ctx, work_dir=work, typed_read=typed_read)
    return {
        "con": con,
        "extracted": done.extracted,
        "mapped": done.mapped,
        "dropped": done.rows_dropped,
        "checked": done.checked,
        "cleaned": done.cleaned,
        "run": done,
    }


def rows(con, sql: str) -> list[tuple]:
    return con.execute(sql).fetchall()


def workbook_of(csv_path: Path, out: Path, *, bottom: list[tuple[int, str, float | str]]) -> tuple[Path, float]:
    """The CSV's rows as a workbook (numbers as numbers), then a row at the bottom with each
    (column, formula, cached value) of `bottom`, as Excel saves it: the formula and its
    result. Returns the path and the quantities' sum."""
    with csv_path.open(newline="", encoding="utf-8-sig") as fh:
        lines = list(csv.reader(fh))
    book = xlsxwriter.Workbook(out)
    sheet = book.add_worksheet("Orders")
    for r, line in enumerate(lines):
        for c, cell in enumerate(line):
            if r and c in (3, 5):  # Quantity, UnitPrice
                sheet.write_number(r, c, float(cell))
            else:
                sheet.write_string(r, c, cell)
    total = sum(float(line[3]) for line in lines[1:])
    for column, formula, value in bottom:
        sheet.write_formula(len(lines), column, formula, None, total if value == "sum" else value)
    book.close()
    return out, total
