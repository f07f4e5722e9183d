"""A CSV (or TSV, or text) file -> the work table `raw` of text cells, one row per record.

Every cell stays text here: parsing numbers and dates is the next stages' job, so that a
bad cell becomes a reasoned rejection rather than a failed read. Each row carries
`source_row`, its 1-based row number in the file as a spreadsheet would show it.

CSV goes through DuckDB's own reader (the fastest on this machine), after the encoding,
the header line and the delimiter are found from the file's first 64 KB. Files that are
not UTF-8 are first re-encoded to a UTF-8 temp file in 1 MB steps, so memory stays flat.
"""

import codecs
import csv
import io
import logging
import mmap
import re
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

import duckdb

from apps.etl.pipeline.engine import ident, literal, scalar, starts_with_space
from apps.etl.pipeline.extracted import (
    BAD_RECORDS,
    RAW,
    ROW_HASH,
    SOURCE_ROW,
    BadRecord,
    Extracted,
    ExtractError,
    HeaderScore,
    bad_records_table,
    unique_names,
)
from apps.etl.pipeline.typed_read import Planner, TypedRead, as_text

RECORDS = "records"  # a CSV's records as read, in file order
NUMBERED = "numbered_records"
SNIFF_BYTES = 64 * 1024
DELIMITERS = ",;\t|"
DELIMITER_NAMES = {",": "commas", ";": "semicolons", "\t": "tabs", "|": "bars (|)"}
HEADER_SEARCH_LINES = 50
# Sales files have tens of columns; a header of thousands is not a sales table, and reading
# it would cost DuckDB memory per column (100,000 of them ran it out of memory).
MAX_COLUMNS = 1000
# Read as NULL: a text no file contains, so that only the cells the reader pads onto a
# short row are NULL, and an empty field stays ''.
NULL_TEXT = "\x01"
EXTRA = "__extra_fields"
BAD = "__bad_record"
BLANK = "__blank_record"
FIRST_BAD_RECORDS = 50
# The ways DuckDB is asked to read a CSV, tried in turn (see _read_csv_into_raw).
PADDED, STRICT, SERIAL = "in parallel", "in parallel, strictly", "serially"
# The rows a typed read is planned on (typed_read.py): the head's, and those of chunks spread
# through the file.
SAMPLE = "typing_sample"
CELL_TEXTS = "cell_texts"  # a typed read's file read again as text, when a problem needs it
SAMPLE_CHUNKS = 16
SAMPLE_CHUNK_BYTES = 32 * 1024
# Files up to this size are searched for empty lines by DuckDB, which holds the whole text.
EMPTY_LINE_SEARCH_MAX_BYTES = 100 * 1024 * 1024

log = logging.getLogger(__name__)


def extract_csv(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    *,
    work_dir: Path,
    header_score: HeaderScore,
    plan: Planner | None = None,
) -> Extracted:
    with open(path, "rb") as fh:
        head = fh.read(SNIFF_BYTES)
    if not head.strip():
        raise ExtractError("The file is empty.")
    encoding = detect_encoding(head)
    if encoding not in ("utf-8", "utf-8-sig"):
        path = transcode(path, encoding=encoding, target=work_dir / "utf8.csv")
        with open(path, "rb") as fh:
            head = fh.read(SNIFF_BYTES)
    # Whether the file holds an empty line is first asked of DuckDB, on a cursor of its own
    # in another thread, while the header is found and the typed read planned and made;
    # only a file that may hold one is searched exactly (keep_blank_lines).
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="etl-empty-lines") as pool:
        may_hold = pool.submit(_may_hold_empty_line, con, path, head)
        headers, header_index, read, typed = _sniff_and_plan(
            con, path, head, header_score=header_score, plan=plan, work_dir=work_dir
        )
        columns, delimiter = read["columns"], read["delimiter"]
        if typed is not None:
            typed = _read_typed(con, path, typed, columns=columns, delimiter=delimiter, skip=read["skip"])
        kept = keep_blank_lines(path, target=work_dir / "blank_lines_kept.csv", search=may_hold.result())
    if typed is not None and kept != path:
        # The reader skipped the empty lines, and the rows after them got the wrong numbers:
        # read again, each empty line kept as a row (rare: a file is read twice, not every
        # file waits for the search).
        typed = _read_typed(con, kept, typed, columns=columns, delimiter=delimiter, skip=read["skip"])
    path = kept
    try:
        if typed is None:
            _read_csv_into_raw(con, path, **read)
    except duckdb.InvalidInputException as exc:
        if "invalid unicode" not in str(exc).lower():
            raise _unreadable(exc) from exc
        # Not UTF-8 past the first 64 KB: the stray bytes become U+FFFD, the rows are kept.
        path = transcode(path, encoding=encoding, target=work_dir / "utf8-replaced.csv")
        encoding = f"{encoding} (invalid bytes replaced)"
        _read_csv_into_raw(con, path, **read)
    except duckdb.OutOfMemoryException as exc:
        raise _unreadable(exc) from exc
    create_bad_records(con, columns, delimiter=delimiter, typed=typed)
    bad_count, bad = _bad_summary(con)
    details = {
        "encoding": encoding,
        "delimiter": delimiter,
        "delimiter_name": DELIMITER_NAMES[delimiter],
        "header_row": str(header_index + 1),
    }
    if typed is not None:
        details["typed_by_reader"] = typed.describe()
    good = scalar(con, f"SELECT count(*) FROM {RAW}")
    texts = partial(_cell_texts, path=path, columns=columns, delimiter=delimiter, skip=read["skip"]) if typed else None
    return Extracted(headers, columns, good + bad_count, bad, bad_count, details, typed, texts)


