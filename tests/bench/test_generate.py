"""The benchmark's generated files are Online Retail shaped: the ETL takes them whole."""

from bench.generate import sales_csv, sales_xlsx
from tests.etl.test_pipeline_rules import run_file


def test_generated_csv_and_workbook_load_every_row(cast, tmp_path):
    csv_upload = run_file(cast, "UK-LON", sales_csv(tmp_path, 300))
    xlsx_upload = run_file(cast, "UK-LON", sales_xlsx(tmp_path, 300))

    for upload in (csv_upload, xlsx_upload):
        assert (upload.rows_read, upload.rows_loaded, upload.rows_rejected) == (300, 300, 0), upload.report
        assert upload.report["date_order"] == "MDY" or upload.original_name.endswith(".xlsx")
