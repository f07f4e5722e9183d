"""Extract from workbooks: find the data sheet and its header row, read it as text cells.

fastexcel (calamine, Rust) reads only the cells a sheet really holds, so a sheet whose
dimension claims 1,048,576 rows, or trailing rows that are only formatted, cost nothing;
formulas come back as their cached values (totals.py looks for the formulas that total a
column in the sheet's XML). Dates come back as ISO text, and numbers as
their shortest text (2.5499999999999998 -> 2.55).
"""

import logging
import os
import zipfile
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
from isal import isal_zlib

from apps.etl.pipeline.engine import ident
from apps.etl.pipeline.extracted import (
    RAW,
    SOURCE_ROW,
    Extracted,
    ExtractError,
    HeaderScore,
    bad_records_table,
    unique_names,
)
from apps.etl.pipeline.sheet_pieces import STEP, Piece, cut_sheet, part_data_offset
from apps.etl.pipeline.sheet_text import column_text
from apps.etl.pipeline.totals import formula_total_rows

log = logging.getLogger(__name__)

PEEK_ROWS = 30
# A zip bomb named .xlsx: calamine has no limit of its own, so the package's declared sizes
# are checked first. Real workbooks compress 5-20 times; past these it is not a spreadsheet.
MAX_UNCOMPRESSED_BYTES = 2 * 1024**3
MAX_RATIO = 100
RATIO_FROM_BYTES = 10 * 1024 * 1024  # small parts (styles, empty sheets) compress far better
# A summary sheet may well say "Country": a data sheet's header names two fields or more.
MIN_HEADER_SCORE = 2
# A function's call, as in every formula that could total a column (=SUM(...)): a cell's
# value never holds one in a sheet's XML (text lives in the shared strings part).
FUNCTION_CALL = b"("


def extract_excel(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    *,
    header_score: HeaderScore,
    sheet: str | None = None,
    work_dir: Path | None = None,
) -> Extracted:
    import fastexcel

    with_formulas: frozenset[str] = frozenset()
    if zipfile.is_zipfile(path):
        with_formulas = check_package(path)
    try:
        reader = fastexcel.read_excel(path)
        if not reader.sheet_names:
            raise ExtractError("The workbook has no sheets.")
        peeks = _peek(path, reader, [sheet] if sheet else list(reader.sheet_names))
        name, header_row = choose_sheet(reader.sheet_names, peeks, header_score=header_score, sheet=sheet)
        written = _header_texts(peeks.get(name, []), header_row)
        read = _read_in_pieces(path, name, header_row, written, work_dir=work_dir) if work_dir else None
        read = read or _read_typed(reader, name, header_row, written) or _read_strings(reader, name, header_row)
    except fastexcel.FastExcelError as exc:
        first = str(exc).splitlines()[0]
        raise ExtractError(f"The workbook could not be read; it may be damaged or cut short ({first}).") from exc
    if read is None:
        raise ExtractError(f"Sheet '{name}' has no rows.")
    headers, data = read
    columns = unique_names(headers)
    con.register("_sheet", data)
    # Empty cells become ''; rows with nothing but blanks (formatted, or trailing) are dropped.
    cells = ", ".join(
        f"coalesce({ident(c)}, '') AS {ident(n)}" for c, n in zip(data.column_names[:-1], columns, strict=True)
    )
    blank = " AND ".join(f"trim(coalesce({ident(c)}, '')) = ''" for c in data.column_names[:-1])
    con.execute(f"CREATE OR REPLACE TABLE {RAW} AS SELECT {cells}, {SOURCE_ROW} FROM _sheet WHERE NOT ({blank})")
    con.unregister("_sheet")
    bad_records_table(con)
    ignored = [s for s in reader.sheet_names if s != name]
    details = {"sheet": name, "header_row": str(header_row), "sheets_ignored": ", ".join(ignored)}
    details["sheets"] = list(reader.sheet_names)  # the user may choose another one
    rows = con.execute(f"SELECT count(*) FROM {RAW}").fetchall()[0][0]
    totals = formula_total_rows(path, name, parts_with_formulas=with_formulas)
    return Extracted(headers, columns, rows, details=details, formula_totals=totals)


def check_package(path: Path) -> frozenset[str]:
    """Refuse a workbook whose parts would unpack to more than a workbook ever holds; the
    parts that may hold a formula (for totals.formula_total_rows, which then need not
    inflate a sheet without any a second time).

    The sizes the zip declares are checked first (cheap), then each part is unpacked as a
    stream and counted, because calamine believes the data, not the headers: a part whose
    header claims 1,000 bytes may unpack to gigabytes. The count reads the part's own deflate
    stream (not zipfile's reader, which stops at the declared size), so a lie is measured
    and refused like any other zip bomb."""
    with_formulas: set[str] = set()
    try:
        with zipfile.ZipFile(path) as package:
            parts = package.infolist()
            _check_sizes([(p.filename, p.file_size, p.compress_size) for p in parts])
            sizes = [(p.filename, _unpacked_size(package, p, with_formulas), p.compress_size) for p in parts]
            _check_sizes(sizes)
    except (zipfile.BadZipFile, zlib.error, isal_zlib.error, EOFError) as exc:
        raise ExtractError(f"The workbook could not be read; it may be damaged or cut short ({exc}).") from exc
    return frozenset(with_formulas)


