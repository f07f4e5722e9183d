"""The rejected rows handed back to the user: the ORIGINAL rows of the file, with a column
saying what is wrong with each, as CSV and as an Excel workbook with the bad cells
highlighted. Built by the worker once an upload ends with rejected rows (reading the raw
file again is ETL work, never done in a web request); the web serves the stored files.
"""

import csv
import io
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font, PatternFill

from apps.uploads.models import Upload
from salesapp.folders import temp_dir

ROW = "row"
ERRORS = "errors"
# Past this the workbook gets slow to write and open; the CSV still holds every row.
XLSX_MAX_ROWS = 100_000
# The rows files are built in memory (200,000 rejected rows peaked at 720 MB and took 54 s);
# past this only the problems list the ETL wrote (row, column, value, reason) is offered.
ROWS_FILES_MAX = 50_000
BAD_FILL = PatternFill("solid", fgColor="FFC7CE")
BAD_FONT = Font(color="9C0006")
HEAD_FONT = Font(bold=True)


def _folder(upload: Upload) -> str:
    return upload.raw_path.split("/", 1)[1].rsplit("/", 1)[0]


def problems_path(upload: Upload) -> str:
    """Where the ETL keeps the rejected rows' problems (source_row, column, value, reason)."""
    return f"rejected/{_folder(upload)}/{upload.id}.csv"


def rows_csv_path(upload: Upload) -> str:
    return f"rejected/{_folder(upload)}/{upload.id}.rows.csv"


def rows_xlsx_path(upload: Upload) -> str:
    return f"rejected/{_folder(upload)}/{upload.id}.rows.xlsx"


def problems_of(upload: Upload) -> list[dict]:
    """Every problem the ETL recorded: the stored file, plus the unreadable records that only
    the report lists (their text is the value); one entry per (row, column, reason)."""
    found: dict[tuple, dict] = {}
    if default_storage.exists(problems_path(upload)):
        with default_storage.open(problems_path(upload), "rb") as fh:
            for e in csv.DictReader(io.TextIOWrapper(fh, encoding="utf-8", newline="")):
                found[(int(e["source_row"]), e["column"], e["reason"])] = {**e, "source_row": int(e["source_row"])}
    for e in upload.report.get("first_errors", []):
        if e.get("source_row") is not None:
            found.setdefault((e["source_row"], e["column"], e["reason"]), e)
    return sorted(found.values(), key=lambda e: (e["source_row"], e["column"]))


def rejected_rows(table: pa.Table, problems: list[dict], mapping: dict[str, str]) -> tuple[pa.Table, dict]:
    """The file's rows that have a problem (columns as in the file, `row` first, `errors`
    last), and for each row number the headers of its bad cells."""
    messages: dict[int, list[str]] = {}
    bad_cells: dict[int, set[str]] = {}
    for e in problems:
        header = mapping.get(e["column"], e["column"])
        text = f"{header}: {e['reason']}" if header else e["reason"]
        messages.setdefault(e["source_row"], []).append(text)
        if header:
            bad_cells.setdefault(e["source_row"], set()).add(header)
    rows = sorted(messages)
    picked = table.filter(pc.is_in(table["source_row"], value_set=pa.array(rows, pa.int64())))
    found = set(picked["source_row"].to_pylist())
    # Records the reader could not split into cells (wrong number of fields) keep only their errors.
    unreadable = pa.table({"source_row": pa.array([r for r in rows if r not in found], pa.int64())})
    picked = pa.concat_tables([picked, unreadable], promote_options="default").sort_by("source_row")
    errors = pa.array(["; ".join(messages[r]) for r in picked["source_row"].to_pylist()], pa.string())
    columns = [c for c in picked.column_names if c != "source_row"]
    out = pa.table({ROW: picked["source_row"], **{c: picked[c] for c in columns}, ERRORS: errors})
    return out, bad_cells


