"""A workbook with several sheets: the upload's page lists them, and whoever uploads for the
shop can have the file processed again from the sheet they choose (web and API)."""

from datetime import datetime

import openpyxl
import pytest
from django.contrib.messages import get_messages

from apps.uploads.models import Upload, UploadEvent
from apps.uploads.run import pipeline_run
from apps.warehouse.services import warehouse
from tests.factories import upload_loaded, upload_of

HEADER = ["InvoiceNo", "StockCode", "Quantity", "InvoiceDate", "UnitPrice", "Country"]
SHEETS = ["Summary", "Orders 2011", "Orders 2012"]


def _workbook(path, *, data: bool = True):
    """A summary sheet, then two data sheets: 2 orders in 2011, 3 in 2012 (found: 2011)."""
    book = openpyxl.Workbook()
    summary = book.active
    summary.title = "Summary"
    summary.append(["Country", "Total"])
    summary.append(["USA", 123.4])
    for title, count in (("Orders 2011", 2), ("Orders 2012", 3)):
        sheet = book.create_sheet(title)
        sheet.append(HEADER if data else ["Ref", "Item", "How many", "When", "Price", "Where"])
        for i in range(count):
            year = int(title[-4:])
            sheet.append([f"{year}{i}", f"P{i}", 2, datetime(year, 4, 19, 16, 19), 1.5, "USA"])
    book.save(path)
    return path


@pytest.fixture
def loaded(cast, tmp_path) -> Upload:
    return upload_loaded(cast["mgr_us_nyc"], "US-NYC", _workbook(tmp_path / "orders.xlsx"))


def _rows(upload_id) -> int:
    sql = 'SELECT count(*) FROM "orders-cleaned" WHERE upload_id = $id'
    return warehouse().query(sql, {"id": str(upload_id)}).column(0)[0].as_py()


def test_the_upload_page_lists_the_workbooks_sheets_to_choose_from(client_of, loaded):
    page = client_of("mgr_us_nyc").get(f"/uploads/{loaded.id}/")

    assert loaded.report["file"]["sheet"] == "Orders 2011"
    assert page.context["sheet_choices"] == SHEETS
    assert f'action="/uploads/{loaded.id}/sheet"' in page.text
    assert '<option value="Orders 2011" selected>' in page.text
    assert '<option value="Orders 2012">' in page.text


def test_choosing_a_sheet_processes_the_upload_again_from_that_sheet(client_of, cast, loaded, worker_inline):
    assert _rows(loaded.id) == 2

    with worker_inline():
        response = client_of("mgr_us_nyc").post(f"/uploads/{loaded.id}/sheet", {"sheet": "Orders 2012"})

    assert response.status_code == 302
    assert response.url == f"/uploads/{loaded.id}/"
    loaded.refresh_from_db()
    assert (loaded.status, loaded.rows_loaded, loaded.sheet) == (Upload.Status.LOADED, 3, "Orders 2012")
    assert loaded.report["file"]["sheet"] == "Orders 2012"
    assert _rows(loaded.id) == 3  # the batch was replaced, not added to
    chosen = loaded.events.get(kind=UploadEvent.Kind.SHEET_CHOSEN)
    assert (chosen.actor, chosen.detail) == (cast["mgr_us_nyc"], "Orders 2012")
    assert loaded.events.filter(kind=UploadEvent.Kind.FINISHED).exists()  # the run it started, recorded


def test_a_sheet_that_fails_leaves_none_of_the_uploads_rows(client_of, loaded, worker_inline):
    """Loaded from one sheet, then run again from a sheet that cannot be read as orders (it
    names no field): the upload says so, 0 loaded, and the warehouse agrees (its earlier
    rows are gone)."""
    assert _rows(loaded.id) == 2

    with worker_inline():
        client_of("mgr_us_nyc").post(f"/uploads/{loaded.id}/sheet", {"sheet": "Summary"})

    loaded.refresh_from_db()
    assert (loaded.status, loaded.rows_loaded) == (Upload.Status.NEEDS_MAPPING, 0)
    assert _rows(loaded.id) == 0

    with worker_inline():  # and the right sheet loads them again
        client_of("mgr_us_nyc").post(f"/uploads/{loaded.id}/sheet", {"sheet": "Orders 2011"})
    loaded.refresh_from_db()
    assert (loaded.status, loaded.rows_loaded, _rows(loaded.id)) == (Upload.Status.LOADED, 2, 2)


