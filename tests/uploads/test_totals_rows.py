"""A workbook's totals row reaches the upload's counts as a totals row: the upload is done (not
"with rejected rows"), the page and the CLI's JSON summary say how many totals rows were
dropped, and nobody is emailed about rejected rows."""

import json
from io import StringIO

from django.core import mail
from django.core.management import call_command

from apps.uploads.models import Upload
from apps.warehouse.services import warehouse
from tests.etl.stages import workbook_of


def test_a_sum_row_is_dropped_counted_shown_and_not_emailed(cast, client_of, sample, tmp_path, settings):
    cast["mgr_us_nyc"].email = "nyc@example.com"
    cast["mgr_us_nyc"].save()
    path, _ = workbook_of(sample("bernasiakk_usa.csv"), tmp_path / "usa.xlsx", bottom=[(3, "=SUM(D2:D1048575)", "sum")])
    out = StringIO()

    call_command("ingest", str(path), "--shop", "US-NYC", "--user", "mgr_us_nyc", "--inline", "--json", stdout=out)

    summary = json.loads(out.getvalue())
    assert (summary["status"], summary["rows_read"], summary["rows_loaded"]) == ("loaded", 292, 291)
    assert (summary["rows_rejected"], summary["rows_dropped"], summary["rows_totals"]) == (0, 0, 1)
    upload = Upload.objects.get()
    assert upload.report["counts"]["totals_dropped"] == upload.report["rules"]["totals_dropped"] == 1
    assert upload.rows_read == upload.rows_loaded + upload.rows_rejected + upload.rows_dropped + upload.rows_totals
    assert warehouse().query('SELECT count(*) AS n FROM "orders-cleaned"').to_pylist() == [{"n": 291}]
    assert mail.outbox == []
    page = client_of("mgr_us_nyc").get(f"/uploads/{upload.id}/")
    assert page.context["status"]["rows_totals"] == 1
    assert 'data-field="rows_totals">1<' in page.text and 'id="totals-dropped">1<' in page.text
    assert "Totals rows dropped" in page.text and 'id="rejected"' not in page.text