def rejected_exports_write(*, upload: Upload, path: Path) -> int:
    """Write the rejected rows of `upload` (whose raw file is at `path`) as CSV and XLSX in
    storage; how many rows. Nothing is written when nothing was rejected, or too much."""
    if upload.rows_rejected > ROWS_FILES_MAX:
        return 0
    problems = problems_of(upload)
    if not problems:
        return 0
    table = _original_rows(upload, path, sorted({e["source_row"] for e in problems}))
    rows, bad_cells = rejected_rows(table, problems, upload.report.get("mapping", {}))
    sink = io.BytesIO()
    pacsv.write_csv(rows, sink)
    _save(rows_csv_path(upload), sink.getvalue())
    _save(rows_xlsx_path(upload), _workbook(upload, rows, bad_cells))
    return rows.num_rows


def _original_rows(upload: Upload, path: Path, wanted: list[int]) -> pa.Table:
    """The file's rows with these numbers, read again as the ETL read them (text cells)."""
    from apps.etl.pipeline.engine import ident, work_connection
    from apps.etl.pipeline.extract import RAW, SOURCE_ROW, extract
    from apps.etl.schemas import schema_spec_of_version

    with tempfile.TemporaryDirectory(dir=temp_dir()) as tmp:
        con = work_connection(temp_dir=Path(tmp), memory_limit=settings.ETL_MEMORY_LIMIT)
        try:
            extracted = extract(
                con,
                path,
                file_name=upload.original_name,
                work_dir=Path(tmp),
                # The header words of the version the upload ran with: the file is read as it was.
                header_score=schema_spec_of_version(upload.schema_version).header_score,
                sheet=upload.report.get("file", {}).get("sheet"),
            )
            con.register("wanted", pa.table({"r": pa.array(wanted, pa.int64())}))
            columns = ", ".join(ident(c) for c in extracted.columns)
            return con.sql(
                f"SELECT {columns}, {SOURCE_ROW} FROM {RAW} WHERE {SOURCE_ROW} IN (SELECT r FROM wanted) "
                f"ORDER BY {SOURCE_ROW}"
            ).to_arrow_table()
        finally:
            con.close()


def _workbook(upload: Upload, rows: pa.Table, bad_cells: dict[int, set[str]]) -> bytes:
    """openpyxl in write-only mode: rows are streamed out, only styles are kept per cell."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet("Rejected rows")
    sheet.freeze_panes = "B2"
    headers = rows.column_names
    sheet.append([_cell(sheet, h, font=HEAD_FONT) for h in headers])
    for record in rows.slice(0, XLSX_MAX_ROWS).to_pylist():
        bad = bad_cells.get(record[ROW], set())
        sheet.append([_cell(sheet, record[h], bad=h in bad) for h in headers])
    about = book.create_sheet("About")
    about.append(["Upload", str(upload.id)])
    about.append(["File", upload.original_name])
    about.append(["Rejected rows", rows.num_rows])
    if rows.num_rows > XLSX_MAX_ROWS:
        about.append(["Note", f"Only the first {XLSX_MAX_ROWS} rows are in this workbook; the CSV has them all."])
    about.append(
        [
            "How to fix",
            "Correct the highlighted cells, then upload this workbook as a new upload (not as a replacement): its "
            "rows join the rows already loaded. A replacement takes the place of ALL this upload's rows: use it for "
            "your whole corrected file.",
        ]
    )
    sink = io.BytesIO()
    book.save(sink)
    return sink.getvalue()


def _cell(sheet, value, *, bad: bool = False, font: Font | None = None) -> WriteOnlyCell:
    cell = WriteOnlyCell(sheet, value=value)
    if cell.data_type == "f":
        # openpyxl makes any text starting with "=" a formula; the file's cell was text.
        cell.data_type = "s"
    if bad:
        cell.fill, cell.font = BAD_FILL, BAD_FONT
    elif font is not None:
        cell.font = font
    return cell


def _save(path: str, data: bytes) -> None:
    if default_storage.exists(path):
        default_storage.delete(path)
    default_storage.save(path, ContentFile(data))
