"""Extract: a file's bytes -> an Arrow table of text cells, one row per record.

Every cell stays text here: parsing numbers and dates is the next stages' job, so that a
bad cell becomes a reasoned rejection rather than a failed read. Each row carries
`source_row`, its 1-based row number in the file as a spreadsheet would show it.
"""

import codecs
import csv
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

SOURCE_ROW = "source_row"
CSV_SUFFIXES = {".csv", ".tsv", ".txt"}
EXCEL_SUFFIXES = {".xlsx", ".xlsm", ".xls"}
SNIFF_BYTES = 64 * 1024


class ExtractError(Exception):
    """The file cannot be read at all (as opposed to bad rows, which are data)."""


@dataclass(frozen=True)
class BadRecord:
    source_row: int | None
    text: str
    reason: str


@dataclass
class Extracted:
    table: pa.Table  # text columns named as in the file (made unique), plus source_row
    headers: list[str]
    rows_read: int
    bad_records: list[BadRecord] = field(default_factory=list)
    details: dict[str, str] = field(default_factory=dict)


def extract(path: Path, *, file_name: str) -> Extracted:
    suffix = Path(file_name).suffix.lower()
    if suffix in CSV_SUFFIXES:
        return extract_csv(path)
    if suffix in EXCEL_SUFFIXES:
        return extract_excel(path)
    raise ExtractError(f"Unsupported file type '{suffix}'. Upload CSV, TSV, XLSX or XLS.")


def extract_csv(path: Path) -> Extracted:
    with open(path, "rb") as fh:
        head = fh.read(SNIFF_BYTES)
    if not head.strip():
        raise ExtractError("The file is empty.")
    encoding = detect_encoding(head)
    text_head = head.decode(encoding, errors="replace")
    lines = text_head.splitlines()
    header_index = _header_line_index(lines)
    delimiter = _detect_delimiter("\n".join(lines[header_index : header_index + 50]))
    headers = next(csv.reader([lines[header_index]], delimiter=delimiter))
    names = unique_names(headers)

    bad: list[BadRecord] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        bad.append(
            BadRecord(
                source_row=row.number,
                text=row.text[:500],
                reason=f"has {row.actual_columns} fields where the header has {row.expected_columns}",
            )
        )
        return "skip"

    try:
        table = pacsv.read_csv(
            path,
            # One thread: only a serial read tells the invalid-row handler each row's number.
            read_options=pacsv.ReadOptions(
                encoding=encoding, skip_rows=header_index + 1, column_names=names, use_threads=False
            ),
            parse_options=pacsv.ParseOptions(
                delimiter=delimiter,
                newlines_in_values=True,
                ignore_empty_lines=False,
                invalid_row_handler=on_invalid,
            ),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.string() for n in names}, strings_can_be_null=False
            ),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        raise ExtractError(f"The file could not be read as {encoding} CSV: {exc}") from exc
    first_data_row = header_index + 2
    return _finish(
        table,
        headers,
        first_data_row,
        bad,
        {"encoding": encoding, "delimiter": delimiter, "header_row": str(header_index + 1)},
    )


def extract_excel(path: Path) -> Extracted:
    import fastexcel

    try:
        reader = fastexcel.read_excel(path)
        sheet = reader.load_sheet(0, dtypes="string")
        table = sheet.to_arrow()
    except fastexcel.FastExcelError as exc:
        raise ExtractError(f"The workbook could not be read: {exc}") from exc
    headers = [str(n) for n in table.column_names]
    table = table.rename_columns(unique_names(headers))
    table = pa.table(
        {n: pc.fill_null(c.cast(pa.string()), "") for n, c in zip(table.column_names, table.columns, strict=True)}
    )
    return _finish(table, headers, 2, [], {"sheet": reader.sheet_names[0]})


def _finish(table: pa.Table, headers: list[str], first_data_row: int, bad: list[BadRecord], details: dict) -> Extracted:
    """Number the rows (around the bad records' numbers), then drop the blank ones (not records)."""
    rows = pa.array(range(first_data_row, first_data_row + table.num_rows + len(bad)), pa.int64())
    rows = rows.filter(pc.invert(pc.is_in(rows, value_set=pa.array([b.source_row for b in bad], pa.int64()))))
    table = table.append_column(SOURCE_ROW, rows.slice(0, table.num_rows))
    if table.num_columns > 1:
        blank = None
        for name in table.column_names[:-1]:
            empty = pc.equal(pc.utf8_trim_whitespace(table[name]), "")
            blank = empty if blank is None else pc.and_(blank, empty)
        table = table.filter(pc.invert(blank))
    return Extracted(
        table=table,
        headers=headers,
        rows_read=table.num_rows + len(bad),
        bad_records=bad,
        details=details,
    )


def detect_encoding(head: bytes) -> str:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    # The sample may end inside a multi-byte character; ignore a cut tail.
    sample = head if len(head) < SNIFF_BYTES else head[:-4]
    try:
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        return "cp1252"


def _header_line_index(lines: list[str]) -> int:
    """The first line that looks like a header: skip blank lines and one-cell title lines."""
    for index, line in enumerate(lines[:50]):
        cells = [c for c in _split_any(line) if c.strip()]
        if len(cells) >= 2:
            return index
    raise ExtractError("No header row found: the first 50 lines have fewer than two columns.")


def _split_any(line: str) -> list[str]:
    delimiter = max(",;\t|", key=line.count)
    return line.split(delimiter)


def _detect_delimiter(sample: str) -> str:
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        return max(",;\t|", key=sample.splitlines()[0].count)


def unique_names(headers: list[str]) -> list[str]:
    """Column names as given, made unique and non-empty so Arrow can address them."""
    seen: dict[str, int] = {}
    names = []
    for index, header in enumerate(headers):
        name = header.strip() or f"column_{index + 1}"
        count = seen.get(name, 0)
        seen[name] = count + 1
        names.append(name if count == 0 else f"{name}_{count + 1}")
    return names