def _cell_texts(con: duckdb.DuckDBPyConnection, *, path: Path, columns: list[str], delimiter: str, skip: int) -> str:
    """The file read again as text the way the typed read read it (same file, same options,
    so the same rows in the same order): 0.2 s per million rows."""
    _read_csv(con, path, columns=columns, delimiter=delimiter, skip=skip, way=PADDED, table=CELL_TEXTS)
    return f"(SELECT *, CAST(rowid AS BIGINT) + {skip + 1} AS {SOURCE_ROW} FROM {CELL_TEXTS})"


def _sniff_and_plan(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    head: bytes,
    *,
    header_score: HeaderScore,
    plan: Planner | None,
    work_dir: Path,
) -> tuple[list[str], int, dict, TypedRead | None]:
    """From the file's first 64 KB: the headers, the header's line index, how to read the
    file, and (with `plan`) the typed read planned on a sample of its rows."""
    text = head.decode("utf-8-sig", errors="replace")
    lines = _complete_lines(text, whole=len(head) < SNIFF_BYTES)
    header_index, delimiter = find_header(lines, header_score)
    headers = next(csv.reader([lines[header_index]], delimiter=delimiter))
    if len(headers) > MAX_COLUMNS:
        raise ExtractError(f"The header row has {len(headers):,} columns; a sales file has at most {MAX_COLUMNS:,}.")
    columns = unique_names(headers)
    read = {
        "columns": columns,
        "delimiter": delimiter,
        "skip": header_index + 1,
        "multiline": has_quoted_newline(text, delimiter),
    }
    typed = None
    if plan is not None and not read["multiline"] and len(columns) > 2:
        sample = [*lines[header_index + 1 :], *_spread_lines(path, skip_bytes=len(head))]
        typed = _plan_typed(con, plan, sample=sample, work_dir=work_dir, columns=columns, delimiter=delimiter)
    return headers, header_index, read, typed


def _plan_typed(
    con: duckdb.DuckDBPyConnection,
    plan: Planner,
    *,
    sample: list[str],
    work_dir: Path,
    columns: list[str],
    delimiter: str,
) -> TypedRead | None:
    """The typed read `plan` makes of the sampled lines, read as the file will be."""
    sample_file = work_dir / "typing_sample.csv"
    sample_file.write_text("\n".join(sample) + "\n", encoding="utf-8", errors="surrogateescape")
    _read_csv(con, sample_file, columns=columns, delimiter=delimiter, skip=0, way=PADDED, table=SAMPLE)
    con.execute(f"DELETE FROM {SAMPLE} WHERE {BLANK} OR {BAD}")
    typed = plan(con, SAMPLE, columns)
    con.execute(f"DROP TABLE {SAMPLE}")
    return typed


def _read_typed(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    typed: TypedRead,
    *,
    columns: list[str],
    delimiter: str,
    skip: int,
) -> TypedRead | None:
    """The file read with the number and date columns typed by the reader, as planned on a
    sample of its rows; None (nothing read) when a cell further down does not read as
    planned: the file is then read as text."""
    try:
        _read_csv(con, path, columns=columns, delimiter=delimiter, skip=skip, way=PADDED, typed=typed)
    except duckdb.Error as exc:
        log.info("CSV read as text: the typed read of %s stopped: %s", typed.describe(), str(exc).splitlines()[0])
        return None
    dates = [ident(f.column) for f in typed.fields.values() if f.date_format]
    if dates and scalar(con, f"SELECT count(*) FROM {RECORDS} WHERE {' OR '.join(f'year({d}) < 1000' for d in dates)}"):
        log.info("CSV read as text: a date read with %s has a year before 1000", typed.options())
        return None
    log.info("CSV read in parallel, %s typed by the reader", typed.describe())
    return typed


