"""The guards hostile files met in the ETL, each on its own."""

import openpyxl
import pytest
from django.core.files.storage import default_storage

from apps.etl.pipeline.extracted import ExtractError
from apps.uploads import rejected
from apps.uploads.files import problems_path, rows_xlsx_path
from apps.uploads.models import Upload
from apps.uploads.rejected import rejected_downloads
from apps.uploads.run import upload_run
from tests.etl.stages import run
from tests.factories import upload_loaded, upload_of
from tests.reliability import hostile_files as hf


def test_a_zip_bomb_named_xlsx_is_refused_before_it_is_unpacked(tmp_path):
    path = tmp_path / "bomb.xlsx"
    hf._zip_bomb(path)
    assert path.stat().st_size < 10 * 1024 * 1024

    with pytest.raises(ExtractError, match="zip bomb"):
        run(path, tmp_path)


def test_a_truncated_workbook_is_called_damaged(tmp_path):
    path = tmp_path / "cut.xlsx"
    path.write_bytes(hf._xlsx(hf._xlsx_rows())[:3000])

    with pytest.raises(ExtractError, match="damaged or cut short"):
        run(path, tmp_path)


def test_a_workbook_without_sheets_says_so(tmp_path):
    path = tmp_path / "none.xlsx"
    path.write_bytes(hf._xlsx_without_sheets())

    with pytest.raises(ExtractError, match="The workbook has no sheets"):
        run(path, tmp_path)


def test_a_header_of_100000_columns_is_refused_not_read(tmp_path):
    path = tmp_path / "wide.csv"
    hf._wide_header(path)

    with pytest.raises(ExtractError, match="first line is over 64 KB"):
        run(path, tmp_path)


def test_a_header_of_thousands_of_columns_is_refused_not_read(tmp_path):
    path = tmp_path / "wide.csv"
    path.write_text(hf.HEADER + ",x" * 20_000 + "\n" + hf.ROW + "\n")

    with pytest.raises(ExtractError, match="20,008 columns"):
        run(path, tmp_path)


def test_a_file_with_only_a_header_fails_saying_it_has_no_rows(cast, tmp_path):
    path = tmp_path / "header.csv"
    path.write_text(hf.HEADER + "\n")

    upload = upload_loaded(cast["mgr_us_nyc"], "US-NYC", path)

    assert upload.status == Upload.Status.FAILED
    assert upload.message == "The file has a header row but no data rows: nothing to load."


def test_a_formula_in_a_rejected_row_comes_back_as_text_not_a_live_formula(cast, tmp_path):
    formula = '=HYPERLINK("http://evil.example","click")'
    path = tmp_path / "formula.csv"
    path.write_bytes(
        hf._csv(*hf._good(3), hf._row(Description=f'"{formula.replace(chr(34), 2 * chr(34))}"', Quantity="x"))
    )

    upload = upload_run(upload_id=upload_of(cast["mgr_us_nyc"], "US-NYC", path).id)

    assert upload.rows_rejected == 1
    with default_storage.open(rows_xlsx_path(upload), "rb") as fh:
        sheet = openpyxl.load_workbook(fh)["Rejected rows"]
    cell = next(c for row in sheet.iter_rows() for c in row if c.value == formula)
    assert cell.data_type == "s"


def test_a_zip_bomb_whose_headers_lie_about_its_size_is_refused_unread(tmp_path):
    path = tmp_path / "liar.xlsx"
    hf._lying_zip_bomb(path)

    with pytest.raises(ExtractError, match="a zip bomb, not a spreadsheet"):
        run(path, tmp_path)


def test_too_many_rejected_rows_offer_the_problems_list_not_rows_files_built_in_memory(cast, tmp_path, monkeypatch):
    monkeypatch.setattr(rejected, "ROWS_FILES_MAX", 2)
    path = tmp_path / "bad.csv"
    path.write_bytes(hf._csv(*hf._good(3), *(hf._row(InvoiceNo=str(i), Quantity="x") for i in range(3))))

    upload = upload_run(upload_id=upload_of(cast["mgr_us_nyc"], "US-NYC", path).id)

    assert upload.rows_rejected == 3
    assert not default_storage.exists(rows_xlsx_path(upload))
    assert rejected_downloads(upload) == {"csv": problems_path(upload)}


def test_invalid_utf8_past_the_first_64_kb_is_replaced_and_every_row_kept(tmp_path):
    path = tmp_path / "late.csv"
    path.write_bytes(
        hf._csv(*hf._good(2000), hf._row(InvoiceNo="77", Description="CAF\xc9")).replace(b"\xc3\x89", b"\xc9")
    )

    extracted = run(path, tmp_path)["extracted"]

    assert (extracted.rows_read, extracted.bad_count) == (2001, 0)
    assert extracted.details["encoding"] == "utf-8 (invalid bytes replaced)"


def test_a_line_past_duckdbs_limit_fails_saying_where_and_why(tmp_path):
    path = tmp_path / "cell.csv"
    path.write_bytes(hf._csv(*hf._good(3), hf._row(Description="A" * 3 * 1024 * 1024)))

    with pytest.raises(ExtractError, match=r"Line: 5 \(Maximum line size"):
        run(path, tmp_path)


def test_the_bomb_guard_counts_each_part_of_a_real_workbook_to_the_byte(sample):
    """The guard inflates each part from its own bytes (after its local header): for an
    honest workbook it counts exactly what the zip says each part holds."""
    import zipfile

    from apps.etl.pipeline.excel import _unpacked_size

    with zipfile.ZipFile(sample("online_retail_sample_sfc.xlsx")) as package:
        parts = package.infolist()
        assert [_unpacked_size(package, p) for p in parts] == [p.file_size for p in parts]
        assert any(p.compress_type == zipfile.ZIP_DEFLATED for p in parts)
