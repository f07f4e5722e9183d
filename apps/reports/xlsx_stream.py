"""An XLSX workbook of one sheet, written as its rows arrive and sent as it is written.

openpyxl (even write-only) builds the whole package before its first byte can be sent, so a
client that gives up is noticed only once the workbook is done. Here the package's parts
are written into a ZIP stream (zipfile on an unseekable sink: sizes go in data
descriptors, as Java's and POI's streaming writers do), and whatever the compressor has
produced is handed on after each block of rows: the server writes it to the client, and a
client that has gone away ends the generator there.

Cells: text inline (neutralised and XML-escaped, characters XML cannot hold replaced by
U+FFFD, cut at Excel's 32,767 characters), numbers as numbers, booleans as booleans, dates
and times as Excel serial numbers with an ISO format (before 1900, as ISO text: Excel has
no such dates).
"""

import math
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime
from decimal import Decimal
from xml.sax.saxutils import escape

# Excel's limits: rows per sheet (the header included), characters per cell.
MAX_ROWS = 1_048_576
MAX_TEXT = 32_767
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_EPOCH = datetime(1899, 12, 30)
_FIRST_DAY = date(1900, 3, 1)  # Excel's serials are right from here on (its 1900 leap-year bug)
_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG = "http://schemas.openxmlformats.org/package/2006"
_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_CONTENT_TYPES = (
    f'{_HEAD}<Types xmlns="{_PKG}/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/styles.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
    "</Types>"
)
_ROOT_RELS = (
    f'{_HEAD}<Relationships xmlns="{_PKG}/relationships">'
    f'<Relationship Id="rId1" Type="{_REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
)
_WORKBOOK_RELS = (
    f'{_HEAD}<Relationships xmlns="{_PKG}/relationships">'
    f'<Relationship Id="rId1" Type="{_REL}/worksheet" Target="worksheets/sheet1.xml"/>'
    f'<Relationship Id="rId2" Type="{_REL}/styles" Target="styles.xml"/></Relationships>'
)
# Style 1: a date (yyyy-mm-dd), style 2: a date and time, as openpyxl formats them.
_STYLES = (
    f'{_HEAD}<styleSheet xmlns="{_MAIN}">'
    '<numFmts count="2"><numFmt numFmtId="164" formatCode="yyyy-mm-dd"/>'
    '<numFmt numFmtId="165" formatCode="yyyy-mm-dd h:mm:ss"/></numFmts>'
    '<fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="3"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)


def _letters(index: int) -> str:
    name = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        name = chr(65 + rest) + name
    return name


def _text_cell(ref: str, text: str) -> str:
    text = escape(_NOT_XML.sub("\ufffd", text[:MAX_TEXT]))
    return f'<c r="{ref}" t="inlineStr"><is><t xml:space="preserve">{text}</t></is></c>'


def _cell(ref: str, value, neutralise: Callable[[str], str]) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        return _text_cell(ref, neutralise(value))
    if isinstance(value, bool):
        return f'<c r="{ref}" t="b"><v>{int(value)}</v></c>'
    if isinstance(value, int):
        return f'<c r="{ref}"><v>{value}</v></c>'
    if isinstance(value, float | Decimal):
        number = float(value)
        return f'<c r="{ref}"><v>{number!r}</v></c>' if math.isfinite(number) else _text_cell(ref, str(value))
    if isinstance(value, datetime):
        value = value.replace(tzinfo=None)  # Excel has no time zones; the fact table is UTC
        if value.date() < _FIRST_DAY:
            return _text_cell(ref, value.isoformat(sep=" "))
        return f'<c r="{ref}" s="2"><v>{(value - _EPOCH).total_seconds() / 86400!r}</v></c>'
    if isinstance(value, date):
        if value < _FIRST_DAY:
            return _text_cell(ref, value.isoformat())
        return f'<c r="{ref}" s="1"><v>{(value - _EPOCH.date()).days}</v></c>'
    return _text_cell(ref, str(value))


class _Sink:
    """Where zipfile writes: the bytes wait here until the generator hands them on."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def drain(self) -> bytes:
        data, self.parts = b"".join(self.parts), []
        return data


def xlsx_stream(
    columns: Iterable[str], blocks: Iterable[Iterable[list]], *, title: str, neutralise: Callable[[str], str]
) -> Iterator[bytes]:
    """The workbook's bytes: a header row of `columns`, then the rows of each block; bytes
    are handed on after each block. At most MAX_ROWS rows in all (the caller checks)."""
    sink = _Sink()
    package = zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1)
    sheet_name = escape(re.sub(r"[\[\]:*?/\\]", " ", title)[:31], {'"': "&quot;"})
    package.writestr("[Content_Types].xml", _CONTENT_TYPES)
    package.writestr("_rels/.rels", _ROOT_RELS)
    package.writestr(
        "xl/workbook.xml",
        f'{_HEAD}<workbook xmlns="{_MAIN}" xmlns:r="{_REL}"><sheets>'
        f'<sheet name="{sheet_name}" sheetId="1" r:id="rId1"/></sheets></workbook>',
    )
    package.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
    package.writestr("xl/styles.xml", _STYLES)
    header = list(columns)
    letters = [_letters(i) for i in range(len(header))]
    with package.open("xl/worksheets/sheet1.xml", "w") as sheet:
        sheet.write(f'{_HEAD}<worksheet xmlns="{_MAIN}"><sheetData>'.encode())
        sheet.write(_row(1, letters, header, str).encode())
        number = 1
        yield sink.drain()
        for block in blocks:
            text = []
            for row in block:
                number += 1
                text.append(_row(number, letters, row, neutralise))
            sheet.write("".join(text).encode())
            yield sink.drain()
        sheet.write(b"</sheetData></worksheet>")
    package.close()
    yield sink.drain()


def _row(number: int, letters: list[str], values: Iterable, neutralise: Callable[[str], str]) -> str:
    cells = "".join(_cell(f"{ref}{number}", value, neutralise) for ref, value in zip(letters, values, strict=False))
    return f'<row r="{number}">{cells}</row>'
