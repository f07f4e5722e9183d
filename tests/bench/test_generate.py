"""The benchmark's generated files are Online Retail shaped: the ETL takes them whole."""

from bench.generate import sales_csv, sales_xlsx
from tests.etl.test_pipeline_rules import run_file


def test_generated_csv_and_workbook_load_every_row(cast, tmp_path):
    csv_upload = run_file(cast, "UK-LON", sales_csv(tmp_path, 300))
    # Another shop: the same sales as a workbook for the same shop would be held as lines loaded before.
    xlsx_upload = run_file(cast, "US-NYC", sales_xlsx(tmp_path, 300))

    for upload in (csv_upload, xlsx_upload):
        assert (upload.rows_read, upload.rows_loaded, upload.rows_rejected) == (300, 300, 0), upload.report
        assert upload.report["date_order"] == "MDY" or upload.original_name.endswith(".xlsx")


def test_the_untidy_file_differs_only_by_its_descriptions_stray_spaces_which_the_etl_tidies(cast, tmp_path):
    tidy = sales_csv(tmp_path, 2_000)
    untidy = sales_csv(tmp_path, 2_000, stray_spaces=True)
    tidy_lines, untidy_lines = tidy.read_text().splitlines(), untidy.read_text().splitlines()

    changed = [(a, b) for a, b in zip(tidy_lines, untidy_lines, strict=True) if a != b]
    assert 300 < len(changed) < 700  # a fifth padded, one in 25 with two spaces inside
    assert all(a.split(",")[2] == " ".join(b.split(",")[2].split()) for a, b in changed)
    upload = run_file(cast, "UK-LON", untidy)
    assert (upload.rows_read, upload.rows_loaded) == (2_000, 2_000)
    assert upload.report["rules"]["cells_trimmed"] == len(changed)
