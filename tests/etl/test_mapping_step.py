"""The mapping step: unmatched headers are matched once by the shop, then by themselves."""

from apps.etl.models import ColumnMapping, SchemaField
from apps.etl.pipeline.mapping import map_columns
from apps.uploads.models import Upload, UploadEvent
from apps.uploads.run import pipeline_run
from tests.etl.test_pipeline_rules import query, run_file
from tests.factories import upload_of

TILL_EXPORT = (
    "Invoice Number,Stock Code,Qty Sold,Sale Date,Unit Cost,Country,Till\n"
    "536365,85123A,6,19/04/2011 08:26,2.55,United Kingdom,3\n"
    "536366,71053,2,20/04/2011 09:00,3.39,United Kingdom,1\n"
)
CHOICES = {
    "field-order_id": "Invoice Number",
    "field-product_id": "Stock Code",
    "field-quantity": "Qty Sold",
    "field-order_date": "Sale Date",
    "field-unit_price": "Unit Cost",
    "field-country": "Country",
}


def _till_file(tmp_path, name="till.csv"):
    """The till's export; next week's has other invoices (the same bytes would be held as a
    duplicate of the first upload)."""
    path = tmp_path / name
    path.write_text(TILL_EXPORT if name == "till.csv" else TILL_EXPORT.replace("53636", "53637"))
    return path


def test_unmatched_headers_stop_the_upload_with_suggestions(cast, tmp_path, client):
    upload = run_file(cast, "UK-LON", _till_file(tmp_path))

    assert upload.status == Upload.Status.NEEDS_MAPPING  # a step the shop takes, not a failure
    assert upload.report["needs_mapping"] is True
    assert set(upload.report["missing"]) == {"order_id", "order_date", "quantity", "unit_price"}
    assert upload.report["suggestions"]["order_id"][0] == "Invoice Number"
    client.force_login(cast["mgr_uk_lon"])
    assert "Match the columns" in client.get(f"/uploads/{upload.id}/").content.decode()
    page = client.get(f"/uploads/{upload.id}/mapping/").content.decode()
    assert "suggested (" in page and '<option value="Invoice Number" selected>' in page


def test_a_confirmed_mapping_is_applied_now_and_next_time_by_itself(cast, tmp_path, client):
    upload = run_file(cast, "UK-LON", _till_file(tmp_path))
    client.force_login(cast["mgr_uk_lon"])

    response = client.post(f"/uploads/{upload.id}/mapping/", CHOICES)

    assert response.status_code == 302
    upload.refresh_from_db()
    assert upload.status == Upload.Status.QUEUED
    assert pipeline_run(upload_id=upload.id).status == Upload.Status.LOADED
    assert ColumnMapping.objects.get().mapping["quantity"] == "Qty Sold"
    confirmed = upload.events.get(kind=UploadEvent.Kind.MAPPING_CONFIRMED)  # in the upload's history
    assert confirmed.actor == cast["mgr_uk_lon"] and "Qty Sold -> quantity" in confirmed.detail
    again = run_file(cast, "UK-LON", _till_file(tmp_path, "till_next_week.csv"))
    assert again.status == Upload.Status.LOADED, again.message
    assert again.report["unmapped"] == ["Till"]
    assert again.report["mapping_saved"] is True and upload.report.get("mapping_saved") is not True
    page = client.get(f"/uploads/{again.id}/").content.decode()
    assert "Columns (as this shop matched them for files with these headers):" in page
    assert "fields separated by commas" in page
    assert query('SELECT count(*) FROM "orders-cleaned"') == [(4,)]


def test_a_mapping_missing_a_required_field_is_refused_with_the_reason(cast, tmp_path, client):
    upload = run_file(cast, "UK-LON", _till_file(tmp_path))
    client.force_login(cast["mgr_uk_lon"])

    response = client.post(f"/uploads/{upload.id}/mapping/", {**CHOICES, "field-unit_price": ""})

    assert response.status_code == 400
    assert "Required fields still unmatched: unit_price." in response.content.decode()
    assert not ColumnMapping.objects.exists()


def test_only_those_who_upload_for_the_shop_can_map_its_file(cast, tmp_path, client):
    upload = upload_of(cast["mgr_uk_lon"], "UK-LON", _till_file(tmp_path))
    pipeline_run(upload_id=upload.id)

    client.force_login(cast["mgr_fr_par"])
    assert client.get(f"/uploads/{upload.id}/mapping/").status_code == 404
    client.force_login(cast["head_uk"])
    assert client.post(f"/uploads/{upload.id}/mapping/", CHOICES).status_code == 403


