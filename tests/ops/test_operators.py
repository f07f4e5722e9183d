"""Operators reprocess an upload, delete its rows and re-run warehouse_sync, from the CLI
and the admin; on both warehouses, exactly that upload's rows change."""

import pytest
from django.core.management import call_command
from django.test import Client

from apps.uploads.models import Upload
from apps.uploads.run import pipeline_run
from apps.warehouse.fact import FACT_TABLE
from apps.warehouse.services import warehouse
from tests.factories import upload_of
from tests.warehouse.factories import EVERY_DAY

BACKENDS = ["embedded", pytest.param("bigquery", marks=pytest.mark.integration)]


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    if request.param == "bigquery":
        request.getfixturevalue("bigquery")  # the emulator, a dataset of this test's own
    return request.param


def rows_by_upload() -> dict[str, int]:
    table = warehouse().query(f'SELECT upload_id, count(*) AS n FROM "{FACT_TABLE}" WHERE {EVERY_DAY} GROUP BY 1')
    return {r["upload_id"]: r["n"] for r in table.to_pylist()}


@pytest.fixture
def two_uploads(backend, cast, sample) -> tuple[Upload, Upload]:
    us = pipeline_run(upload_id=upload_of(cast["mgr_us_nyc"], "US-NYC", sample("bernasiakk_usa.csv")).id)
    uk = pipeline_run(upload_id=upload_of(cast["mgr_uk_lon"], "UK-LON", sample("online_retail_sample_sfc.csv")).id)
    assert warehouse().name == backend
    return us, uk


def test_deleting_an_uploads_rows_removes_exactly_them_and_reprocess_brings_them_back(two_uploads, capsys):
    us, uk = two_uploads
    before = rows_by_upload()
    assert before[str(us.id)] == 291 and before[str(uk.id)] == uk.rows_loaded > 0

    call_command("upload_delete_rows", str(us.id))
    assert "Removed 291 rows" in capsys.readouterr().out
    assert rows_by_upload() == {str(uk.id): uk.rows_loaded}
    us.refresh_from_db()
    assert us.rows_loaded == 0 and "removed from the warehouse" in us.message

    call_command("upload_reprocess", str(us.id), "--inline")
    assert rows_by_upload() == before
    call_command("upload_reprocess", str(us.id), "--inline")  # again: the same rows, not twice as many
    assert rows_by_upload() == before


def test_cli_names_an_unknown_upload(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="No upload"):
        call_command("upload_delete_rows", "not-a-uuid")


@pytest.mark.django_db
def test_admin_actions_delete_rows_reprocess_and_sync(cast, sample, django_capture_on_commit_callbacks):
    us = pipeline_run(upload_id=upload_of(cast["mgr_us_nyc"], "US-NYC", sample("bernasiakk_usa.csv")).id)
    admin = Client()
    admin.force_login(cast["admin"])
    url = "/admin/uploads/upload/"

    admin.post(url, {"action": "delete_rows", "_selected_action": [str(us.id)]})
    assert rows_by_upload() == {}

    with django_capture_on_commit_callbacks() as callbacks:
        admin.post(url, {"action": "reprocess", "_selected_action": [str(us.id)]})
    us.refresh_from_db()
    assert us.status == Upload.Status.QUEUED and len(callbacks) == 1  # handed to a worker on commit

    response = admin.post(url + "warehouse-sync/", follow=True)
    assert "warehouse_sync: the warehouse is up to date." in [str(m) for m in response.context["messages"]]
    assert "Run warehouse_sync" in admin.get(url).content.decode()
    manager = Client()
    manager.force_login(cast["mgr_us_nyc"])
    assert manager.post(url + "warehouse-sync/").status_code == 302  # to the admin login
