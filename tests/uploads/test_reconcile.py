"""The reconciliation: what each upload says it loaded against what the warehouse holds, per
upload id. The probe of issue 17 emptied one Delta commit file: the upload still said
"loaded", the warehouse held none of its rows, and nothing noticed. Now the mismatch is
found (after each load, on beat's schedule, by `manage.py warehouse_reconcile`), marks the
upload (history, page, admin), emails the admins once, shows on /readyz, and --repair
reprocesses the upload."""

import io
import json
import uuid
from contextlib import redirect_stdout

import pytest
from django.core import mail
from django.core.management import call_command
from django.test import Client

from apps.uploads.models import Upload, UploadEvent
from apps.uploads.reconcile import uploads_reconcile
from apps.uploads.run import pipeline_run
from apps.uploads.tasks import reconcile_warehouse
from apps.warehouse.embedded import EmbeddedWarehouse
from apps.warehouse.services import warehouse
from tests.factories import upload_loaded, upload_of
from tests.warehouse.factories import fact_rows

from .helpers import CORRECTED, SOME_BAD


def _reconcile(*args: str) -> tuple[int, dict]:
    out = io.StringIO()
    code = 0
    with redirect_stdout(out):
        try:
            call_command("warehouse_reconcile", "--json", *args, stdout=out)
        except SystemExit as exited:
            code = exited.code
    return code, json.loads(out.getvalue().strip().splitlines()[-1])


def _rows(upload_id) -> int:
    return warehouse().batch_rows(upload_ids=[str(upload_id)]).get(str(upload_id), 0)


def _empty_the_commit_of(upload: Upload, data_dir) -> None:
    """As the probe did: the log file of the commit that added the upload's file, emptied."""
    log = data_dir / "warehouse" / "orders-cleaned" / "_delta_log"
    [commit] = [p for p in sorted(log.glob("*.json")) if str(upload.id) in p.read_text()]
    commit.write_bytes(b"")


@pytest.fixture
def loaded(cast, sample, tmp_path):
    usa = upload_loaded(cast["mgr_us_nyc"], "US-NYC", sample("bernasiakk_usa.csv"))
    path = tmp_path / "uk.csv"
    path.write_text(CORRECTED.replace("USA", "United Kingdom"))
    uk = upload_loaded(cast["mgr_uk_lon"], "UK-LON", path)
    assert (usa.rows_loaded, uk.rows_loaded) == (291, 5)
    assert (usa.warehouse_rows, uk.warehouse_rows) == (None, None)  # each load was compared: they agree
    mail.outbox.clear()
    return usa, uk


def test_an_emptied_commit_file_is_found_marked_told_and_repaired(loaded, data_dir, client_of):
    usa, uk = loaded
    _empty_the_commit_of(usa, data_dir)
    assert _rows(usa.id) == 0  # what every new reader of the table sees now

    code, found = _reconcile()

    assert code == 1
    assert found["mismatches"] == [{"upload_id": str(usa.id), "expected": 291, "found": 0, "repair": "reprocess"}]
    usa.refresh_from_db()
    assert (usa.status, usa.warehouse_rows) == (Upload.Status.LOADED, 0)
    assert usa.events.filter(kind=UploadEvent.Kind.MISMATCH, detail__contains="holds 0 rows of this upload, not 291")
    # The admins are told, once per mismatch.
    assert [sorted(m.to) for m in mail.outbox] == [["admin@example.com"]]
    told = mail.outbox[0].body
    assert f"/uploads/{usa.id}/" in told and "0 rows in the warehouse, 291 expected" in told
    reconcile_warehouse()  # beat's run: the same mismatch, no second email
    assert len(mail.outbox) == 1
    # Seen on the upload's page, in the admin, and on /readyz.
    page = client_of("head_us").get(f"/uploads/{usa.id}/").text
    assert 'id="warehouse-mismatch"' in page and "holds 0 rows of this upload, not 291" in page
    admin_list = client_of("admin").get("/admin/uploads/upload/?warehouse=mismatch").text
    assert usa.original_name in admin_list and "uk.csv" not in admin_list
    ready = Client().get("/readyz")  # a state word for anyone, not blocking: the web serves the repair
    assert (ready.status_code, ready.json()["status"], ready.json()["checks"]["warehouse"]) == (
        200,
        "degraded",
        "mismatch",
    )
    staff = client_of("admin").get("/readyz").json()
    assert "1 upload(s) hold other rows than they loaded" in staff["details"]["warehouse"]

    code, repaired = _reconcile("--repair", "--inline")

    assert (code, repaired["mismatches"], repaired["repaired"]) == (0, [], [str(usa.id)])
    assert (_rows(usa.id), _rows(uk.id)) == (291, 5)
    usa.refresh_from_db()
    assert (usa.status, usa.rows_loaded, usa.warehouse_rows) == (Upload.Status.LOADED, 291, None)
    assert usa.events.filter(kind=UploadEvent.Kind.RECONCILED).exists()
    assert Client().get("/readyz").json()["checks"]["warehouse"] == "ok"
    assert 'id="warehouse-mismatch"' not in client_of("head_us").get(f"/uploads/{usa.id}/").text


