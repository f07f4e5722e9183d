"""Rejected rows come back as the original rows plus an error column (CSV, and Excel with
the bad cells highlighted); the raw file downloads as uploaded. All within scope: out of
scope is 404, never 403."""

import csv
import io

import openpyxl
import pytest
from django.core.files.storage import default_storage

from apps.uploads.models import Upload, UploadEvent
from apps.uploads.rejected import rejected_downloads
from apps.uploads.run import upload_run
from apps.warehouse.services import warehouse
from tests.factories import upload_of

from .helpers import HEADER, SOME_BAD


@pytest.fixture
def with_errors(cast, tmp_path) -> Upload:
    path = tmp_path / "march sales.csv"
    path.write_text(SOME_BAD)
    return upload_run(upload_id=upload_of(cast["mgr_us_nyc"], "US-NYC", path).id)


def test_rejected_rows_csv_holds_the_original_rows_with_their_errors(client_of, with_errors):
    response = client_of("mgr_us_nyc").get(f"/uploads/{with_errors.id}/rejected.csv")

    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="march sales.rejected.csv"'
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows == [
        ["row", "InvoiceNo", "StockCode", "Quantity", "InvoiceDate", "UnitPrice", "Country", "errors"],
        ["5", "2", "B", "two", "4/19/2011 16:19", "1.50", "USA", "Quantity: cannot be read as a whole number"],
        ["6", "3", "C", "1", "4/19/2011 16:19", "2.00", "Atlantis", "Country: unknown country"],
    ]


def test_rejected_rows_workbook_highlights_the_bad_cells(client_of, with_errors):
    response = client_of("mgr_us_nyc").get(f"/uploads/{with_errors.id}/rejected.xlsx")

    assert response.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))["Rejected rows"]
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert values[1] == [
        5,
        "2",
        "B",
        "two",
        "4/19/2011 16:19",
        "1.50",
        "USA",
        "Quantity: cannot be read as a whole number",
    ]
    highlighted = {
        (c.row, sheet.cell(1, c.column).value)
        for row in sheet.iter_rows()
        for c in row
        if c.fill.fgColor.rgb.endswith("FFC7CE")
    }
    assert highlighted == {(2, "Quantity"), (3, "Country")}


def test_the_rejected_rows_workbook_corrected_and_uploaded_as_its_advice_says_adds_its_rows(
    client_of, cast, with_errors, tmp_path
):
    """Its About sheet says: correct the cells, upload it as a new upload. Done so, the
    shop's rows are the 3 good ones plus the 2 corrected (the workbook's own columns, row
    and errors, are kept aside); a replacement would have left 2."""
    response = client_of("mgr_us_nyc").get(f"/uploads/{with_errors.id}/rejected.xlsx")
    book = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    advice = dict(book["About"].iter_rows(values_only=True))["How to fix"]
    assert "upload this workbook as a new upload (not as a replacement)" in advice
    rejected = book["Rejected rows"]
    rejected["D2"], rejected["G3"] = "2", "France"  # Quantity 'two', Country 'Atlantis'
    book.save(tmp_path / "corrected.xlsx")

    corrected = upload_run(upload_id=upload_of(cast["mgr_us_nyc"], "US-NYC", tmp_path / "corrected.xlsx").id)

    assert (corrected.status, corrected.rows_loaded) == (Upload.Status.LOADED, 2)
    assert set(corrected.report["unmapped"]) == {"row", "errors"}
    sql = 'SELECT count(*) FROM "orders-cleaned" WHERE store_id = $shop'
    assert warehouse().query(sql, {"shop": "US-NYC"}).column(0)[0].as_py() == 5


def test_whole_file_refused_still_gives_its_rejected_rows(client_of, cast, tmp_path):
    path = tmp_path / "all_bad.csv"
    path.write_text(
        "InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice\n" + "".join(f"{i},A,x,1/1/2011,1\n" for i in range(4))
    )
    upload = upload_run(upload_id=upload_of(cast["mgr_us_nyc"], "US-NYC", path).id)

    response = client_of("mgr_us_nyc").get(f"/uploads/{upload.id}/rejected.csv")

    assert upload.status == Upload.Status.REJECTED
    assert len(b"".join(response.streaming_content).decode().splitlines()) == 5


def test_upload_without_rejected_rows_has_no_download(client_of, cast, sample):
    upload = upload_run(upload_id=upload_of(cast["mgr_us_nyc"], "US-NYC", sample("bernasiakk_usa.csv")).id)

    assert client_of("mgr_us_nyc").get(f"/uploads/{upload.id}/rejected.csv").status_code == 404
    assert client_of("mgr_us_nyc").get(f"/uploads/{upload.id}/rejected.exe").status_code == 404


