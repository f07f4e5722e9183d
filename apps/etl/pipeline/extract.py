"""Extract: a file -> the work table `raw` (extracted.py says what it holds).

The one registry of the file formats the product reads: each one's suffixes, the first
bytes a file of it starts with, and its reader. The upload checks (apps/uploads/checks.py)
and the extract stage both ask it, so a file the upload accepts is one the stage can read.
A new format is one entry here and a reader beside csv_reader.py and excel.py.
"""

import codecs
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePath

import duckdb

from apps.etl.pipeline.csv_reader import extract_csv
from apps.etl.pipeline.excel import extract_excel
from apps.etl.pipeline.extracted import Extracted, ExtractError, HeaderScore
from apps.etl.pipeline.typed_read import Planner

HEAD_BYTES = 8 * 1024  # what the upload checks look at: the web request never parses rows
ZIP_MAGIC = b"PK\x03\x04"
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy .xls (and .doc, .msi ...)
# Files people rename to .csv by mistake, by their first bytes.
BINARY_MAGIC = {
    ZIP_MAGIC: "a ZIP archive or an Excel workbook (.xlsx)",
    OLE2_MAGIC: "a legacy Office file (.xls or .doc)",
    b"%PDF": "a PDF document",
    b"MZ": "a Windows program",
    b"\x7fELF": "a program",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"\x1f\x8b": "a gzip archive",
    b"7z\xbc\xaf": "a 7-Zip archive",
    b"Rar!": "a RAR archive",
    b"PAR1": "a Parquet file",
}


@dataclass(frozen=True)
class ReadRequest:
    """How the stage is asked to read one file (`sheet`: workbooks; `plan`: CSV)."""

    work_dir: Path
    header_score: HeaderScore
    sheet: str | None = None
    plan: Planner | None = None


Reader = Callable[[duckdb.DuckDBPyConnection, Path, ReadRequest], Extracted]


def _read_text(con: duckdb.DuckDBPyConnection, path: Path, request: ReadRequest) -> Extracted:
    return extract_csv(con, path, work_dir=request.work_dir, header_score=request.header_score, plan=request.plan)


def _read_workbook(con: duckdb.DuckDBPyConnection, path: Path, request: ReadRequest) -> Extracted:
    return extract_excel(con, path, header_score=request.header_score, sheet=request.sheet, work_dir=request.work_dir)


def _text_problem(head: bytes) -> str:
    for magic, kind in BINARY_MAGIC.items():
        if head.startswith(magic):
            return f"is not a text file: it looks like {kind}. Upload CSV/TSV text or XLSX."
    # UTF-16 text is full of NUL bytes and is fine; anything else with NULs is binary.
    if b"\x00" in head and not head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "is not a text file: it holds binary (NUL) bytes. Upload CSV/TSV text or XLSX."
    return ""


@dataclass(frozen=True)
class FileFormat:
    label: str
    suffixes: tuple[str, ...]
    reader: Reader
    # Whether the first bytes fit the format: '' when they do, else why not (after the name).
    head_problem: Callable[[bytes], str]


FORMATS = (
    FileFormat("CSV text", (".csv", ".tsv", ".txt"), _read_text, _text_problem),
    FileFormat(
        "Excel workbook",
        (".xlsx", ".xlsm"),
        _read_workbook,
        lambda head: (
            ""
            if head.startswith(ZIP_MAGIC)
            else "is not an Excel workbook: an .xlsx file is a ZIP package, this one is not."
        ),
    ),
    FileFormat(
        "Excel 97-2003 workbook",
        (".xls",),
        _read_workbook,
        lambda head: (
            ""
            if head.startswith((OLE2_MAGIC, ZIP_MAGIC))
            else "is not an Excel workbook: its first bytes are not those of an .xls file."
        ),
    ),
)
ACCEPTED_SUFFIXES = frozenset(s for f in FORMATS for s in f.suffixes)


def suffix_of(name: str) -> str:
    return PurePath(name.replace("\\", "/")).suffix.lower()


def format_of(name: str) -> FileFormat | None:
    """The format a file name says, by its suffix; None for one the product does not read."""
    suffix = suffix_of(name)
    return next((f for f in FORMATS if suffix in f.suffixes), None)


def extract(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    *,
    file_name: str,
    work_dir: Path,
    header_score: HeaderScore,
    sheet: str | None = None,
    plan: Planner | None = None,
) -> Extracted:
    """The file's records into `raw`, read by its format's reader. `plan` (CSV only) may have
    the reader type number and date columns (typed_read.py); without it every cell is text."""
    found = format_of(file_name)
    if found is None:
        raise ExtractError(f"Unsupported file type '{suffix_of(file_name)}'. Upload CSV, TSV, XLSX or XLS.")
    request = ReadRequest(work_dir=work_dir, header_score=header_score, sheet=sheet, plan=plan)
    return found.reader(con, path, request)