def test_a_sheet_the_workbook_does_not_have_is_refused_with_its_sheets(
    client_of, loaded, django_capture_on_commit_callbacks
):
    client = client_of("mgr_us_nyc")

    with django_capture_on_commit_callbacks() as enqueued:
        response = client.post(f"/uploads/{loaded.id}/sheet", {"sheet": "Sales"})

    assert response.status_code == 302
    message = [str(m) for m in get_messages(response.wsgi_request)]
    assert message == ["The workbook has no sheet 'Sales'. Its sheets: Summary, Orders 2011, Orders 2012."]
    assert enqueued == []
    loaded.refresh_from_db()
    assert (loaded.status, loaded.sheet) == (Upload.Status.LOADED, "")
    assert not loaded.events.filter(kind=UploadEvent.Kind.SHEET_CHOSEN).exists()


def test_a_regional_head_sees_the_upload_but_cannot_choose_its_sheet(client_of, loaded):
    head = client_of("head_us")

    assert head.get(f"/uploads/{loaded.id}/").context["sheet_choices"] == []
    assert head.post(f"/uploads/{loaded.id}/sheet", {"sheet": "Orders 2012"}).status_code == 403
    loaded.refresh_from_db()
    assert (loaded.status, loaded.sheet) == (Upload.Status.LOADED, "")


def test_a_manager_of_another_shop_gets_404(client_of, loaded):
    assert client_of("mgr_uk_lon").post(f"/uploads/{loaded.id}/sheet", {"sheet": "Orders 2012"}).status_code == 404
    loaded.refresh_from_db()
    assert loaded.sheet == ""


def test_a_workbook_whose_sheets_name_no_field_fails_and_offers_its_sheets(client_of, cast, tmp_path):
    upload = upload_loaded(cast["mgr_us_nyc"], "US-NYC", _workbook(tmp_path / "odd.xlsx", data=False))

    assert upload.status == Upload.Status.FAILED
    page = client_of("mgr_us_nyc").get(f"/uploads/{upload.id}/")
    assert page.context["sheet_choices"] == SHEETS
    assert "No sheet of this workbook was read." in page.text


def test_the_chosen_sheet_stays_chosen_when_the_upload_runs_again(cast, tmp_path):
    upload = upload_of(cast["mgr_us_nyc"], "US-NYC", _workbook(tmp_path / "orders.xlsx"))
    Upload.objects.filter(pk=upload.pk).update(sheet="Orders 2012")  # as the sweep or the mapping step finds it

    done = pipeline_run(upload_id=upload.id)

    assert (done.report["file"]["sheet"], done.rows_loaded) == ("Orders 2012", 3)


def test_the_api_chooses_the_sheet_and_answers_400_for_an_unknown_one(cast, loaded, worker_inline):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(cast["mgr_us_nyc"])
    url = f"/api/uploads/{loaded.id}/sheet"

    unknown = client.post(url, {"sheet": "Sales"}, format="json")
    with worker_inline():
        chosen = client.post(url, {"sheet": "Orders 2012"}, format="json")

    assert unknown.status_code == 400
    assert "no sheet 'Sales'" in unknown.json()["detail"]
    assert chosen.status_code == 200
    assert chosen.json()["sheets"] == SHEETS
    loaded.refresh_from_db()
    assert (loaded.status, loaded.rows_loaded, loaded.report["file"]["sheet"]) == (
        Upload.Status.LOADED,
        3,
        "Orders 2012",
    )
    status = client.get(f"/api/uploads/{loaded.id}/").json()
    assert (status["sheet"], status["sheets"]) == ("Orders 2012", SHEETS)


def test_the_schema_preview_reads_the_sheet_chosen_for_the_upload(cast, client, loaded, worker_inline):
    from apps.etl.models import SalesSchema

    with worker_inline():
        client.force_login(cast["mgr_us_nyc"])
        client.post(f"/uploads/{loaded.id}/sheet", {"sheet": "Orders 2012"})
    client.force_login(cast["admin"])
    schema = SalesSchema.objects.get(is_active=True)

    response = client.post(
        "/admin/etl/salesschema/", {"action": "preview_recent_uploads", "_selected_action": [schema.pk]}, follow=True
    )

    texts = [str(m) for m in response.context["messages"] if "orders.xlsx" in str(m)]
    assert len(texts) == 1 and "would reject 0 of 3 rows" in texts[0], texts
