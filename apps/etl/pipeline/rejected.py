"""The refused rows handed back to the user, built from what the run already holds (the
file is not read again): the problems list (row, column, value, reason), and the file's
rows that have a problem, with a column saying what is wrong with each, as CSV and as an
Excel workbook with the bad cells highlighted.

A row's cells are those of the `raw` table: as the file has them. The numbers and dates a
CSV's reader typed (typed_read.py) are written back in the form a sample of the file showed
(its decimal mark; its decimals when every sampled value had as many, else as few as the
value needs: `1.50`, or `1.5` in a column mixing `2.55` and `1.5`; a date in the file's
format, with or without leading zeros as the file writes them). Thousands separators are
not written back. Records that could not be split into cells keep only their errors.
"""

from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font, PatternFill

from apps.etl.pipeline.engine import ident, literal, scalar
from apps.etl.pipeline.extracted import BAD_RECORDS, RAW, SOURCE_ROW, Extracted
from apps.etl.pipeline.typed_read import TIMESTAMP, TypedField
from apps.etl.pipeline.validate import ERRORS

ROW = "row"
ERRORS_COLUMN = "errors"
# Past this the workbook gets slow to write and open; the CSV still holds every row.
XLSX_MAX_ROWS = 100_000
BAD_FILL = PatternFill("solid", fgColor="FFC7CE")
BAD_FONT = Font(color="9C0006")
HEAD_FONT = Font(bold=True)
PROBLEMS = f"""SELECT {SOURCE_ROW}, "column", value, reason FROM {ERRORS}
               UNION ALL SELECT {SOURCE_ROW}, '' AS "column", text AS value, reason FROM {BAD_RECORDS}"""


def problems_write(con: duckdb.DuckDBPyConnection, target: Path) -> int:
    """Every refused row's problems to a CSV (source_row, column, value, reason); how many."""
    count = scalar(con, f"SELECT count(*) FROM ({PROBLEMS})")
    if count:
        con.execute(f"COPY ({PROBLEMS} ORDER BY {SOURCE_ROW}) TO {literal(str(target))} (HEADER, DELIMITER ',')")
    return count


def rejected_rows(
    con: duckdb.DuckDBPyConnection, extracted: Extracted, mapping: dict[str, str]
) -> tuple[pa.Table, dict[int, set[str]]]:
    """The file's rows that have a problem (`row` first, the file's columns, `errors` last,
    in row order), and for each row number the headers of its bad cells. `mapping`: field ->
    the file's column, as the run matched them."""
    headers = pa.table({"field": list(mapping), "header": list(mapping.values())}, schema=_MAPPING_SCHEMA)
    con.register("_rejected_headers", headers)
    try:
        per_row = con.sql(
            f"""SELECT {SOURCE_ROW},
                       string_agg(CASE WHEN header <> '' THEN header || ': ' || reason ELSE reason END, '; '
                                  ORDER BY "column", reason) AS errors,
                       list(header ORDER BY header) FILTER (WHERE header <> '') AS bad
                FROM (SELECT DISTINCT p.{SOURCE_ROW}, p."column", p.reason,
                             coalesce(h.header, p."column") AS header
                      FROM ({PROBLEMS}) p LEFT JOIN _rejected_headers h ON h.field = p."column")
                GROUP BY {SOURCE_ROW}"""
        ).to_arrow_table()
    finally:
        con.unregister("_rejected_headers")
    cells = ", ".join(_cell_text(c, extracted) for c in extracted.columns)
    con.register("_rejected_rows", per_row.select([SOURCE_ROW, "errors"]))
    try:
        rows = con.sql(
            f"""SELECT e.{SOURCE_ROW} AS {ident(ROW)}, {cells}, e.errors AS {ident(ERRORS_COLUMN)}
                FROM _rejected_rows e LEFT JOIN {RAW} r ON r.{SOURCE_ROW} = e.{SOURCE_ROW}
                ORDER BY e.{SOURCE_ROW}"""
        ).to_arrow_table()
    finally:
        con.unregister("_rejected_rows")
    bad_cells = {
        row: set(bad or ())
        for row, bad in zip(per_row[SOURCE_ROW].to_pylist(), per_row["bad"].to_pylist(), strict=True)
    }
    return rows, bad_cells


_MAPPING_SCHEMA = pa.schema([("field", pa.string()), ("header", pa.string())])


def _cell_text(column: str, extracted: Extracted) -> str:
    """The cell of `raw` as text: a typed number or date as it was read (see the module's doc)."""
    cell = f"r.{ident(column)}"
    typed = {t.column: t for t in extracted.typed.fields.values()} if extracted.typed else {}
    if column in typed:
        cell = _typed_text(cell, typed[column])
    return f"{cell} AS {ident(column)}"


def _typed_text(cell: str, typed: TypedField) -> str:
    if typed.sql_type == TIMESTAMP:
        return f"strftime({cell}, {literal(typed.text_format or typed.date_format)})"
    if typed.decimals is not None:
        text = f"printf('%.{int(typed.decimals)}f', {cell})"
    else:
        text = f"rtrim(rtrim(CAST({cell} AS VARCHAR), '0'), '.')"
    return f"replace({text}, '.', {literal(typed.mark)})" if typed.mark and typed.mark != "." else text


def rows_csv_write(rows: pa.Table, target: Path) -> None:
    pacsv.write_csv(rows, target)


def rows_workbook_write(
    rows: pa.Table, bad_cells: dict[int, set[str]], target: Path, *, about: list[tuple[str, object]]
) -> None:
    """The rows in a workbook (the first XLSX_MAX_ROWS), bad cells highlighted (openpyxl in
    write-only mode: rows are streamed out, only styles are kept per cell), and an About sheet
    of `about`'s lines."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet("Rejected rows")
    sheet.freeze_panes = "B2"
    headers = rows.column_names
    sheet.append([_cell(sheet, h, font=HEAD_FONT) for h in headers])
    for record in rows.slice(0, XLSX_MAX_ROWS).to_pylist():
        bad = bad_cells.get(record[ROW], set())
        sheet.append([_cell(sheet, record[h], bad=h in bad) for h in headers])
    notes = book.create_sheet("About")
    for line in about:
        notes.append(list(line))
    book.save(target)


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
