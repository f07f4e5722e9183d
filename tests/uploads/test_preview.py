"""The schema preview runs an upload's file through the same stages as a real run (the typed
CSV read, countries defaulted to the shop's, the records of the wrong width), so it rejects
exactly the rows the run rejected."""

from apps.etl.models import SalesSchema, SchemaField
from apps.uploads.models import Upload
from apps.uploads.preview import first_rows, schema_preview
from apps.uploads.run import pipeline_run
from tests.factories import upload_of

HEADER = "InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice,Country\n"
ROWS = (
    "1,A,2,19/04/2011 08:26,1.50,\n"  # no country: the shop's (GB)
    "2,B,1,19/04/2011 08:26,2.50,France\n"
    "3,C,0,19/04/2011 08:26,3.00,\n"  # quantity zero, on a cell the reader typed
    "4,D,4,20/04/2011 09:10,0.50,Atlantis\n"  # unknown country
    "5,E,1\n"  # fewer fields than the header
    "6,F,3,21/04/2011 10:00,4.25,\n"
)


def _preview_of(upload: Upload):
    (line,) = [
        line
        for line in schema_preview(schema=SalesSchema.objects.get(is_active=True))
        if line.upload.startswith(upload.original_name)
    ]
    return line


def test_the_preview_rejects_the_rows_a_real_run_rejected(cast, tmp_path):
    path = tmp_path / "mixed.csv"
    path.write_text(HEADER + ROWS)
    upload = pipeline_run(upload_id=upload_of(cast["mgr_uk_lon"], "UK-LON", path).id)
    assert upload.report["file"]["typed_by_reader"] == "quantity, unit_price, order_date"
    assert upload.report["rules"]["countries_from_shop"] == 2
    assert (upload.rows_read, upload.rows_rejected) == (6, 3)

    line = _preview_of(upload)

    assert (line.rows_read, line.rejected_now, line.by_reason, line.rows) == (
        upload.rows_read,
        upload.rows_rejected,
        upload.report["errors_by_reason"],
        first_rows(upload.report),
    )
    assert line.rows == (4, 5, 6) and "wrong number of fields" in line.by_reason


def test_the_preview_of_a_changed_rule_counts_what_the_run_would_then_reject(cast, tmp_path):
    path = tmp_path / "mixed.csv"
    path.write_text(HEADER + ROWS)
    upload = pipeline_run(upload_id=upload_of(cast["mgr_uk_lon"], "UK-LON", path).id)
    SchemaField.objects.filter(schema__is_active=True, name="unit_price").update(max_value=2)

    line = _preview_of(upload)
    again = pipeline_run(upload_id=upload.id, force=True)

    assert (line.rejected_now, line.by_reason, line.rows) == (
        again.rows_rejected,
        again.report["errors_by_reason"],
        first_rows(again.report),
    )
    assert line.rejected_now == 5  # rows 3 and 7 too now (prices 2.50 and 4.25, above 2)
