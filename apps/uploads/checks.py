"""What an uploaded file must look like before it is stored: a known suffix, not empty,
within the size limit, and bytes that fit its suffix. Only the first bytes are looked at:
the web request never parses rows (the worker does)."""

import codecs
from pathlib import PurePath

from django.conf import settings
from django.core.exceptions import ValidationError
from django.template.defaultfilters import filesizeformat

TEXT_SUFFIXES = {".csv", ".tsv", ".txt"}
ZIP_SUFFIXES = {".xlsx", ".xlsm"}
ALLOWED_SUFFIXES = TEXT_SUFFIXES | ZIP_SUFFIXES | {".xls"}
HEAD_BYTES = 8 * 1024
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


def check_name(name: str) -> None:
    suffix = PurePath(name.replace("\\", "/")).suffix.lower()
    if suffix not in ALLOWED_SUFFIXES:
        accepted = ", ".join(sorted(ALLOWED_SUFFIXES))
        raise ValidationError(f"'{name}' is not a CSV or Excel file. Accepted: {accepted}.")


def check_size(name: str, size: int) -> None:
    if size == 0:
        raise ValidationError(f"'{name}' is empty.")
    limit = settings.UPLOAD_MAX_BYTES
    if size > limit:
        raise ValidationError(f"'{name}' is {filesizeformat(size)}; the limit is {filesizeformat(limit)}.")


def check_content(name: str, head: bytes) -> None:
    """Refuse bytes that cannot be what the suffix says (a binary renamed .csv, a text
    file renamed .xlsx), with what the file seems to be."""
    suffix = PurePath(name.replace("\\", "/")).suffix.lower()
    if suffix in ZIP_SUFFIXES and not head.startswith(ZIP_MAGIC):
        raise ValidationError(f"'{name}' is not an Excel workbook: an .xlsx file is a ZIP package, this one is not.")
    if suffix == ".xls" and not head.startswith((OLE2_MAGIC, ZIP_MAGIC)):
        raise ValidationError(f"'{name}' is not an Excel workbook: its first bytes are not those of an .xls file.")
    if suffix in TEXT_SUFFIXES:
        _check_text(name, head)


def _check_text(name: str, head: bytes) -> None:
    for magic, kind in BINARY_MAGIC.items():
        if head.startswith(magic):
            raise ValidationError(f"'{name}' is not a text file: it looks like {kind}. Upload CSV/TSV text or XLSX.")
    # UTF-16 text is full of NUL bytes and is fine; anything else with NULs is binary.
    if b"\x00" in head and not head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise ValidationError(f"'{name}' is not a text file: it holds binary (NUL) bytes. Upload CSV/TSV text or XLSX.")
