"""A big worksheet cut into pieces that calamine reads side by side, one per core.

calamine parses a sheet on one thread: 1.1 s for 500,000 rows, while the machine's other
cores wait. A sheet's rows stand alone in its XML (`<row r="250001">...</row>`; a formula
cell carries its cached value), so the rows can be cut into consecutive runs. Each run
becomes a small workbook of its own: the package's parts (styles, shared strings) copied as
they are, the sheet's opening (`<worksheet>`... `<sheetData>`), then a copy of the header
row placed just above the run's first row, then the run. calamine then reads each piece
with the header row it expects, and each row keeps the number it has in the sheet.

The pieces are written while the sheet is inflated (ISA-L) and deflated again (ISA-L,
level 1); the first piece is read as soon as it is written, while the next one is still
being written. Whatever does not look like a plain sheet (no row numbers, a header row
that cannot be found) gives no pieces, and the sheet is read whole as before.
"""

import re
import struct
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from xml.etree import ElementTree

from isal import isal_zlib

# Below this much sheet XML (about 50,000 rows) a whole read takes a tenth of a second and
# pieces would not pay for their writing.
SPLIT_FROM_BYTES = 24 * 1024 * 1024
# The first piece is read while the second is written, so it is given more of the rows.
FIRST_SHARE = 0.55
# The header row is among the first rows: its XML must show up in the first few megabytes.
HEAD_LIMIT = 8 * 1024 * 1024
# Parts no value depends on, and which may be big: left out of the pieces.
LEFT_OUT = ("xl/media/", "xl/pivotCache/", "xl/drawings/", "xl/charts/", "xl/embeddings/")
# A zip part's local header: signature ... file name length, extra field length.
LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")
STEP = 1024 * 1024
# A row tag longer than this is not looked for across two chunks (they run to ~150 bytes).
TAG_TAIL = 4096
ROW_TAG = re.compile(rb'<row\b[^>]*?\sr="(\d+)"[^>]*>')
MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
RELATIONSHIP_ID = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
RELS = "{http://schemas.openxmlformats.org/package/2006/relationships}"


@dataclass(frozen=True)
class Piece:
    path: Path
    header_row: int  # the row number of the header (or of its copy) in this piece


def part_data_offset(raw, part: zipfile.ZipInfo) -> int:
    """Where a part's bytes start in the package open as `raw`: after its local header,
    name and extra field (the extra field may differ from the central directory's)."""
    raw.seek(part.header_offset)
    local = raw.read(LOCAL_HEADER.size)
    if len(local) < LOCAL_HEADER.size or local[:4] != b"PK\x03\x04":
        raise zipfile.BadZipFile(f"{part.filename} has no local header")
    name_length, extra_length = LOCAL_HEADER.unpack(local)[-2:]
    return part.header_offset + LOCAL_HEADER.size + name_length + extra_length


def sheet_part(package: zipfile.ZipFile, sheet: str) -> str | None:
    """The package part holding the worksheet named `sheet`: workbook.xml names its sheets,
    the workbook's relationships say where each one is."""
    try:
        names = set(package.namelist())
        root = next(
            (r.get("Target", "").lstrip("/") for r in _relationships(package, "_rels/.rels") if _is_document(r)),
            "xl/workbook.xml",
        )
        folder = PurePosixPath(root).parent
        workbook = ElementTree.fromstring(package.read(root))
        ids = [s.get(RELATIONSHIP_ID) for s in workbook.iter(f"{MAIN}sheet") if s.get("name") == sheet]
        rels = f"{folder}/_rels/{PurePosixPath(root).name}.rels"
        targets = {r.get("Id"): r.get("Target", "") for r in _relationships(package, rels)}
    except (KeyError, ElementTree.ParseError):
        return None
    if len(ids) != 1 or ids[0] not in targets:
        return None
    target = targets[ids[0]]
    part = target.lstrip("/") if target.startswith("/") else str(folder / target)
    return part if part in names else None


def _relationships(package: zipfile.ZipFile, name: str) -> list[ElementTree.Element]:
    return list(ElementTree.fromstring(package.read(name)).iter(f"{RELS}Relationship"))


def _is_document(rel: ElementTree.Element) -> bool:
    return rel.get("Type", "").endswith("/officeDocument")


