"""Hostile and broken files, as real users and attackers send them, and what each must end as.

`hostile_files(folder)` writes every file into `folder` and returns them. Each names the
outcome it must reach:

- `refused`: the upload is refused at the door with a message (nothing stored);
- `failed`: stored, then the ETL ends `failed` with a message saying why;
- `partial`: stored and loaded in part (`loaded_with_errors`), the bad rows rejected with reasons;
- `rejected`: stored, every row checked, too many bad (over the schema's limit): nothing loaded;
- `loaded`: stored and loaded whole (the hostile part is only text, kept as text).

Big files are written in streams: the zip bomb's sheet decompresses to 1 GiB but is never
held in memory, here or in the app.
"""

import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"
ROW = "550644,22722,SPICE TINS,7,4/19/2011 16:19,3.95,12733,USA"
GOOD = "\n".join([HEADER, ROW, "550645,22979,WASHING UP BRUSH,2,4/19/2011 16:19,1.45,12733,USA"]) + "\n"
BOMB_BYTES = 1024**3  # what the zip bomb's sheet decompresses to


@dataclass(frozen=True)
class HostileFile:
    name: str  # the name the browser sends (may itself be hostile)
    path: Path
    expect: str  # refused | failed | partial | loaded
    what: str  # the row of docs/reliability.md


def _csv(*rows: str) -> bytes:
    return ("\n".join([HEADER, *rows]) + "\n").encode()


def _row(**cells: str) -> str:
    values = dict(zip(HEADER.split(","), ROW.split(","), strict=True))
    values.update(cells)
    return ",".join(values.values())


def _good(count: int) -> list[str]:
    return [_row(InvoiceNo=str(900000 + i)) for i in range(count)]


def _xlsx(rows: list[list], *, sheets: dict[str, list[list]] | None = None) -> bytes:
    import openpyxl

    book = openpyxl.Workbook()
    book.active.title = "Sales"
    for row in rows:
        book.active.append(row)
    for title, extra in (sheets or {}).items():
        sheet = book.create_sheet(title)
        for row in extra:
            sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _xlsx_rows() -> list[list]:
    return [HEADER.split(","), [550644, "22722", "SPICE TINS", 7, "4/19/2011 16:19", 3.95, 12733, "USA"]]


