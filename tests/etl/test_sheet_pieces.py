"""A big sheet read in pieces on two cores gives exactly the rows a whole read gives."""

import re
import zipfile
from datetime import datetime, timedelta
from pathlib import Path

import openpyxl
import pytest

from apps.etl.pipeline import excel, sheet_pieces
from tests.etl.stages import rows, run

HEADER = ["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID", "Country"]
DATA_ROWS = 3000


def _workbook(path):
    """A summary sheet in front; the data sheet with a title above its header, rows missing
    from the XML here and there, dates, shared strings, and a column that turns from
    numbers to text halfway (its type guess fails in the second half only)."""
    wb = openpyxl.Workbook()
    wb.active.title = "Pivot"
    wb.active.append(["Country", "Total"])
    sheet = wb.create_sheet("Orders")
    sheet.append(["Orders exported from the till"])
    sheet.append([])
    sheet.append(HEADER)
    start = datetime(2011, 1, 1, 8, 0)
    for i in range(DATA_ROWS):
        if i % 97 == 0:
            sheet.append([])  # an empty row: not in the XML at all
            continue
        customer = 12000 + i if i < DATA_ROWS // 2 + 200 else f"C-{i}"
        country = ["France", "United Kingdom", "EIRE"][i % 3]
        sheet.append([str(536000 + i // 4), f"SKU{i % 50}", f"ITEM {i % 80}", i % 9 + 1, start + timedelta(hours=i)])
        sheet.cell(row=sheet.max_row, column=6, value=round(0.5 + i % 300 / 7, 2))
        sheet.cell(row=sheet.max_row, column=7, value=customer)
        sheet.cell(row=sheet.max_row, column=8, value=country)
    wb.save(path)
    return path


@pytest.fixture
def pieces_made(monkeypatch):
    """Cut any sheet (not only big ones), on a machine with two cores or more; and note the
    pieces cut, and whether their rows were taken (else the sheet was read whole)."""
    made = []
    cut = sheet_pieces.cut_sheet
    read_in_pieces = excel._read_in_pieces

    def noting(*args, **kwargs):
        read = read_in_pieces(*args, **kwargs)
        made.append("taken" if read else "read whole")
        return read

    def recording(*args, **kwargs):
        for piece in cut(*args, **kwargs):
            made.append(piece)
            yield piece

    monkeypatch.setattr(sheet_pieces, "SPLIT_FROM_BYTES", 1)
    monkeypatch.setattr(excel, "cut_sheet", recording)
    monkeypatch.setattr(excel, "_read_in_pieces", noting)
    monkeypatch.setattr(excel.os, "cpu_count", lambda: 2)
    return made


def _with_sheet_xml(tmp_path, name: str, change) -> Path:
    """The test workbook with its data sheet's XML changed by `change`."""
    source = _workbook(tmp_path / "book.xlsx")
    path = tmp_path / name
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for info in src.infolist():
            data = src.read(info)
            out.writestr(info.filename, change(data) if info.filename == "xl/worksheets/sheet2.xml" else data)
    return path


def _raw(path, tmp_path, name):
    work = tmp_path / name
    work.mkdir()
    result = run(path, work)
    return result, rows(result["con"], "SELECT * FROM raw ORDER BY source_row")


def test_pieces_read_the_same_rows_with_the_same_numbers_as_a_whole_read(tmp_path, pieces_made, monkeypatch):
    path = _workbook(tmp_path / "book.xlsx")

    result, in_pieces = _raw(path, tmp_path, "pieces")
    first, second, taken = pieces_made
    assert (first.header_row, taken) == (3, "taken") and second.header_row > 3
    monkeypatch.setattr(sheet_pieces, "SPLIT_FROM_BYTES", 10**12)
    pieces_made.clear()
    _, whole = _raw(path, tmp_path, "whole")

    assert pieces_made == ["read whole"]
    assert in_pieces == whole
    assert len(whole) == DATA_ROWS - len(range(0, DATA_ROWS, 97))
    assert result["extracted"].details["sheet"] == "Orders"
    # The row numbers a spreadsheet shows, across the cut and the missing rows.
    assert whole[0][-1] == 5 and whole[-1][-1] == 3 + DATA_ROWS
    assert ("C-2999", "EIRE") in {(r[6], r[7]) for r in whole}


def test_each_piece_is_a_workbook_of_its_own_with_the_header_above_its_rows(tmp_path, monkeypatch):
    monkeypatch.setattr(sheet_pieces, "SPLIT_FROM_BYTES", 1)
    path = _workbook(tmp_path / "book.xlsx")
    (tmp_path / "work").mkdir()

    pieces = list(sheet_pieces.cut_sheet(path, "Orders", header_row=3, work_dir=tmp_path / "work"))

    assert len(pieces) == 2
    assert pieces[0].header_row == 3
    for number, piece in enumerate(pieces):
        with zipfile.ZipFile(piece.path) as package:
            assert package.testzip() is None  # every part's checksum holds
            assert "xl/worksheets/sheet1.xml" not in package.namelist()  # the Pivot sheet is left out
            xml = package.read("xl/worksheets/sheet2.xml").decode()
        first = int(re.search(r'<row r="(\d+)"', xml).group(1))
        # The first piece starts with the title rows; the next ones with the header's copy.
        assert first == (1 if number == 0 else piece.header_row)
        assert f'<c r="H{piece.header_row}" t="inlineStr"><is><t>Country</t>' in xml  # the header, renumbered


def test_a_sheet_whose_rows_carry_no_numbers_is_not_cut(tmp_path, pieces_made):
    # Row numbers are optional in the format.
    path = _with_sheet_xml(tmp_path, "unnumbered.xlsx", lambda xml: re.sub(rb'(<row\b[^>]*?) r="\d+"', rb"\1", xml))
    (tmp_path / "work").mkdir()

    assert list(sheet_pieces.cut_sheet(path, "Orders", header_row=3, work_dir=tmp_path / "work")) == []
    assert list((tmp_path / "work").iterdir()) == []  # nothing left behind


def test_rows_out_of_order_in_the_xml_make_the_pieces_give_way_to_a_whole_read(tmp_path, pieces_made, monkeypatch):
    def last_row_after_the_header(xml: bytes) -> bytes:
        # The sheet's last row written right after its header: into the first piece.
        last = re.findall(rb'<row r="\d+"[^>]*>.*?</row>', xml)[-1]
        xml = xml.replace(last, b"")
        header_end = xml.index(b"</row>", xml.index(b'<row r="3"')) + len(b"</row>")
        return xml[:header_end] + last + xml[header_end:]

    path = _with_sheet_xml(tmp_path, "shuffled.xlsx", last_row_after_the_header)

    _, shuffled = _raw(path, tmp_path, "shuffled")
    assert pieces_made[-1] == "read whole" and len(pieces_made) == 3  # cut, then found out of order
    monkeypatch.setattr(sheet_pieces, "SPLIT_FROM_BYTES", 10**12)
    _, whole = _raw(path, tmp_path, "whole")

    assert shuffled == whole
    assert len(whole) == DATA_ROWS - len(range(0, DATA_ROWS, 97))
