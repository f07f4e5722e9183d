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

import re
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import xlsxwriter

from apps.etl.pipeline.engine import ident, literal, scalar
from apps.etl.pipeline.extracted import BAD_RECORDS, RAW, SOURCE_ROW, Extracted
from apps.etl.pipeline.typed_read import TIMESTAMP, TypedField
from apps.etl.pipeline.validate import ERRORS

ROW = "row"
ERRORS_COLUMN = "errors"
# Past this the workbook gets slow to write and open; the CSV still holds every row.
XLSX_MAX_ROWS = 100_000
BAD_CELL = {"bg_color": "#FFC7CE", "font_color": "#9C0006", "pattern": 1}  # Excel's "light red fill"
PROBLEMS = f"""SELECT {SOURCE_ROW}, "column", value, reason FROM {ERRORS}
               UNION ALL SELECT {SOURCE_ROW}, '' AS "column", text AS value, reason FROM {BAD_RECORDS}"""
# A text a spreadsheet would run as a formula (=HYPERLINK(...), =cmd|' /C calc'!A0) starts
# with one of these: the CSV files write a ' before it, the text kept after it, as the report
# exports do (apps/reports/exports.py). A plain number (-2, +1.5) is no formula: spreadsheets
# read it as the number, and it must read back as one when the corrected file is uploaded.
FORMULA_START = r"^[=+\-@\t\r]"
PLAIN_NUMBER = r"^[+-]?([0-9][0-9.,]*|[.,][0-9]+)([eE][+-]?[0-9]+)?$"


def problems_write(con: duckdb.DuckDBPyConnection, target: Path) -> int:
    """Every refused row's problems to a CSV (source_row, column, value, reason), formulas
    neutralised; how many."""
    count = scalar(con, f"SELECT count(*) FROM ({PROBLEMS})")
    if count:
        texts = ", ".join(f"{_sql_neutralised(ident(c))} AS {ident(c)}" for c in ("column", "value", "reason"))
        query = f"SELECT {SOURCE_ROW}, {texts} FROM ({PROBLEMS}) ORDER BY {SOURCE_ROW}"
        con.execute(f"COPY ({query}) TO {literal(str(target))} (HEADER, DELIMITER ',')")
    return count


def _sql_neutralised(cell: str) -> str:
    risky = f"regexp_matches({cell}, {literal(FORMULA_START)}) AND NOT regexp_matches({cell}, {literal(PLAIN_NUMBER)})"
    return f"CASE WHEN {risky} THEN '''' || {cell} ELSE {cell} END"


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
    """The rows as CSV, every text (the headers too) that a spreadsheet would run as a
    formula written with a leading ' (the workbook writes every text as text instead)."""
    pacsv.write_csv(formulas_neutralised(rows), target)


def formulas_neutralised(rows: pa.Table) -> pa.Table:
    """`rows` with a ' before each text and column name that starts a formula (vectorised)."""
    columns = []
    for column in rows.columns:
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            risky = pc.and_(
                pc.match_substring_regex(column, FORMULA_START),
                pc.invert(pc.match_substring_regex(column, PLAIN_NUMBER)),
            )
            column = pc.if_else(risky, pc.binary_join_element_wise("'", column, ""), column)
        columns.append(column)
    return pa.table(columns, names=[_neutralised(name) for name in rows.column_names])


def _neutralised(text: str) -> str:
    return "'" + text if re.match(FORMULA_START, text) and not re.match(PLAIN_NUMBER, text) else text


def rows_workbook_write(
    rows: pa.Table, bad_cells: dict[int, set[str]], target: Path, *, about: list[tuple[str, object]]
) -> None:
    """The rows in a workbook (the first XLSX_MAX_ROWS), bad cells highlighted, and an About
    sheet of `about`'s lines. xlsxwriter in constant-memory mode: each row goes to disk as
    the next one starts (twice openpyxl's write-only speed on 40,000 rejected rows); every
    text is written as text, so a cell starting with "=" is no formula."""
    book = xlsxwriter.Workbook(str(target), {"constant_memory": True})
    bad, bold = book.add_format(BAD_CELL), book.add_format({"bold": True})
    sheet = book.add_worksheet("Rejected rows")
    sheet.freeze_panes(1, 1)
    headers = rows.column_names
    for col, header in enumerate(headers):
        sheet.write_string(0, col, header, bold)
    for index, record in enumerate(rows.slice(0, XLSX_MAX_ROWS).to_pylist(), start=1):
        marked = bad_cells.get(record[ROW], ())
        for col, header in enumerate(headers):
            _write(sheet, index, col, record[header], bad if header in marked else None)
    notes = book.add_worksheet("About")
    for index, line in enumerate(about):
        for col, value in enumerate(line):
            _write(notes, index, col, value, None)
    book.close()


def _write(sheet, row: int, col: int, value, cell_format) -> None:
    if value is None:
        if cell_format is not None:
            sheet.write_blank(row, col, None, cell_format)
    elif isinstance(value, bool | int | float):
        sheet.write_number(row, col, value, cell_format)
    else:
        sheet.write_string(row, col, str(value), cell_format)