def test_a_column_is_suggested_for_one_field_only(spec):
    # "Invoice Ref" is alike to order_id and to order_date's alias InvoiceDate; the page
    # preselects suggestions, so one column suggested twice could not be confirmed as shown.
    mapped = map_columns(["Invoice Ref", "Stock Code", "Qty Sold", "Sale Date", "Unit Cost"], spec)

    assert mapped.suggestions["order_id"] == ("Invoice Ref", 0.82)
    assert mapped.suggestions["order_date"][0] == "Sale Date"
    suggested = [column for column, _ in mapped.suggestions.values()]
    assert len(suggested) == len(set(suggested))


def test_a_column_chosen_twice_is_refused_naming_it_and_its_fields(cast, tmp_path, client):
    upload = run_file(cast, "UK-LON", _till_file(tmp_path))
    client.force_login(cast["mgr_uk_lon"])

    response = client.post(f"/uploads/{upload.id}/mapping/", {**CHOICES, "field-order_date": "Invoice Number"})

    assert response.status_code == 400
    assert "Invoice Number is chosen for order_id and order_date" in response.content.decode()


def test_the_mapping_step_says_so_when_the_active_schema_cannot_be_used(cast, tmp_path, client):
    upload = run_file(cast, "UK-LON", _till_file(tmp_path))
    SchemaField.objects.filter(name="unit_price").delete()  # not through the admin, which refuses it
    client.force_login(cast["mgr_uk_lon"])

    response = client.get(f"/uploads/{upload.id}/mapping/")

    assert response.status_code == 503
    page = response.content.decode()
    assert "cannot fill the fact table" in page and "unit_price is needed by the fact table" in page
    assert "Save and process again" not in page


def _preview(client, cast) -> list[str]:
    from apps.etl.models import SalesSchema

    client.force_login(cast["admin"])
    schema = SalesSchema.objects.get(is_active=True)
    response = client.post(
        "/admin/etl/salesschema/", {"action": "preview_recent_uploads", "_selected_action": [schema.pk]}, follow=True
    )
    return [str(m) for m in response.context["messages"]]


def test_the_schema_preview_reads_an_upload_with_its_shops_confirmed_mapping(cast, tmp_path, client):
    """The preview runs each upload as its runs did: through the mapping the shop confirmed."""
    upload = run_file(cast, "UK-LON", _till_file(tmp_path))
    client.force_login(cast["mgr_uk_lon"])
    client.post(f"/uploads/{upload.id}/mapping/", CHOICES)
    assert pipeline_run(upload_id=upload.id).status == Upload.Status.LOADED

    texts = [t for t in _preview(client, cast) if "till.csv" in t]

    assert len(texts) == 1 and "would reject 0 of 2 rows" in texts[0], texts
    assert "required columns not found" not in texts[0]


def test_the_schema_preview_says_when_a_whole_file_would_be_refused(cast, tmp_path, client):
    path = tmp_path / "sales.csv"
    path.write_text(
        "InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice,Country\n"
        "1,A,2,19/04/2011 08:26,1.50,United Kingdom\n"
        "2,B,1,19/04/2011 08:26,2.50,United Kingdom\n"
        "3,C,1,19/04/2011 08:26,3.00,United Kingdom\n"
    )
    assert run_file(cast, "UK-LON", path).status == Upload.Status.LOADED
    SchemaField.objects.filter(schema__is_active=True, name="unit_price").update(min_value=2)

    texts = [t for t in _preview(client, cast) if "sales.csv" in t]

    assert len(texts) == 1 and "would reject 1 of 3 rows (" in texts[0], texts
    SchemaField.objects.filter(schema__is_active=True, name="unit_price").update(min_value=2.8)
    texts = [t for t in _preview(client, cast) if "sales.csv" in t]
    assert "would reject 2 of 3 rows, more than its limit of 50%: the whole file would be refused" in texts[0], texts


def test_the_mapping_steps_first_address_leads_to_it(cast, tmp_path, client):
    # Emails sent before the step moved under /uploads/ link to /etl/uploads/<id>/mapping/.
    upload = run_file(cast, "UK-LON", _till_file(tmp_path))
    client.force_login(cast["mgr_uk_lon"])

    response = client.get(f"/etl/uploads/{upload.id}/mapping/")

    assert (response.status_code, response["Location"]) == (301, f"/uploads/{upload.id}/mapping/")