def _xlsx_without_sheets() -> bytes:
    """A workbook package whose workbook.xml lists no sheet at all."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(_xlsx(_xlsx_rows()))) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "xl/workbook.xml":
                text = data.decode()
                start, end = text.index("<sheets>"), text.index("</sheets>") + len("</sheets>")
                data = (text[:start] + "<sheets/>" + text[end:]).encode()
            if item.filename.startswith("xl/worksheets/"):
                continue
            dst.writestr(item, data)
    return out.getvalue()


def _lying_zip_bomb(path: Path) -> None:
    """A 256 MiB sheet whose zip headers say it unpacks to 1,000 bytes."""
    _zip_bomb(path, size=BOMB_BYTES // 4)
    data = bytearray(path.read_bytes())
    for signature, size_at in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = data.find(signature)
        while at != -1:
            name_at = at + (30 if signature == b"PK\x03\x04" else 46)
            if data[name_at : name_at + 24] == b"xl/worksheets/sheet1.xml":
                data[at + size_at : at + size_at + 4] = (1000).to_bytes(4, "little")
            at = data.find(signature, at + 4)
    path.write_bytes(bytes(data))


def _zip_bomb(path: Path, *, size: int = BOMB_BYTES) -> None:
    """A real workbook whose one sheet XML is `size` bytes of identical rows: ~3.5 MB per GiB zipped."""
    template = _xlsx(_xlsx_rows())
    row = b'<row><c t="inlineStr"><is><t>1</t></is></c><c t="inlineStr"><is><t>A</t></is></c></row>' * 64
    with zipfile.ZipFile(io.BytesIO(template)) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            if item.filename != "xl/worksheets/sheet1.xml":
                dst.writestr(item.filename, src.read(item))
                continue
            with dst.open(item.filename, "w", force_zip64=size > 2**31) as sheet:
                sheet.write(b'<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/')
                sheet.write(b'spreadsheetml/2006/main"><sheetData>')
                written = 0
                while written < size:
                    sheet.write(row)
                    written += len(row)
                sheet.write(b"</sheetData></worksheet>")


def _every_row_bad(path: Path) -> None:
    with path.open("w") as fh:
        fh.write(HEADER + "\n")
        for i in range(50_000):
            fh.write(f"{i},X{i},THING,many,not a date,free,,Atlantis\n")


def _duplicates(path: Path) -> None:
    with path.open("w") as fh:
        fh.write(HEADER + "\n")
        fh.write((ROW + "\n") * 5_000)


def _wide_header(path: Path) -> None:
    with path.open("w") as fh:
        fh.write(HEADER + "," + ",".join(f"extra_{i}" for i in range(100_000 - 8)) + "\n")
        fh.write(ROW + "," * (100_000 - 8) + "\n")


def _big_cell(path: Path) -> None:
    path.write_bytes(_csv(_row(Description="A" * 1024 * 1024)))


def _big_cell_first(path: Path) -> None:
    """1 MB with no line break before it: the header is not in the first 64 KB."""
    path.write_bytes(b"B" * 1024 * 1024 + b"\n" + GOOD.encode())


# name -> (expect, what, bytes or a writer of the file)
Content = bytes | Callable[[Path], None]
CASES: list[tuple[str, str, str, Content]] = [
    # Refused at upload: nothing a sales file can be.
    ("empty.csv", "refused", "0-byte file", b""),
    ("image.csv", "refused", "PNG renamed .csv", b"\x89PNG\r\n\x1a\n" + b"\x00" * 200),
    ("program.csv", "refused", "ELF program renamed .csv", b"\x7fELF\x02\x01\x01" + b"\x00" * 200),
    ("report.csv", "refused", "PDF renamed .csv", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n"),
    ("nul.csv", "refused", "NUL bytes in a .csv", _csv(ROW)[:60] + b"\x00\x00\x00" + _csv(ROW)[60:]),
    ("legacy.xlsx", "refused", ".xls (OLE2) named .xlsx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600),
    ("text.xlsx", "refused", "CSV named .xlsx", GOOD.encode()),
    ("../../etc/passwd", "refused", "path traversal, no suffix", b"root:x:0:0:root:/root:/bin/bash\n"),
    ("sales.exe", "refused", "unknown suffix", b"MZ\x90\x00"),
    ("sales\u202excs.exe", "refused", "RTL override hiding .exe", b"MZ\x90\x00"),
    # Stored, then failed with a reason.
    ("truncated.xlsx", "failed", "XLSX cut in half", lambda p: p.write_bytes(_xlsx(_xlsx_rows())[:3000])),
    ("bomb.xlsx", "failed", "zip bomb: 1 GiB sheet in 3.6 MB", _zip_bomb),
    ("liar.xlsx", "failed", "zip bomb whose headers claim 1,000 bytes", _lying_zip_bomb),
    ("no_sheets.xlsx", "failed", "XLSX with no sheets", _xlsx_without_sheets()),
    ("empty_sheet.xlsx", "failed", "XLSX with one empty sheet", lambda p: p.write_bytes(_xlsx([]))),
    (
        "pivot_only.xlsx",
        "failed",
        "XLSX with only a pivot/summary sheet",
        lambda p: p.write_bytes(_xlsx([["Country", "Total"], ["USA", 1200], ["France", 800]])),
    ),
    ("only_header.csv", "failed", "header only", (HEADER + "\n").encode()),
    ("wide_short.csv", "failed", "header of 20,000 columns in 64 KB", (HEADER + ",x" * 20_000 + "\n" + ROW).encode()),
    ("only_header_bom.csv", "failed", "header only, with BOM", b"\xef\xbb\xbf" + (HEADER + "\r\n").encode()),
    ("blank.csv", "failed", "only blank lines", b"\n\n\r\n  \n"),
    ("wide.csv", "failed", "header of 100,000 columns", _wide_header),
    ("big_cell_first.csv", "failed", "1 MB first line, no header in the first 64 KB", _big_cell_first),
    ("no_columns.csv", "failed", "one column only", b"hello\nworld\n"),
    ("wrong_headers.csv", "needs_mapping", "headers name no schema field", b"a,b,c\n1,2,3\n"),
    # Loaded in part, with reasons; or whole, the hostile text kept as text.
    ("big_cell.csv", "loaded", "1 MB single cell", _big_cell),
    ("huge_cell.csv", "failed", "3 MB single cell", _csv(*_good(3), _row(Description="A" * 3 * 1024 * 1024))),
    (
        "bad_utf8.csv",
        "loaded",
        "invalid UTF-8 in the middle",
        _csv(ROW, _row(Description="CAF\xc9"), ROW.replace("550644", "550646")).replace(b"CAF\xc3\x89", b"CAF\xc9"),
    ),
    (
        "late_bad_utf8.csv",
        "loaded",
        "invalid UTF-8 past the first 64 KB",
        _csv(*_good(2000), _row(InvoiceNo="77", Description="CAF\xc9")).replace(b"CAF\xc3\x89", b"CAF\xc9"),
    ),
    ("mixed_delims.csv", "rejected", "mixed delimiters", _csv(ROW, ROW.replace(",", ";"), ROW.replace(",", "\t"))),
    (
        "formulas.csv",
        "loaded",
        "formula values",
        _csv(
            _row(Description='"=HYPERLINK(""http://evil.example"",""click"")"'),
            _row(InvoiceNo="550650", Description="+cmd|' /C calc'!A0"),
            _row(InvoiceNo="550651", Description="@SUM(1+1)*cmd|' /C calc'!A0"),
            _row(InvoiceNo="550652", Description="-2+3"),
        ),
    ),
    (
        "html.csv",
        "loaded",
        "HTML and <script> in product names",
        _csv(
            _row(Description="<script>alert(1)</script>"),
            _row(InvoiceNo="550653", StockCode="X1", Description="<img src=x onerror=alert(2)>"),
        ),
    ),
    ("<script>alert('name')</script>.csv", "loaded", "<script> in the file name", GOOD.encode()),
    (
        "dates.csv",
        "partial",
        "impossible dates",
        _csv(
            *_good(10),
            _row(InvoiceNo="2", InvoiceDate="31/02/2024"),
            _row(InvoiceNo="3", InvoiceDate="00/00/0000"),
            _row(InvoiceNo="4", InvoiceDate="2024-13-45"),
            _row(InvoiceNo="5", InvoiceDate="99999-01-01"),
        ),
    ),
    (
        "numbers.csv",
        "partial",
        "1e308, NaN, inf, -0 and friends",
        _csv(
            *_good(10),
            _row(InvoiceNo="2", UnitPrice="1e308"),
            _row(InvoiceNo="3", UnitPrice="NaN"),
            _row(InvoiceNo="4", UnitPrice="inf"),
            _row(InvoiceNo="5", UnitPrice="-inf"),
            _row(InvoiceNo="6", UnitPrice="-0"),
            _row(InvoiceNo="7", Quantity="1e308"),
            _row(InvoiceNo="8", Quantity="99999999999999999999999"),
            _row(InvoiceNo="9", Quantity="NaN"),
        ),
    ),
    ("duplicates.csv", "loaded", "5,000 identical rows", _duplicates),
    (
        "crlf_mixed.csv",
        "loaded",
        "CRLF and LF mixed",
        (HEADER + "\r\n" + ROW + "\n" + _row(InvoiceNo="2") + "\r\n").encode(),
    ),
    (
        "unclosed_quote.csv",
        "partial",
        "a quote never closed",
        _csv(ROW, _row(InvoiceNo="2", Description='"never closed'), ROW),
    ),
    ("a" * 300 + ".csv", "loaded", "file name of 304 characters", GOOD.encode()),
    ("\u00e9" * 300 + ".csv", "loaded", "file name of 600 bytes in UTF-8", GOOD.encode()),
    ("../../etc/passwd.csv", "loaded", "path traversal file name", GOOD.encode()),
    ("sales\u202evsc.csv", "loaded", "RTL override in the name", GOOD.encode()),
    ("every_row_bad.csv", "rejected", "50,000 rows, every one bad", _every_row_bad),
    ("short_rows.csv", "partial", "rows with fewer and more fields", _csv(*_good(4), "1,2,3", ROW + ",x,y")),
    ("utf16.csv", "loaded", "UTF-16 with BOM", GOOD.encode("utf-16")),
    ("latin1.csv", "loaded", "cp1252 text", _csv(_row(Description="CAFÉ crème")).decode().encode("cp1252")),
    ("empty_cells.csv", "partial", "required cells empty", _csv(ROW, ",,,,,,,", _row(InvoiceNo="", StockCode=""))),
    ("only_spaces.xlsx", "failed", "XLSX of blank cells", lambda p: p.write_bytes(_xlsx([[" ", " "], [" ", ""]]))),
    ("good.xlsx", "loaded", "a good XLSX (control)", lambda p: p.write_bytes(_xlsx(_xlsx_rows()))),
    ("good.csv", "loaded", "a good CSV (control)", GOOD.encode()),
]


def hostile_files(folder: Path) -> list[HostileFile]:
    """Every case written under `folder` (as file_<n> with the case's suffix)."""
    files = []
    for index, (name, expect, what, content) in enumerate(CASES):
        suffix = Path(name.replace("\\", "/")).suffix[:8]
        path = folder / f"file_{index:02d}{suffix}"
        if callable(content):
            content(path)
        else:
            path.write_bytes(content)
        files.append(HostileFile(name, path, expect, what))
    return files


def case_names() -> list[str]:
    return [what for _, _, what, _ in CASES]
