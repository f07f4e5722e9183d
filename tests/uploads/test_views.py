"""/uploads/: the form and list, the upload's page, and its status JSON."""

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from apps.accounts.models import Shop
from apps.uploads.models import Upload
from apps.uploads.run import pipeline_run
from tests.factories import upload_of, user_create

CSV = b"InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice\n1,A,2,4/19/2011 16:19,1.50\n"


def _post(client: Client, shop_code: str, content: bytes = CSV, name: str = "sales.csv", **extra):
    shop = Shop.objects.get(code=shop_code)
    return client.post("/uploads/", {"shop": shop.pk, "file": SimpleUploadedFile(name, content), **extra})


def test_manager_upload_is_stored_raw_and_redirects_to_its_page(client_of, sample, django_capture_on_commit_callbacks):
    path = sample("bernasiakk_usa.csv")

    with django_capture_on_commit_callbacks() as enqueued:
        response = _post(client_of("mgr_us_nyc"), "US-NYC", path.read_bytes(), path.name)

    upload = Upload.objects.get()
    assert response.status_code == 302
    assert response.url == f"/uploads/{upload.id}/"
    day = timezone.localdate(upload.created_at)
    assert upload.raw_path == f"raw/US/{day:%Y/%m/%d}/{upload.id}/bernasiakk_usa.csv"
    with default_storage.open(upload.raw_path, "rb") as stored:
        assert stored.read() == path.read_bytes()
    assert (upload.shop.code, upload.uploaded_by.username, upload.status) == ("US-NYC", "mgr_us_nyc", "queued")
    assert len(enqueued) == 1  # the ETL is handed to the worker once the upload is committed


def test_upload_page_shows_the_file_and_its_status(client_of):
    client = client_of("mgr_us_nyc")
    upload_id = _post(client, "US-NYC").url.split("/")[2]

    page = client.get(f"/uploads/{upload_id}/")

    assert page.status_code == 200
    assert "sales.csv" in page.text
    assert f"/uploads/{upload_id}/status.json" in page.text


def test_manager_sees_the_form_with_only_their_shop(client_of):
    page = client_of("mgr_us_nyc").get("/uploads/")

    assert page.status_code == 200
    assert list(page.context["form"].fields["shop"].queryset.values_list("code", flat=True)) == ["US-NYC"]
    assert 'enctype="multipart/form-data"' in page.text


def test_regional_head_gets_the_list_without_a_form(client_of):
    page = client_of("head_us").get("/uploads/")

    assert page.status_code == 200
    assert 'enctype="multipart/form-data"' not in page.text


@pytest.mark.parametrize(
    ("content", "name", "error"),
    [
        (b"", "sales.csv", "The submitted file is empty."),
        (b"MZ\x90\x00 not really a program", "setup.exe", "&#x27;setup.exe&#x27; is not a CSV or Excel file."),
        (b"%PDF-1.4 not really a document", "report.pdf", "&#x27;report.pdf&#x27; is not a CSV or Excel file."),
    ],
)
def test_bad_file_gets_a_clear_form_error_not_a_crash(client_of, content, name, error):
    response = _post(client_of("mgr_us_nyc"), "US-NYC", content, name)

    assert response.status_code == 400
    assert error in response.text
    assert not Upload.objects.exists()


def test_file_over_the_size_limit_gets_a_form_error(client_of, settings):
    settings.UPLOAD_MAX_BYTES = 50

    response = _post(client_of("mgr_us_nyc"), "US-NYC", CSV)

    assert response.status_code == 400
    assert "the limit is 50\xa0bytes" in response.text
    assert not Upload.objects.exists()


def test_name_with_path_parts_is_stored_under_a_safe_name(client_of, data_dir):
    response = _post(client_of("mgr_us_nyc"), "US-NYC", CSV, "../../etc/passwd.csv")

    upload = Upload.objects.get()
    assert response.status_code == 302
    assert upload.raw_path.startswith("raw/US/")
    assert upload.raw_path.endswith(f"/{upload.id}/passwd.csv")
    files = (data_dir / "files").resolve()
    assert [p for p in data_dir.rglob("passwd.csv")] == [files / upload.raw_path]


@pytest.mark.parametrize("username", ["head_us", "head_uk"])
def test_regional_head_cannot_upload(client_of, username):
    response = _post(client_of(username), "US-NYC")

    assert response.status_code == 403
    assert not Upload.objects.exists()


def test_user_without_a_role_cannot_upload(cast):
    client = Client()
    client.force_login(user_create("drifter", role=""))

    assert _post(client, "US-NYC").status_code == 403
    assert not Upload.objects.exists()


def test_anonymous_post_is_sent_to_login(cast):
    response = _post(Client(), "US-NYC")

    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")
    assert not Upload.objects.exists()


@pytest.mark.parametrize("other_shop", ["US-SFO", "UK-LON"])
def test_manager_cannot_upload_for_another_shop_by_tampering_the_shop_id(client_of, other_shop):
    response = _post(client_of("mgr_us_nyc"), other_shop)

    assert response.status_code == 400
    assert "Select a valid choice" in response.text
    assert not Upload.objects.exists()


def test_post_without_csrf_token_is_refused(cast):
    client = Client(enforce_csrf_checks=True)
    client.force_login(cast["mgr_us_nyc"])

    assert _post(client, "US-NYC").status_code == 403
    assert not Upload.objects.exists()