def test_a_load_that_leaves_other_rows_than_it_counted_is_marked_right_after_it(cast, tmp_path, monkeypatch):
    real = EmbeddedWarehouse.replace_batch

    def replace_batch(self, **kwargs) -> int:  # a backend that loses a row and says it did not
        return real(self, **kwargs) + 1

    monkeypatch.setattr(EmbeddedWarehouse, "replace_batch", replace_batch)
    path = tmp_path / "sales.csv"
    path.write_text(CORRECTED)

    upload = upload_loaded(cast["mgr_us_nyc"], "US-NYC", path)

    upload.refresh_from_db()
    assert (upload.rows_loaded, upload.warehouse_rows) == (6, 5)
    assert len(mail.outbox) == 1 and "5 rows in the warehouse, 6 expected" in mail.outbox[0].body


def test_rows_left_by_a_replaced_upload_are_a_mismatch_that_the_repair_removes(cast, tmp_path):
    first, fixed = tmp_path / "first.csv", tmp_path / "fixed.csv"
    first.write_text(SOME_BAD)
    fixed.write_text(CORRECTED)
    old = upload_loaded(cast["mgr_us_nyc"], "US-NYC", first)
    new = upload_of(cast["mgr_us_nyc"], "US-NYC", fixed)
    Upload.objects.filter(pk=new.pk).update(replaces=old)
    pipeline_run(upload_id=new.id)
    warehouse().replace_batch(upload_id=str(old.id), table=fact_rows(str(old.id), 3))  # its rows back, by hand

    code, found = _reconcile()

    assert code == 1
    assert found["mismatches"] == [{"upload_id": str(old.id), "expected": 0, "found": 3, "repair": "remove"}]

    code, repaired = _reconcile("--repair")

    assert (code, repaired["mismatches"], repaired["repaired"]) == (0, [], [str(old.id)])
    assert (_rows(old.id), _rows(new.id)) == (0, 5)
    old.refresh_from_db()
    assert (old.status, old.rows_loaded, old.warehouse_rows) == (Upload.Status.LOADED_WITH_ERRORS, 3, None)


def test_uploads_whose_rows_are_about_to_change_are_left_out(loaded, cast, tmp_path):
    """A replacement queued: its commit removes the replaced upload's rows before its ending
    is saved. Neither is compared until it has ended."""
    usa, _ = loaded
    path = tmp_path / "fixed.csv"
    path.write_text(CORRECTED)
    fixed = upload_of(cast["mgr_us_nyc"], "US-NYC", path)
    Upload.objects.filter(pk=fixed.pk).update(replaces=usa)
    warehouse().delete_batch(upload_id=str(usa.id))  # as that commit would

    assert uploads_reconcile().mismatches == []


def test_rows_of_no_known_upload_are_reported(loaded):
    stray = str(uuid.uuid4())
    warehouse().replace_batch(upload_id=stray, table=fact_rows(stray, 2))

    code, found = _reconcile()

    assert (code, found["mismatches"], found["unknown"]) == (1, [], {stray: 2})