def test_raw_file_downloads_as_uploaded_and_the_download_is_in_the_history(client_of, cast, with_errors):
    response = client_of("head_us").get(f"/uploads/{with_errors.id}/raw")

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == SOME_BAD.encode()
    assert response["Content-Disposition"] == 'attachment; filename="march sales.csv"'
    assert with_errors.events.filter(kind=UploadEvent.Kind.RAW_DOWNLOADED, actor=cast["head_us"]).exists()


@pytest.mark.parametrize("path", ["raw", "rejected.csv", "rejected.xlsx", "", "status.json"])
@pytest.mark.parametrize(
    ("username", "status"),
    [("mgr_us_nyc", 200), ("head_us", 200), ("admin", 200), ("mgr_uk_lon", 404), ("head_uk", 404), ("mgr_fr_par", 404)],
)
def test_only_those_who_may_see_the_upload_get_its_files(client_of, with_errors, path, username, status):
    assert client_of(username).get(f"/uploads/{with_errors.id}/{path}").status_code == status


def test_the_page_links_both_downloads_and_shows_the_history(client_of, with_errors):
    page = client_of("mgr_us_nyc").get(f"/uploads/{with_errors.id}/")

    assert f"/uploads/{with_errors.id}/rejected.xlsx" in page.text
    assert f"/uploads/{with_errors.id}/rejected.csv" in page.text
    kinds = [e.kind for e in page.context["events"]]
    assert kinds == ["created", "finished", "notified"]
    assert "Done, with rejected rows: read 5, loaded 3, rejected 2" in page.text


def test_admin_shows_an_upload_with_its_history(client_of, with_errors):
    page = client_of("admin").get(f"/admin/uploads/upload/{with_errors.id}/change/")

    assert page.status_code == 200
    assert "Processing ended" in page.text and "Uploader emailed" in page.text


def test_the_run_writes_the_rejected_rows_files_without_reading_the_file_again(cast, tmp_path, monkeypatch):
    # The rows files come from what the run holds: one extract, and the typed cells are not
    # read again as text (no problem here is on a typed cell).
    from apps.etl.pipeline import csv_reader, run
    from apps.uploads.files import rows_csv_path, rows_xlsx_path
    from apps.uploads.run import pipeline_run

    calls = {"extract": 0, "cell_texts": 0}

    def counted(name, real):
        def call(*args, **kwargs):
            calls[name] += 1
            return real(*args, **kwargs)

        return call

    monkeypatch.setattr(run, "extract", counted("extract", run.extract))
    monkeypatch.setattr(csv_reader, "_cell_texts", counted("cell_texts", csv_reader._cell_texts))
    path = tmp_path / "march sales.csv"
    path.write_text(SOME_BAD)

    upload = pipeline_run(upload_id=upload_of(cast["mgr_us_nyc"], "US-NYC", path).id)

    assert upload.rows_rejected == 2 and upload.report["file"]["typed_by_reader"]
    assert default_storage.exists(rows_csv_path(upload)) and default_storage.exists(rows_xlsx_path(upload))
    assert calls == {"extract": 1, "cell_texts": 0}


@pytest.mark.parametrize(
    ("date", "price", "written"),
    [
        ("04/09/2011 06:05", "3.5", ("04/09/2011 06:05", "3.5")),  # leading zeros, one decimal
        ("4/9/2011 6:05", "2.55", ("4/9/2011 6:05", "2.55")),  # none, two decimals
    ],
)
def test_typed_cells_of_rejected_rows_are_written_as_the_file_writes_them(cast, tmp_path, date, price, written):
    from apps.uploads.run import upload_run

    good = "".join(f"{i},A,2,{date},{price},USA\n" for i in range(1, 4))
    path = tmp_path / "sales.csv"
    path.write_text(HEADER + good + f"9,B,1,{date},{price},Atlantis\n")
    upload = upload_run(upload_id=upload_of(cast["mgr_us_nyc"], "US-NYC", path).id)
    assert upload.report["file"]["typed_by_reader"] == "quantity, unit_price, order_date"

    with default_storage.open(rejected_downloads(upload)["csv"]) as fh:
        rows = list(csv.reader(io.StringIO(fh.read().decode())))

    assert rows[1][1:7] == ["9", "B", "1", *written, "Atlantis"]


def test_a_comma_decimal_file_gets_its_rejected_rows_back_with_commas(cast, tmp_path):
    from apps.uploads.run import upload_run

    rows = "".join(f"{i};A;2;19/04/2011;1,50;France\n" for i in range(1, 4)) + "9;B;1;19/04/2011;2,25;Atlantis\n"
    path = tmp_path / "ventes.csv"
    path.write_text(HEADER.replace(",", ";") + rows)
    upload = upload_run(upload_id=upload_of(cast["mgr_fr_par"], "FR-PAR", path).id)
    assert "unit_price" in upload.report["file"]["typed_by_reader"]

    with default_storage.open(rejected_downloads(upload)["csv"]) as fh:
        written = list(csv.reader(io.StringIO(fh.read().decode())))

    assert written[1][1:7] == ["9", "B", "1", "19/04/2011", "2,25", "Atlantis"]