def _spread_lines(path: Path, *, skip_bytes: int) -> list[str]:
    """Whole lines from chunks spread through the file past its first `skip_bytes`: a file
    sorted by date shows its day/month order only further down. (A chunk may start inside
    a quoted cell: a line that does not split into the header's cells is left out.)"""
    rest = path.stat().st_size - skip_bytes
    if rest <= 0:
        return []
    # A file with less than the chunks' worth past its head is taken whole (chunks would overlap
    # and count some rows twice).
    starts = (
        [skip_bytes]
        if rest <= SAMPLE_CHUNKS * SAMPLE_CHUNK_BYTES
        else [skip_bytes + rest * i // (SAMPLE_CHUNKS + 1) for i in range(1, SAMPLE_CHUNKS + 1)]
    )
    size = rest if len(starts) == 1 else SAMPLE_CHUNK_BYTES
    lines: list[str] = []
    with open(path, "rb") as fh:
        for start in starts:
            fh.seek(start)
            chunk = fh.read(size).decode("utf-8", errors="surrogateescape").splitlines()
            # The first line of a chunk may be cut (the head's last, incomplete line), and its last.
            lines += [line for line in chunk[1:-1] if line.strip()]
    return lines


def _unreadable(exc: duckdb.Error) -> ExtractError:
    """A line far longer than any sales record, or a file that does not fit in memory."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    # DuckDB says where ("CSV Error on Line: 5"), then quotes the line, then says why.
    why = next((line for line in lines[1:] if line.startswith(("Maximum line size", "Invalid"))), "")
    return ExtractError(f"The file could not be read as a table: {lines[0]}{f' ({why.rstrip(".")})' if why else ''}.")


def _read_csv_into_raw(
    con: duckdb.DuckDBPyConnection, path: Path, *, columns: list[str], delimiter: str, skip: int, multiline: bool
) -> None:
    """All records, numbered, as text; rows of empty cells are not records and are left out.

    A sentinel last column catches surplus fields; missing fields are padded with NULL, so
    `BAD` marks both. The file is read in parallel into `records`, which keeps the file's
    order (insertion order is preserved), so a record's rowid is its place in the file:
    numbering with `row_number() OVER ()` instead would run the whole read on one thread.

    DuckDB's parallel reader refuses a quoted newline when short rows are padded, and says
    so. Such a file is then read in parallel without padding, strictly: the reader then
    refuses any record of the wrong width (or stray quote), and only a file that has one is
    read serially with padding, which allows everything. When the file's first 64 KB
    already show a quoted newline, the padded parallel read is not tried.
    """
    refused = []
    for way in [STRICT, SERIAL] if multiline else [PADDED, STRICT, SERIAL]:
        try:
            _read_csv(con, path, columns=columns, delimiter=delimiter, skip=skip, way=way)
            break
        except duckdb.Error as exc:
            if not _may_read_otherwise(way, exc):
                raise
            refused.append(way)
    log.info("CSV read %s%s", way, f" (refused read {', then '.join(refused)})" if refused else "")


def _may_read_otherwise(way: str, exc: duckdb.Error) -> bool:
    """Whether the next way may read what `way` refused: the padded parallel read refuses
    quoted newlines; the strict one records of the wrong width and stray quotes (but bytes
    that are not UTF-8 no way reads)."""
    if way == PADDED:
        return "quoted new lines" in str(exc)
    return way == STRICT and isinstance(exc, duckdb.InvalidInputException) and "unicode" not in str(exc).lower()


def _read_csv(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    *,
    columns: list[str],
    delimiter: str,
    skip: int,
    way: str,
    typed: TypedRead | None = None,
    table: str = RECORDS,
):
    strict = way == STRICT
    types = typed.types if typed else {}
    # Strictly, every record has the header's width: no sentinel column, no padding.
    names = columns if strict else [*columns, EXTRA]
    spec = ", ".join(f"{literal(c)}: {literal(types.get(c, 'VARCHAR'))}" for c in names)
    sentinel = f", CAST(NULL AS VARCHAR) AS {ident(EXTRA)}" if strict else ""
    if typed and typed.key_columns and table == RECORDS:
        # Hashed while the record is at hand: 0.02 s per million rows, against 0.06 s for a
        # scan of its own in the search for duplicates.
        sentinel += f", hash({', '.join(ident(c) for c in typed.key_columns)}) AS {ROW_HASH}"
    # Whether a record is blank or has the wrong number of fields is worked out as it is
    # read (in parallel, once), not by every later scan of the views below.
    con.execute(
        f"""CREATE OR REPLACE TABLE {table} AS
            SELECT *{sentinel}, {_blank(columns, types)} AS {BLANK},
                   ({ident(EXTRA)} IS NOT NULL OR {ident(columns[-1])} IS NULL) AS {BAD}
            FROM read_csv($path, header = false, skip = {skip}, delim = $delim, quote = '"', escape = '"',
                          columns = {{{spec}}}, auto_detect = false, null_padding = {str(not strict).lower()},
                          strict_mode = {str(strict).lower()}, nullstr = $null_text,
                          parallel = {str(way != SERIAL).lower()}{typed.options() if typed else ""})""",
        {"path": str(path), "delim": delimiter, "null_text": NULL_TEXT},
    )
    if table != RECORDS:
        return
    con.execute(
        f"""CREATE OR REPLACE VIEW {NUMBERED} AS
            SELECT * EXCLUDE ({BLANK}), CAST(rowid AS BIGINT) + {skip + 1} AS {SOURCE_ROW}
            FROM {RECORDS} WHERE NOT {BLANK}"""
    )
    con.execute(f"CREATE OR REPLACE VIEW {RAW} AS SELECT * FROM {NUMBERED} WHERE NOT {BAD}")


def _blank(columns: list[str], types: dict[str, str]) -> str:
    """Whether every cell of a record is empty or spaces (a typed cell: missing). Most
    records have a first cell that is neither, and then the others are not looked at."""
    first = ident(columns[0])
    every = " AND ".join(
        f"{ident(c)} IS NULL"
        if c in types
        else f"({ident(c)} IS NULL OR {ident(c)} = '' OR (starts_with({ident(c)}, ' ') AND trim({ident(c)}) = ''))"
        for c in columns
    )
    return f"CASE WHEN {first} <> '' AND NOT {starts_with_space(first)} THEN false ELSE {every} END"


def create_bad_records(
    con: duckdb.DuckDBPyConnection, columns: list[str], *, delimiter: str, typed: TypedRead | None = None
) -> None:
    """Rows with more or fewer fields than the header (which `raw` leaves out), with the reason."""
    bad_records_table(con)
    # The row's own fields, as the file has them: the NULLs the reader pads a short row with
    # are left out (concat_ws skips NULLs; an empty field is '', not NULL).
    as_read = {f.column: as_text(ident(f.column), f) for f in typed.fields.values()} if typed else {}
    cells = ", ".join(as_read.get(c, ident(c)) for c in [*columns, EXTRA])
    con.execute(
        f"""INSERT INTO {BAD_RECORDS}
            SELECT {SOURCE_ROW}, left(concat_ws({literal(delimiter)}, {cells}), 500) AS text,
                   'has ' || CASE WHEN {ident(EXTRA)} IS NOT NULL THEN 'more' ELSE 'fewer' END
                   || ' fields than the header''s {len(columns)}' AS reason
            FROM {NUMBERED} WHERE {BAD}"""
    )


def _bad_summary(con: duckdb.DuckDBPyConnection) -> tuple[int, list[BadRecord]]:
    count = scalar(con, f"SELECT count(*) FROM {BAD_RECORDS}")
    rows = con.execute(f"SELECT * FROM {BAD_RECORDS} ORDER BY {SOURCE_ROW} LIMIT {FIRST_BAD_RECORDS}").fetchall()
    return count, [BadRecord(*row) for row in rows]


def detect_encoding(head: bytes) -> str:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    # UTF-16 without a BOM: ASCII text has a NUL in every other byte.
    if len(head) >= 4 and head[1::2].count(0) > len(head) // 4:
        return "utf-16-le"
    if len(head) >= 4 and head[0::2].count(0) > len(head) // 4:
        return "utf-16-be"
    # The sample may end inside a multi-byte character; ignore a cut tail.
    sample = head if len(head) < SNIFF_BYTES else head[:-4]
    try:
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        return "cp1252"


def transcode(path: Path, *, encoding: str, target: Path) -> Path:
    """Re-encode to UTF-8 in 1 MB steps. cp1252 leaves five bytes undefined; those become U+FFFD."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    with open(path, "rb") as src, open(target, "w", encoding="utf-8", newline="") as dst:
        while chunk := src.read(1024 * 1024):
            dst.write(decoder.decode(chunk))
        dst.write(decoder.decode(b"", final=True))
    return target


def keep_blank_lines(path: Path, *, target: Path, search: bool = True) -> Path:
    """The file, with each empty line between records written as `""` (one empty field).

    DuckDB's reader skips empty lines, which would shift the number of every later row (a
    spreadsheet shows an empty line as an empty row). Read as a record of blank cells, the
    line keeps its number and is then left out like any blank row. An empty line inside a
    quoted cell is part of the cell and stays. Files without empty lines are not copied.
    `search=False`: the file is known to hold none.
    """
    if not (search and _has_inner_empty_line(path)):
        return path
    in_quotes = False
    # surrogateescape: the bytes round-trip unchanged, even where they are not UTF-8.
    with (
        open(path, encoding="utf-8", errors="surrogateescape", newline="") as src,
        open(target, "w", encoding="utf-8", errors="surrogateescape", newline="") as dst,
    ):
        for line in src:
            if not in_quotes and line in ("\n", "\r\n", "\r"):
                line = '""' + line
            # A quote opens or closes a quoted cell; an escaped "" does both.
            in_quotes ^= line.count('"') % 2 == 1
            dst.write(line)
    return target


def _may_hold_empty_line(con: duckdb.DuckDBPyConnection, path: Path, head: bytes) -> bool:
    """False when the file holds no empty line at all, as DuckDB finds (0.017 s for 65 MB,
    with Python free to go on); True when it may, or DuckDB cannot tell (text that is not
    UTF-8, a file too big to hold in memory for this): then _has_inner_empty_line decides."""
    if path.stat().st_size > EMPTY_LINE_SEARCH_MAX_BYTES:
        return True
    first = head.find(b"\n")
    empty_line = "\n\r\n" if first > 0 and head[first - 1] == ord("\r") else "\n\n"
    cursor = con.cursor()
    try:
        found = cursor.execute(
            "SELECT contains(content, $line) FROM read_text($path)", {"line": empty_line, "path": str(path)}
        )
        return bool(found.fetchall()[0][0])
    except duckdb.Error:
        return True
    finally:
        cursor.close()


def _has_inner_empty_line(path: Path) -> bool:
    """Whether an empty line comes before the last record: one search at memchr speed for
    the file's line ending twice (its first line's ending; nothing is copied)."""
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        end = len(mm)
        while end and mm[end - 1 : end].isspace():
            end -= 1
        first = mm.find(b"\n", 0, SNIFF_BYTES)
        empty_line = b"\n\r\n" if first > 0 and mm[first - 1] == ord("\r") else b"\n\n"
        # re's literal search runs at twice mmap.find's speed here (0.024 s against 0.05-0.06 s
        # for 65 MB).
        return re.compile(re.escape(empty_line)).search(mm, 0, end) is not None


def has_quoted_newline(text: str, delimiter: str) -> bool:
    """Whether a cell of `text` (the file's first bytes) holds a line break."""
    try:
        return any(
            "\n" in cell or "\r" in cell for row in csv.reader(io.StringIO(text), delimiter=delimiter) for cell in row
        )
    except csv.Error:
        return False


def _complete_lines(text: str, *, whole: bool) -> list[str]:
    lines = text.splitlines()
    if not whole and len(lines) < 2:
        raise ExtractError(
            f"The first line is over {SNIFF_BYTES // 1024} KB long: that is no header row. Upload a table "
            "with one header line of column names."
        )
    return lines if whole else lines[:-1]


def find_header(lines: list[str], header_score: HeaderScore) -> tuple[int, str]:
    """The header line and delimiter: the line naming most schema fields among the first 50,
    else the first with two or more cells (blank and one-cell title lines are skipped)."""
    best: tuple[int, int, str] | None = None
    first_wide: tuple[int, str] | None = None
    for index, line in enumerate(lines[:HEADER_SEARCH_LINES]):
        delimiter = max(DELIMITERS, key=line.count)
        cells = next(csv.reader([line], delimiter=delimiter), [])
        if len([c for c in cells if c.strip()]) < 2:
            continue
        first_wide = first_wide or (index, delimiter)
        score = header_score(cells)
        if score and (best is None or score > best[0]):
            best = (score, index, delimiter)
    if best is not None:
        return best[1], best[2]
    if first_wide is not None:
        return first_wide
    raise ExtractError("No header row found: the first 50 lines have fewer than two columns.")
