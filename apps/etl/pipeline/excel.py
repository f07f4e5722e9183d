"""Extract from workbooks: find the data sheet and its header row, read it as text cells.

fastexcel (calamine, Rust) reads only the cells a sheet really holds, so a sheet whose
dimension claims 1,048,576 rows, or trailing rows that are only formatted, cost nothing;
formulas come back as their cached values. Dates come back as ISO text, and numbers as
their shortest text (2.5499999999999998 -> 2.55).
"""

from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from apps.etl.pipeline.engine import ident
from apps.etl.pipeline.extract import (
    RAW,
    SOURCE_ROW,
    Extracted,
    ExtractError,
    HeaderScore,
    create_bad_records,
    unique_names,
)

PEEK_ROWS = 30
# A summary sheet may well say "Country": a data sheet's header names two fields or more.
MIN_HEADER_SCORE = 2


def extract_excel(
    con: duckdb.DuckDBPyConnection, path: Path, *, header_score: HeaderScore, sheet: str | None = None
) -> Extracted:
    import fastexcel

    try:
        reader = fastexcel.read_excel(path)
        name, header_index, _score = choose_sheet(reader, header_score=header_score, sheet=sheet)
        table = reader.load_sheet(name, header_row=None, skip_rows=header_index, dtypes="string").to_arrow()
    except fastexcel.FastExcelError as exc:
        raise ExtractError(f"The workbook could not be read: {exc}") from exc
    if table.num_rows == 0:
        raise ExtractError(f"Sheet '{name}' has no rows.")
    headers = ["" if v is None else str(v) for v in table.slice(0, 1).to_pylist()[0].values()]
    columns = unique_names(headers)
    # Leading rows that hold no cell at all are not in calamine's range: numbering assumes
    # the sheet starts on row 1, which is how sheets are written.
    first = header_index + 2
    data = table.slice(1).rename_columns(columns)
    data = data.append_column(SOURCE_ROW, pa.array(range(first, first + data.num_rows), pa.int64()))
    data = pa.table(
        {n: _text(c) if n != SOURCE_ROW else c for n, c in zip(data.column_names, data.columns, strict=True)}
    )
    con.register("_sheet", data)
    blank = " AND ".join(f"trim({ident(c)}) = ''" for c in columns)
    con.execute(f"CREATE OR REPLACE TABLE {RAW} AS SELECT * FROM _sheet WHERE NOT ({blank})")
    con.unregister("_sheet")
    create_bad_records(con)
    ignored = [s for s in reader.sheet_names if s != name]
    details = {"sheet": name, "header_row": str(header_index + 1), "sheets_ignored": ", ".join(ignored)}
    rows = con.execute(f"SELECT count(*) FROM {RAW}").fetchall()[0][0]
    return Extracted(headers, columns, rows, details=details)


def _text(column: pa.ChunkedArray) -> pa.ChunkedArray:
    return pc.fill_null(column.cast(pa.string()), "")


def choose_sheet(reader, *, header_score: HeaderScore, sheet: str | None) -> tuple[str, int, int]:
    """(sheet name, header row index, score): the named sheet, else the one whose header
    names most schema fields. Pivot and summary sheets name none and are passed over."""
    names = list(reader.sheet_names)
    if sheet is not None and sheet not in names:
        raise ExtractError(f"The workbook has no sheet '{sheet}'. Its sheets: {', '.join(names)}.")
    best: tuple[str, int, int] | None = None
    for name in [sheet] if sheet else names:
        peek = reader.load_sheet(name, header_row=None, n_rows=PEEK_ROWS, dtypes="string").to_arrow()
        for index, row in enumerate(peek.to_pylist()):
            cells = [str(v) for v in row.values() if v is not None and str(v).strip()]
            score = header_score(cells) if len(cells) >= 2 else 0
            if score >= MIN_HEADER_SCORE and (best is None or score > best[2]):
                best = (name, index, score)
    if best is None:
        if sheet:
            return sheet, 0, 0
        raise ExtractError(
            f"No sheet has a header row naming the schema's fields. Sheets: {', '.join(names)}. "
            "Name the sheet to read, or ask an admin to add aliases."
        )
    return best