def cut_sheet(path: Path, sheet: str, *, header_row: int, work_dir: Path, pieces: int = 2) -> Iterator[Piece]:
    """Yields the pieces of `sheet` of the workbook at `path`, each as soon as it is written;
    yields nothing when the sheet is small or not plain enough to be cut (read it whole).

    `header_row` is the header's row number in the sheet; every piece after the first gets
    a copy of it right above its first row.
    """
    with zipfile.ZipFile(path) as package:
        part = sheet_part(package, sheet)
        if part is None:
            return
        info = package.getinfo(part)
        if info.file_size < SPLIT_FROM_BYTES or info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            return
        others = [p for p in package.infolist() if p.filename != part and not _left_out(p.filename)]
        shares = [FIRST_SHARE] + [(1 - FIRST_SHARE) / (pieces - 1)] * (pieces - 1)
        cuts = [int(info.file_size * sum(shares[: i + 1])) for i in range(pieces - 1)]
        writer = None
        opening = b""  # the sheet's XML up to its first row, given to every piece
        header = b""  # the header row's XML
        pending = b""  # bytes read, not yet written
        number = 0
        for chunk in inflated(path, info):
            pending += chunk
            if not header:
                opening, header, ok = _find_header(pending, header_row)
                if not ok:
                    return  # no such header row, or the sheet is not plain
                if not header:
                    if len(pending) > HEAD_LIMIT:
                        return
                    continue
                writer = _PieceWriter(work_dir / f"piece-{number}.xlsx", path, others, part)
            if number < len(cuts) and writer.size + len(pending) > cuts[number]:
                cut = _next_row(pending, max(0, cuts[number] - writer.size))
                if cut is None:
                    # No complete row tag yet: write all but a tail that may hold its start.
                    keep = max(0, len(pending) - TAG_TAIL)
                    writer.write(pending[:keep])
                    pending = pending[keep:]
                    continue
                position, row = cut
                if row - 1 <= header_row:
                    return
                writer.write(pending[:position] + b"</sheetData></worksheet>")
                writer.close()
                yield Piece(writer.path, header_row if number == 0 else writer.copied_row)
                number += 1
                writer = _PieceWriter(work_dir / f"piece-{number}.xlsx", path, others, part, copied_row=row - 1)
                writer.write(opening + _renumbered(header, header_row, row - 1))
                pending = pending[position:]
            writer.write(pending)
            pending = b""
        if writer is None or number == 0:
            if writer is not None:
                writer.abandon()
            return
        writer.write(pending)
        writer.close()
        yield Piece(writer.path, writer.copied_row)


def _left_out(name: str) -> bool:
    return name.startswith(LEFT_OUT) or (name.startswith("xl/worksheets/") and name.endswith(".xml"))


def _find_header(data: bytes, header_row: int) -> tuple[bytes, bytes, bool]:
    """(the sheet's opening, the header row's XML, whether to go on) from the sheet's first
    bytes; no header yet when it has not been read in full."""
    start = data.find(b"<sheetData>")
    if start < 0:
        return b"", b"", len(data) < HEAD_LIMIT and b"<sheetData/>" not in data
    start += len(b"<sheetData>")
    for match in ROW_TAG.finditer(data, start):
        number = int(match.group(1))
        if number > header_row:
            return b"", b"", False
        if number == header_row:
            end = data.find(b"</row>", match.end())
            if end < 0:
                return b"", b"", True
            return data[:start], data[match.start() : end + len(b"</row>")], True
    return b"", b"", len(data) < HEAD_LIMIT


def _next_row(data: bytes, after: int) -> tuple[int, int] | None:
    """(offset, row number) of the first complete row tag at or past `after`."""
    position = data.find(b"<row", after)
    while position >= 0:
        match = ROW_TAG.match(data, position)
        if match:
            return position, int(match.group(1))
        if data.find(b">", position) < 0:
            return None  # the tag goes on in the next chunk
        position = data.find(b"<row", position + 4)
    return None