def _unpacked_size(package: zipfile.ZipFile, part: zipfile.ZipInfo, with_formulas: set[str] | None = None) -> int:
    """Bytes the part really unpacks to, counted in 1 MB steps; stops once past any limit.

    A deflated part is inflated by ISA-L (2.3 times zlib's speed here: 0.14 s instead of
    0.32 s for a 500k-row sheet) straight from the part's bytes; other methods go through
    zipfile."""
    limit = min(MAX_UNCOMPRESSED_BYTES, max(RATIO_FROM_BYTES, MAX_RATIO * part.compress_size)) + 1
    seen = _FormulaSeen(part.filename, with_formulas)
    if part.compress_type != zipfile.ZIP_DEFLATED:
        size = 0
        with package.open(part) as stream:
            while size <= limit and (chunk := stream.read(STEP)):
                size += seen(chunk)
        return size
    inflate = isal_zlib.decompressobj(-15)  # a raw deflate stream, as zip parts are
    size = 0
    with open(package.filename, "rb") as raw:
        raw.seek(part_data_offset(raw, part))
        left = part.compress_size
        while left > 0 and size <= limit:
            chunk = raw.read(min(STEP, left))
            if not chunk:
                raise EOFError(f"{part.filename} is cut short")
            left -= len(chunk)
            size += seen(inflate.decompress(chunk, min(STEP, limit + 1 - size)))
            # Output past the 1 MB cap comes out in further steps, from the input held back.
            while inflate.unconsumed_tail and size <= limit:
                size += seen(inflate.decompress(inflate.unconsumed_tail, min(STEP, limit + 1 - size)))
    return size


class _FormulaSeen:
    """Counts a part's unpacked bytes, and adds its name to `found` once its XML shows a
    function's call, `(` (a memchr search on the bytes the count unpacks anyway): only such
    a sheet can hold a formula that totals a column. Anything else with a `(` (an inline
    string) costs only a look at the sheet later."""

    def __init__(self, name: str, found: set[str] | None) -> None:
        self.name, self.found = name, found

    def __call__(self, data: bytes) -> int:
        if self.found is not None and self.name not in self.found and FUNCTION_CALL in data:
            self.found.add(self.name)
        return len(data)


def _check_sizes(parts: list[tuple[str, int, int]]) -> None:
    total = sum(size for _, size, _ in parts)
    if total > MAX_UNCOMPRESSED_BYTES:
        raise ExtractError(
            f"The workbook would unpack to {total / 1024**3:.1f} GB, over the limit of "
            f"{MAX_UNCOMPRESSED_BYTES / 1024**3:.0f} GB: it was not read. Split it, or upload it as CSV."
        )
    for name, size, packed in parts:
        if size > RATIO_FROM_BYTES and size > MAX_RATIO * max(packed, 1):
            raise ExtractError(
                f"The workbook's part {name} unpacks to over {size // max(packed, 1):,} times its size "
                "(a zip bomb, not a spreadsheet): it was not read."
            )


# (the header row's texts, the data rows as text columns named by position and their
# row numbers in SOURCE_ROW), or None if empty
Read = tuple[list[str], pa.Table] | None
GENERATED = "__UNNAMED__"  # fastexcel's name for a column whose header cell is empty


def _header_texts(peek: list[list], header_row: int) -> list[str]:
    """The header row's filled cells as the peek saw them."""
    return [str(v) for v in (peek[header_row - 1] if len(peek) >= header_row else []) if _filled(v)]


def _read_typed(reader, name: str, header_row: int, written: list[str]) -> Read:
    """The sheet read as typed columns and formatted here (see sheet_text), or None when
    a column or the header could come out differently from calamine's strings.

    `written` is the header row's filled cells: fastexcel renames duplicate headers, and
    then calamine's own strings are read instead."""
    sheet = reader.load_sheet(name, header_row=header_row - 1, skip_rows=0)
    # Column types are guessed from the first rows; a later cell of another type (text in
    # a number column) would come back empty, and is reported: then read strings instead.
    batch, errors = sheet.to_arrow_with_errors()
    if batch.num_columns == 0 or (errors is not None and errors.errors):
        return None
    headers = ["" if n == f"{GENERATED}{i}" else n for i, n in enumerate(batch.column_names)]
    if [h for h in headers if h] != written:
        return None
    texts = [column_text(c) for c in batch.columns]
    if any(t is None for t in texts):
        return None
    return headers, _numbered(pa.table(texts, names=[f"c{i}" for i in range(len(texts))]), header_row + 1)


def _read_strings(reader, name: str, header_row: int) -> Read:
    # An explicit skip_rows counts from the sheet's row 1 (without it, calamine's rows
    # would start at the first non-empty one).
    table = reader.load_sheet(name, header_row=None, skip_rows=header_row - 1, dtypes="string").to_arrow()
    if table.num_rows == 0:
        return None
    headers = ["" if v is None else str(v) for v in table.slice(0, 1).to_pylist()[0].values()]
    data = table.slice(1)
    return headers, _numbered(data.rename_columns([f"c{i}" for i in range(data.num_columns)]), header_row + 1)


