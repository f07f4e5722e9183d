"""The rejected-rows CSV a user downloads carries no live formula: a cell (or a header) that
a spreadsheet would run starts with an apostrophe, its text kept after it, as the report
exports write them; plain numbers (a return's -2) stay numbers; the page says so."""

import csv
import io

import pytest

from apps.uploads import rejected
from apps.uploads.run import upload_run
from tests.factories import upload_of

HYPERLINK = '=HYPERLINK("https://evil.example/phish","CLAIM-REFUND")'
DDE = "=cmd|' /C calc'!A0"


def _quoted(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


FILE = (
    "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,Country,@SUM(A1)\n"
    "1,A,fine,2,4/19/2011 16:19,1.50,USA,x\n"
    f"2,B,{_quoted(HYPERLINK)},two,4/19/2011 16:19,1.50,USA,x\n"
    f"3,C,{_quoted(DDE)},-2,4/19/2011 16:19,+2.00,Atlantis,x\n"
    "4,D,-1+2,x,4/19/2011 16:19,1.50,USA,\t=1+1\n"
)


def _download(client, upload_id) -> list[list[str]]:
    response = client.get(f"/uploads/{upload_id}/rejected.csv")
    assert response.status_code == 200
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


@pytest.fixture
def with_formulas(cast, tmp_path):
    path = tmp_path / "formulas.csv"
    path.write_text(FILE)
    return upload_run(upload_id=upload_of(cast["mgr_us_nyc"], "US-NYC", path).id)


def test_formulas_in_the_rejected_rows_csv_start_with_an_apostrophe_and_keep_their_text(client_of, with_formulas):
    rows = _download(client_of("head_us"), with_formulas.id)

    header, *cells = rows
    assert header[-2] == "'@SUM(A1)"
    by_order = {row[1]: row for row in cells}
    assert by_order["2"][3] == "'" + HYPERLINK
    assert by_order["3"][3] == "'" + DDE
    assert by_order["4"][3] == "'-1+2"
    assert by_order["4"][-2] == "'\t=1+1"
    # A return's quantity is a number, not a formula: unchanged.
    assert by_order["3"][4] == "-2"
    assert not any(cell.startswith(("=", "+", "@", "\t", "\r")) for row in cells for cell in row)


def test_the_problems_list_offered_instead_neutralises_formulas_too(client_of, cast, tmp_path, monkeypatch):
    monkeypatch.setattr(rejected, "ROWS_FILES_MAX", 1)  # too many rows: the problems list is the CSV
    path = tmp_path / "formulas.csv"
    path.write_text(FILE.replace("two", _quoted(DDE)))
    upload = upload_run(upload_id=upload_of(cast["mgr_us_nyc"], "US-NYC", path).id)

    rows = _download(client_of("mgr_us_nyc"), upload.id)

    assert rows[0] == ["source_row", "column", "value", "reason"]
    assert [r[2] for r in rows if r[1] == "quantity"] == ["'" + DDE, "x"]


def test_the_upload_page_says_the_csv_neutralises_formulas_next_to_its_link(client_of, with_formulas):
    page = client_of("mgr_us_nyc").get(f"/uploads/{with_formulas.id}/").text

    link = page.index('id="download-csv"')
    note = page.index('id="csv-formulas"')
    assert 0 < note - link < 300
    assert "begins with an apostrophe" in page[note : note + 300]