def _renumbered(header: bytes, old: int, new: int) -> bytes:
    """The header row's XML as row `new`: the row's number and its cells' references."""
    header = re.sub(rb'(<row\b[^>]*?\sr=")%d"' % old, rb'\g<1>%d"' % new, header, count=1)
    return re.sub(rb'(<c\b[^>]*?\sr="[A-Z]{1,3})%d"' % old, rb'\g<1>%d"' % new, header)


def inflated(path: Path, info: zipfile.ZipInfo) -> Iterator[bytes]:
    with open(path, "rb") as raw:
        raw.seek(part_data_offset(raw, info))
        left = info.compress_size
        inflate = isal_zlib.decompressobj(-15) if info.compress_type == zipfile.ZIP_DEFLATED else None
        while left > 0:
            chunk = raw.read(min(STEP, left))
            if not chunk:
                raise EOFError(f"{info.filename} is cut short")
            left -= len(chunk)
            yield inflate.decompress(chunk) if inflate else chunk
        if inflate:
            yield inflate.flush()


class _PieceWriter:
    """A workbook of its own: the original's parts copied byte for byte (no inflating), then
    the piece of the sheet, deflated as it is written; a zip written by hand, since
    zipfile can neither copy a part as it is nor deflate with ISA-L."""

    DIRECTORY_ENTRY = struct.Struct("<4s4B4HL2L5H2L")
    END = struct.Struct("<4s4H2LH")

    def __init__(self, path: Path, source: Path, parts: list[zipfile.ZipInfo], sheet: str, copied_row: int = 0):
        self.path, self.copied_row, self.size = path, copied_row, 0
        self.fh = open(path, "wb")  # noqa: SIM115 (closed by close() or abandon())
        self.entries: list[tuple[bytes, int, int, int, int, int]] = []  # name, method, crc, sizes, offset
        with open(source, "rb") as src:
            for part in parts:
                src.seek(part_data_offset(src, part))
                data = src.read(part.compress_size)
                self._entry(part.filename, part.compress_type, part.CRC, len(data), part.file_size)
                self.fh.write(data)
        self.sheet = sheet.encode()
        self.offset = self.fh.tell()
        self._header(self.sheet, zipfile.ZIP_DEFLATED, 0, 0, 0)
        self.deflate = isal_zlib.compressobj(1, isal_zlib.DEFLATED, -15)
        self.crc = 0
        self.packed = 0

    def _entry(self, name: str, method: int, crc: int, packed: int, size: int) -> None:
        encoded = name.encode()
        self.entries.append((encoded, method, crc, packed, size, self.fh.tell()))
        self._header(encoded, method, crc, packed, size)

    def _header(self, name: bytes, method: int, crc: int, packed: int, size: int) -> None:
        self.fh.write(LOCAL_HEADER.pack(b"PK\x03\x04", 20, 0, 0x800, method, 0, 0x21, crc, packed, size, len(name), 0))
        self.fh.write(name)

    def write(self, data: bytes) -> None:
        self.size += len(data)
        self.crc = isal_zlib.crc32(data, self.crc)
        packed = self.deflate.compress(data)
        self.packed += len(packed)
        self.fh.write(packed)

    def close(self) -> None:
        tail = self.deflate.flush()
        self.packed += len(tail)
        self.fh.write(tail)
        if self.size >= 2**32 or self.packed >= 2**32:
            raise ValueError("a piece of a sheet past 4 GB")  # the package check stops these long before
        end = self.fh.tell()
        self.fh.seek(self.offset)
        self._header(self.sheet, zipfile.ZIP_DEFLATED, self.crc, self.packed, self.size)
        self.entries.append((self.sheet, zipfile.ZIP_DEFLATED, self.crc, self.packed, self.size, self.offset))
        self.fh.seek(end)
        for name, method, crc, packed, size, offset in self.entries:
            fields = (b"PK\x01\x02", 20, 0, 20, 0, 0x800, method, 0, 0x21, crc, packed, size, len(name), 0, 0, 0, 0)
            self.fh.write(self.DIRECTORY_ENTRY.pack(*fields, 0, offset))
            self.fh.write(name)
        directory = self.fh.tell() - end
        self.fh.write(self.END.pack(b"PK\x05\x06", 0, 0, len(self.entries), len(self.entries), directory, end, 0))
        self.fh.close()

    def abandon(self) -> None:
        self.fh.close()
        self.path.unlink(missing_ok=True)