def _numbered(data: pa.Table, first: int) -> pa.Table:
    """`data` with each row's number in the sheet: calamine returns every row from `first`
    on, empty ones included."""
    return data.append_column(SOURCE_ROW, pa.array(np.arange(first, first + data.num_rows, dtype=np.int64)))


def _read_in_pieces(path: Path, name: str, header_row: int, written: list[str], *, work_dir: Path) -> Read:
    """A big sheet read in pieces on two cores (see sheet_pieces); None when it is small,
    not plain enough to cut, or its pieces do not agree (then it is read whole)."""
    import fastexcel

    if (os.cpu_count() or 1) < 2 or path.suffix.lower() not in (".xlsx", ".xlsm"):
        return None

    def read(piece: Piece) -> Read:
        reader = fastexcel.read_excel(piece.path)
        try:
            return _read_typed(reader, name, piece.header_row, written) or _read_strings(reader, name, piece.header_row)
        finally:
            piece.path.unlink(missing_ok=True)

    try:
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="sheet-piece") as pool:
            # The first piece is read while the next one is written.
            pieces, reads = [], []
            for piece in cut_sheet(path, name, header_row=header_row, work_dir=work_dir):
                pieces.append(piece)
                reads.append(pool.submit(read, piece))
            results = [r.result() for r in reads]
    except (fastexcel.FastExcelError, zipfile.BadZipFile, EOFError, isal_zlib.error, OSError, ValueError) as exc:
        log.warning("sheet %r not read in pieces (%s); reading it whole", name, exc)
        return None
    if len(results) < 2 or any(r is None for r in results):
        return None
    headers = results[0][0]
    for piece, following, (piece_headers, data) in zip(pieces, [*pieces[1:], None], results, strict=True):
        # Rows out of order in the XML would put a piece's rows past the next one's start.
        beyond = following is not None and data.num_rows > following.header_row - piece.header_row
        if piece_headers != headers or data.num_columns != results[0][1].num_columns or beyond:
            log.info("sheet %r: its pieces do not agree; reading it whole", name)
            return None
    log.info("sheet %r read in %d pieces", name, len(pieces))
    return headers, pa.concat_tables([data for _, data in results], promote_options="permissive")


class SheetNotFound(ExtractError):
    """No sheet of that name, or none with a header row: the report still lists the
    workbook's sheets, so that the user can choose the one to read."""

    def __init__(self, message: str, *, sheets: list[str]) -> None:
        super().__init__(message)
        self.report = {"file": {"sheets": list(sheets)}}


# sheet name -> its first rows, from row 1, as lists of cells
Peeks = dict[str, list[list]]


def _peek(path: Path, reader, names: list[str]) -> Peeks:
    """The first rows of each sheet, with true row numbers.

    For .xlsx openpyxl streams just those rows (calamine would parse every sheet whole);
    other formats are peeked through calamine, counting from row 1 (skip_rows=0).
    """
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        import openpyxl

        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
        try:
            peeks = {}
            for name in names:
                if name not in book.sheetnames:
                    continue
                peeks[name] = [list(r) for r in book[name].iter_rows(max_row=PEEK_ROWS, values_only=True)]
            return peeks
        finally:
            book.close()
    peeks = {}
    for name in names:
        if name in reader.sheet_names:
            peek = reader.load_sheet(name, header_row=None, skip_rows=0, n_rows=PEEK_ROWS, dtypes="string")
            peeks[name] = [list(r.values()) for r in peek.to_arrow().to_pylist()]
    return peeks


def _filled(value) -> bool:
    return value is not None and str(value).strip() != ""


def choose_sheet(
    sheet_names: list[str], peeks: Peeks, *, header_score: HeaderScore, sheet: str | None
) -> tuple[str, int]:
    """(sheet name, header row number): the named sheet, else the one whose header names
    most schema fields. Pivot and summary sheets name fewer and are passed over."""
    names = list(sheet_names)
    if sheet is not None and sheet not in names:
        raise SheetNotFound(f"The workbook has no sheet '{sheet}'. Its sheets: {', '.join(names)}.", sheets=names)
    best: tuple[int, str, int] | None = None
    for name in [sheet] if sheet else names:
        for index, row in enumerate(peeks.get(name, [])):
            cells = [str(v) for v in row if _filled(v)]
            score = header_score(cells) if len(cells) >= 2 else 0
            if score >= MIN_HEADER_SCORE and (best is None or score > best[0]):
                best = (score, name, index + 1)
    if best is None:
        if sheet:
            first = next((i + 1 for i, r in enumerate(peeks.get(sheet, [])) if any(_filled(v) for v in r)), 1)
            return sheet, first
        raise SheetNotFound(
            f"No sheet has a header row naming the schema's fields. Sheets: {', '.join(names)}. "
            "Choose the sheet to read, or ask an admin to add aliases.",
            sheets=names,
        )
    return best[1], best[2]
