"""Rows rejected for a country no alias names, fixed in place from the upload's page: the
manager maps the value for their shop (`Unspecified` -> the shop's country), or asks for a
global alias that an admin approves in one click. Then the same upload is processed again:
its rows replace its own batch, so the rows once rejected load into it, never twice.

The file is a real slice of Online Retail (tests/data/online_retail_sample_vikash_slice.csv):
300 lines, one `Unspecified` and two `Channel Islands`."""

import pytest
from django.core.exceptions import PermissionDenied

from apps.accounts.access import scope_for
from apps.etl.models import CountryAlias, SalesSchema, ShopCountryMapping
from apps.uploads.country_fixes import upload_country_map
from apps.uploads.models import CountryAliasRequest, Upload, UploadEvent
from apps.uploads.preview import schema_preview
from apps.uploads.run import pipeline_run
from apps.warehouse.services import warehouse
from tests.factories import upload_loaded

SLICE = "online_retail_sample_vikash_slice.csv"
UNKNOWN = {"Channel Islands": 2, "Unspecified": 1}


def _warehouse(sql: str, **params) -> list[tuple]:
    return [tuple(r.values()) for r in warehouse().query(sql, params).to_pylist()]


def _rows_of(upload: Upload) -> tuple[int, int]:
    """(rows, distinct file rows) the warehouse holds for the upload."""
    sql = 'SELECT count(*), count(DISTINCT source_row) FROM "orders-cleaned" WHERE upload_id = $id'
    return _warehouse(sql, id=str(upload.id))[0]


@pytest.fixture
def rejected(cast, sample) -> Upload:
    upload = upload_loaded(cast["mgr_uk_lon"], "UK-LON", sample(SLICE))
    assert upload.status == Upload.Status.LOADED_WITH_ERRORS
    assert upload.report["errors_by_reason"] == {"unknown country": 3}
    return upload


def test_unspecified_and_channel_islands_rows_are_rejected_and_offered_to_the_manager(client_of, rejected):
    assert rejected.report["unknown_countries"] == UNKNOWN
    assert _rows_of(rejected) == (rejected.rows_loaded, rejected.rows_loaded)

    page = client_of("mgr_uk_lon").get(f"/uploads/{rejected.id}/")

    assert 'id="unknown-countries"' in page.text
    fixes = {f["value"]: f for f in page.context["country_fixes"]}
    assert {v: f["rows"] for v, f in fixes.items()} == UNKNOWN
    # "Unspecified" names no country: the shop's own comes first; a real place does not get it first.
    assert fixes["Unspecified"]["choices"][0] == ("GB", "This shop's country: United Kingdom (GB)")
    assert not any("This shop" in label for _, label in fixes["Channel Islands"]["choices"])
    assert ("FR", "France (FR)") in fixes["Channel Islands"]["choices"]
    assert (fixes["Unspecified"]["suggested"], fixes["Channel Islands"]["suggested"]) == ("GB", "")
    assert '<option value="GB" selected>This shop' in page.text
    assert page.text.count(" selected>") == 1  # a real place is chosen by the manager, not preselected


def test_the_manager_maps_unspecified_for_the_shop_and_the_row_loads_into_the_same_upload(
    client_of, cast, rejected, worker_inline
):
    loaded_before = rejected.rows_loaded
    with worker_inline():
        response = client_of("mgr_uk_lon").post(
            f"/uploads/{rejected.id}/countries", {"value": "Unspecified", "country_code": "GB", "action": "map"}
        )

    assert response.status_code == 302
    rejected.refresh_from_db()
    assert (rejected.status, rejected.rows_rejected, rejected.rows_loaded) == (
        Upload.Status.LOADED_WITH_ERRORS,
        2,
        loaded_before + 1,
    )
    assert rejected.report["unknown_countries"] == {"Channel Islands": 2}
    # The batch was replaced: every row once, and nothing else in the warehouse.
    assert _rows_of(rejected) == (rejected.rows_loaded, rejected.rows_loaded)
    assert _warehouse('SELECT count(*) FROM "orders-cleaned"') == [(rejected.rows_loaded,)]
    assert Upload.objects.count() == 1
    mapping = ShopCountryMapping.objects.get()
    assert (mapping.shop.code, mapping.value, mapping.country_code, mapping.created_by) == (
        "UK-LON",
        "UNSPECIFIED",
        "GB",
        cast["mgr_uk_lon"],
    )
    event = rejected.events.get(kind=UploadEvent.Kind.COUNTRY_MAPPED)
    assert (event.actor, event.detail) == (cast["mgr_uk_lon"], "Unspecified -> GB for UK-LON")
    # The page's counts say it: 2 rejected now.
    page = client_of("mgr_uk_lon").get(f"/uploads/{rejected.id}/")
    assert page.context["status"]["rows_rejected"] == 2