@pytest.mark.parametrize(
    ("method", "url"), [("put", "/uploads/"), ("post", "/uploads/{id}/"), ("post", "/uploads/{id}/status.json")]
)
def test_other_methods_are_not_allowed(client_of, cast, sample, method, url):
    upload = upload_of(cast["mgr_us_nyc"], "US-NYC", sample("bernasiakk_usa.csv"))

    response = getattr(client_of("mgr_us_nyc"), method)(url.format(id=upload.id))

    assert response.status_code == 405


STATUS_FIELDS = {
    "id",
    "status",
    "status_label",
    "stage",
    "finished",
    "message",
    "rows_read",
    "rows_loaded",
    "rows_rejected",
    "rows_dropped",
    "rows_totals",
    "rows_processed",
    "awaits_choice",
    "progress_stage",
    "progress",
    "created_at",
    "started_at",
    "finished_at",
    "timings",
}


def test_status_json_of_a_queued_upload(client_of, cast, sample):
    upload = upload_of(cast["mgr_us_nyc"], "US-NYC", sample("bernasiakk_usa.csv"))

    response = client_of("mgr_us_nyc").get(f"/uploads/{upload.id}/status.json")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "id": str(upload.id),
        "status": "queued",
        "status_label": "Queued",
        "stage": "",
        "finished": False,
        "awaits_choice": False,
        "message": "",
        "rows_read": None,
        "rows_loaded": None,
        "rows_rejected": None,
        "rows_dropped": None,
        "rows_totals": None,
        "rows_processed": None,
        "progress_stage": "queued",
        "progress": 0.0,
        "created_at": upload.created_at.isoformat(),
        "started_at": None,
        "finished_at": None,
        "timings": {},
    }


def test_status_json_of_a_loaded_upload_has_its_counts(client_of, cast, sample):
    upload = pipeline_run(upload_id=upload_of(cast["mgr_us_nyc"], "US-NYC", sample("bernasiakk_usa.csv")).id)

    status = client_of("head_us").get(f"/uploads/{upload.id}/status.json").json()

    assert set(status) == STATUS_FIELDS
    assert status["status"] == "loaded"
    assert status["status_label"] == "Done"
    assert status["finished"] is True
    assert [status[f"rows_{n}"] for n in ("read", "loaded", "rejected", "dropped")] == [291, 291, 0, 0]


def test_status_json_of_an_upload_with_columns_to_match_says_why(client_of, cast, tmp_path):
    path = tmp_path / "no_prices.csv"
    path.write_text("InvoiceNo,StockCode,Quantity,InvoiceDate\n1,A,2,4/19/2011\n")
    upload = pipeline_run(upload_id=upload_of(cast["mgr_us_nyc"], "US-NYC", path).id)

    status = client_of("mgr_us_nyc").get(f"/uploads/{upload.id}/status.json").json()

    assert (status["status"], status["status_label"], status["finished"]) == ("needs_mapping", "Columns to match", True)
    assert status["message"].startswith("Required columns not found: unit_price.")


def test_upload_page_lists_the_rejected_rows_with_their_file_row(client_of, cast, tmp_path):
    path = tmp_path / "some_bad.csv"
    path.write_text(
        "InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice,Country\n"
        "1,A,2,4/19/2011 16:19,1.50,USA\n"
        "1,B,1,4/19/2011 16:19,3.00,USA\n"
        "1,C,5,4/19/2011 16:19,0.50,USA\n"
        "2,B,two,4/19/2011 16:19,1.50,USA\n"
        "3,C,1,4/19/2011 16:19,2.00,Atlantis\n"
    )
    upload = pipeline_run(upload_id=upload_of(cast["mgr_us_nyc"], "US-NYC", path).id)

    page = client_of("mgr_us_nyc").get(f"/uploads/{upload.id}/")

    assert upload.status == Upload.Status.LOADED_WITH_ERRORS
    rejected = page.context["upload"].report["first_errors"]
    assert [(e["source_row"], e["column"], e["value"], e["reason"]) for e in rejected] == [
        (5, "quantity", "two", "cannot be read as a whole number"),
        (6, "country", "Atlantis", "unknown country"),
    ]
    assert "cannot be read as a whole number" in page.text


def test_the_upload_page_and_the_schema_preview_write_big_counts_with_thousands_separators(client_of, cast, tmp_path):
    from apps.etl.models import SalesSchema

    path = tmp_path / "big.csv"
    path.write_text(
        "InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice,Country\n"
        + "".join(f"{n},A,1,4/19/2011 16:19,1.50,USA\n" for n in range(1200))
    )
    upload = pipeline_run(upload_id=upload_of(cast["mgr_us_nyc"], "US-NYC", path).id)

    page = client_of("mgr_us_nyc").get(f"/uploads/{upload.id}/").text
    schema = SalesSchema.objects.get(is_active=True)
    preview = client_of("admin").post(
        "/admin/etl/salesschema/", {"action": "preview_recent_uploads", "_selected_action": [schema.pk]}, follow=True
    )

    assert "<dt>Countries from the file</dt><dd>1,200</dd>" in page
    assert any("would reject 0 of 1,200 rows" in str(m) for m in preview.context["messages"])