def test_an_alias_request_approved_by_an_admin_in_one_click_reloads_the_same_upload(
    client_of, cast, rejected, worker_inline
):
    manager, admin = client_of("mgr_uk_lon"), client_of("admin")
    with worker_inline():
        manager.post(f"/uploads/{rejected.id}/countries", {"value": "Unspecified", "country_code": "GB"})
    manager.post(
        f"/uploads/{rejected.id}/countries",
        {"value": "Channel Islands", "country_code": "GB", "action": "request"},
    )
    request = CountryAliasRequest.objects.get()
    assert (request.value, request.country_code, request.decision) == ("CHANNEL ISLANDS", "GB", "pending")
    rejected.refresh_from_db()
    assert rejected.rows_rejected == 2  # nothing changes until an admin approves

    listed = admin.get("/uploads/")
    assert 'id="alias-requests"' in listed.text and list(listed.context["alias_requests"]) == [request]
    assert 'id="alias-requests"' not in manager.get("/uploads/").text
    with worker_inline():
        response = admin.post(f"/uploads/alias-requests/{request.id}/decision", {"decision": "approve"})

    assert response.status_code == 302
    assert CountryAlias.objects.get(alias="CHANNEL ISLANDS").country_code == "GB"
    request.refresh_from_db()
    assert (request.decision, request.decided_by) == ("approved", cast["admin"])
    rejected.refresh_from_db()
    assert (rejected.status, rejected.rows_rejected) == (Upload.Status.LOADED, 0)
    assert rejected.rows_loaded == rejected.rows_read - rejected.rows_dropped == 300
    assert _rows_of(rejected) == (300, 300)
    assert _warehouse('SELECT count(*) FROM "orders-cleaned"') == [(300,)]
    sql = """SELECT country_code, count(*) FROM "orders-cleaned" WHERE upload_id = $id
             AND source_row IN (52, 253, 75) GROUP BY 1"""
    assert _warehouse(sql, id=str(rejected.id)) == [("GB", 3)]
    assert rejected.events.filter(kind=UploadEvent.Kind.ALIAS_APPROVED, actor=cast["admin"]).count() == 1


def test_a_shops_mapping_is_for_that_shop_only(cast, sample, rejected, worker_inline):
    upload_country_map(
        scope=scope_for(cast["mgr_uk_lon"]), user=cast["mgr_uk_lon"], upload=rejected, value="Unspecified",
        country_code="GB",
    )  # fmt: skip

    other = upload_loaded(cast["admin"], "UK-MAN", sample(SLICE), name="manchester.csv")

    assert other.report["unknown_countries"] == UNKNOWN


def test_the_schema_preview_reads_the_shops_mappings_as_a_run_does(cast, rejected, worker_inline):
    with worker_inline():
        upload_country_map(
            scope=scope_for(cast["mgr_uk_lon"]), user=cast["mgr_uk_lon"], upload=rejected, value="unspecified ",
            country_code="GB",
        )  # fmt: skip
    rejected.refresh_from_db()

    (line,) = schema_preview(schema=SalesSchema.objects.get(is_active=True))

    assert (line.rejected_now, line.by_reason) == (rejected.rows_rejected, {"unknown country": 2})


def test_a_manager_of_another_shop_and_a_head_cannot_map_nor_ask(client_of, cast, rejected):
    form = {"value": "Unspecified", "country_code": "GB", "action": "map"}
    assert client_of("mgr_fr_par").post(f"/uploads/{rejected.id}/countries", form).status_code == 404
    head = client_of("head_uk")  # sees the upload, uploads for no shop
    assert head.get(f"/uploads/{rejected.id}/").context["country_fixes"][0]["choices"] == []
    assert head.post(f"/uploads/{rejected.id}/countries", form).status_code == 403
    assert head.post(f"/uploads/{rejected.id}/countries", form | {"action": "request"}).status_code == 403
    with pytest.raises(PermissionDenied):
        upload_country_map(
            scope=scope_for(cast["mgr_fr_par"]), user=cast["mgr_fr_par"], upload=rejected, value="Unspecified",
            country_code="FR",
        )  # fmt: skip

    assert not ShopCountryMapping.objects.exists() and not CountryAliasRequest.objects.exists()
    rejected.refresh_from_db()
    assert rejected.rows_rejected == 3


def test_only_an_admin_approves_an_alias(client_of, cast, rejected):
    client_of("mgr_uk_lon").post(
        f"/uploads/{rejected.id}/countries", {"value": "Channel Islands", "country_code": "GB", "action": "request"}
    )
    request = CountryAliasRequest.objects.get()

    for who in ("mgr_uk_lon", "head_uk"):
        response = client_of(who).post(f"/uploads/alias-requests/{request.id}/decision", {"decision": "approve"})
        assert response.status_code == 403, who

    assert not CountryAlias.objects.filter(alias="CHANNEL ISLANDS").exists()
    request.refresh_from_db()
    assert request.decision == "pending"


def test_only_the_uploads_unknown_values_and_known_countries_are_mapped(client_of, rejected):
    manager = client_of("mgr_uk_lon")

    wrong_value = manager.post(
        f"/uploads/{rejected.id}/countries", {"value": "France", "country_code": "GB"}, follow=True
    )
    wrong_code = manager.post(
        f"/uploads/{rejected.id}/countries", {"value": "Unspecified", "country_code": "XX"}, follow=True
    )

    assert "is not a country value this upload" in wrong_value.text
    assert "Unknown country code" in wrong_code.text
    assert not ShopCountryMapping.objects.exists()


def test_a_shop_mapping_to_a_country_no_alias_names_loads_with_that_code(cast, rejected):
    # An admin may map a shop's value to any ISO code (/admin/): the fact file's codes hold it.
    ShopCountryMapping.objects.create(shop=rejected.shop, value="CHANNEL ISLANDS", country_code="JE")

    again = pipeline_run(upload_id=rejected.id, force=True)

    assert (again.rows_rejected, again.rows_loaded) == (1, rejected.rows_loaded + 2)
    sql = 'SELECT source_row FROM "orders-cleaned" WHERE country_code = $code ORDER BY 1'
    assert _warehouse(sql, code="JE") == [(52,), (253,)]
