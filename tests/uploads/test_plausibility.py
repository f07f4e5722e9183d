"""An upload unlike its shop's usual uploads is held (status implausible) before it loads: its
page says why beside a chart of the shop's recent uploads and offers confirm or cancel, as
the API does; `ingest` holds it (exit 3) unless --accept-implausible. Real months of a real
file (tests/uploads/shop_months.py) make the shop's history."""

import json
from datetime import UTC, datetime
from io import StringIO

import pytest
from django.core import mail
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.core.management.base import CommandError
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from apps.accounts.access import scope_for
from apps.accounts.models import Shop
from apps.uploads.models import Upload, UploadEvent
from apps.uploads.run import upload_run
from apps.uploads.services import upload_create, upload_reprocess
from apps.warehouse.services import warehouse
from tests.uploads.shop_months import SHOPS, csv_bytes, fault, months_of

SMALL = SHOPS["UK-MAN"]  # the first 300 lines of the Online Retail sample: 13 months of ~20 lines


def _upload(user, month_index: int, content: bytes, *, name: str = "", run: bool = True, **options) -> Upload:
    """An upload for UK-LON made a few days after the month `month_index` of SMALL ends."""
    month = months_of(SMALL)[month_index]
    shop = Shop.objects.get(code="UK-LON")
    upload = upload_create(
        scope=scope_for(user), user=user, shop=shop, file=ContentFile(content), name=name or f"{month.label}.csv",
        enqueue=False, **options,
    )  # fmt: skip
    year, number = (month.year + 1, 1) if month.month == 12 else (month.year, month.month + 1)
    Upload.objects.filter(pk=upload.pk).update(created_at=datetime(year, number, 3, tzinfo=UTC))
    return upload_run(upload_id=upload.id) if run else Upload.objects.get(pk=upload.pk)


def _history(user, months: int = 3) -> list[Upload]:
    loaded = []
    for k, month in enumerate(months_of(SMALL)[:months]):
        loaded.append(_upload(user, k, csv_bytes(month.header, month.rows)))
    assert all(u.status in Upload.IN_WAREHOUSE for u in loaded)
    return loaded


def _prices_x100(month_index: int = 3) -> bytes:
    return fault("prices_x100", SMALL, months_of(SMALL)[month_index])


@pytest.fixture
def manager(cast):
    return cast["mgr_uk_lon"]


@pytest.fixture
def held(manager) -> Upload:
    _history(manager)
    upload = _upload(manager, 3, _prices_x100(), name="april-cents.csv")
    assert upload.status == Upload.Status.IMPLAUSIBLE, upload.message
    return upload


def test_an_upload_with_prices_a_hundred_times_the_usual_is_held_and_nothing_of_it_loads(held):
    assert "median unit price" in held.message and "times the shop's usual" in held.message
    assert held.rows_loaded == 0
    assert str(held.id) not in warehouse().batch_rows()
    findings = held.report["plausibility"]
    assert findings["held"] and len(findings["history"]) == 3
    price = next(c for c in findings["checks"] if c["key"] == "median_price")
    assert 50 < price["ratio"] < 200  # cents read as units: ~100 times
    kinds = list(held.events.values_list("kind", flat=True))
    assert UploadEvent.Kind.IMPLAUSIBLE in kinds and UploadEvent.Kind.NOTIFIED in kinds
    assert "is held" in mail.outbox[-1].body and f"/uploads/{held.id}/" in mail.outbox[-1].body


def test_the_page_says_why_draws_the_comparison_and_offers_confirm_or_cancel(held, client_of):
    page = client_of("mgr_uk_lon").get(f"/uploads/{held.id}/").content.decode()
    assert "Unlike this shop&#x27;s usual uploads" in page or "Unlike this shop's usual uploads" in page
    assert 'id="plausibility-reasons"' in page and "median unit price" in page
    assert page.count("<svg") >= 3 and 'class="held"' in page  # one chart per figure, the held bar marked
    assert 'value="confirm"' in page and 'value="cancel"' in page
    # The regional head sees the page, and may not decide for the shop.
    head_page = client_of("head_uk").get(f"/uploads/{held.id}/").content.decode()
    assert 'id="plausibility-reasons"' in head_page and 'value="confirm"' not in head_page
    assert client_of("head_uk").post(f"/uploads/{held.id}/plausibility", {"choice": "confirm"}).status_code == 403


def test_confirming_loads_it_and_records_who_confirmed(held, client_of, worker_inline):
    with worker_inline():
        response = client_of("mgr_uk_lon").post(f"/uploads/{held.id}/plausibility", {"choice": "confirm"})
    assert response.status_code == 302
    held.refresh_from_db()
    assert held.status in Upload.IN_WAREHOUSE and held.plausibility_accepted
    assert warehouse().batch_rows()[str(held.id)] == held.rows_loaded > 0
    confirmed = held.events.get(kind=UploadEvent.Kind.CONFIRMED)
    assert confirmed.actor.username == "mgr_uk_lon" and "median unit price" in confirmed.detail
    page = client_of("mgr_uk_lon").get(f"/uploads/{held.id}/").content.decode()
    assert "Loaded although unlike the shop" in page


def test_cancelling_through_the_api_loads_nothing_and_a_second_choice_is_refused(held, cast):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=cast['mgr_uk_lon'])[0].key}")
    body = api.get(f"/api/uploads/{held.id}/").json()
    assert body["status"] == "implausible" and body["awaits_choice"]
    assert any("median unit price" in r for r in body["plausibility"]["reasons"])

    cancelled = api.post(f"/api/uploads/{held.id}/plausibility", {"choice": "cancel"}, format="json")
    again = api.post(f"/api/uploads/{held.id}/plausibility", {"choice": "confirm"}, format="json")

    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert again.status_code == 409
    assert str(held.id) not in warehouse().batch_rows()
    # Cancelled, the same file may be uploaded again (it no longer holds its content).
    assert _upload(cast["mgr_uk_lon"], 3, _prices_x100(), run=False).status == Upload.Status.QUEUED


def test_a_shop_with_fewer_than_three_earlier_uploads_is_never_held(manager):
    _history(manager, months=2)
    upload = _upload(manager, 3, _prices_x100())
    assert upload.status in Upload.IN_WAREHOUSE
    assert "fewer than 3" in upload.report["plausibility"]["note"]


def test_the_real_next_month_loads(manager):
    _history(manager)
    month = months_of(SMALL)[3]
    upload = _upload(manager, 3, csv_bytes(month.header, month.rows))
    assert upload.status in Upload.IN_WAREHOUSE
    assert not upload.report["plausibility"]["held"] and upload.summary["lines"] == upload.rows_loaded


def test_a_held_upload_run_again_removes_the_rows_an_earlier_run_loaded(manager):
    _history(manager)
    accepted = _upload(manager, 3, _prices_x100(), accept_implausible=True)
    assert accepted.status in Upload.IN_WAREHOUSE and str(accepted.id) in warehouse().batch_rows()
    # Were it no longer accepted (the field set back in the database), its next run holds it and its rows go.
    Upload.objects.filter(pk=accepted.pk).update(plausibility_accepted=False)

    again = upload_reprocess(upload_id=accepted.id, inline=True)

    assert again.status == Upload.Status.IMPLAUSIBLE
    assert str(accepted.id) not in warehouse().batch_rows()
    again.refresh_from_db()
    assert again.warehouse_rows is None  # the reconciliation agrees: a held upload has no rows


def _ingest(path, *options) -> tuple[int, list[dict]]:
    out = StringIO()
    try:
        call_command("ingest", str(path), "--shop=UK-LON", "--inline", "--json", *options, stdout=out)
        code = 0
    except CommandError as exc:
        code = exc.returncode
    return code, [json.loads(line) for line in out.getvalue().splitlines()]


def test_ingest_holds_it_with_exit_code_3_and_loads_it_with_accept_implausible(manager, tmp_path):
    _history(manager)
    path = tmp_path / "april-cents.csv"
    path.write_bytes(_prices_x100())
    # ingest uploads now, years after these sales: the history's uploads must be as recent.
    Upload.objects.update(created_at=datetime.now(UTC))

    code, [summary] = _ingest(path)
    assert (code, summary["status"], summary["rows_loaded"]) == (3, "implausible", 0)
    assert any("median unit price" in r for r in summary["plausibility"]["reasons"])

    path.write_bytes(_prices_x100() + b"\n")  # another file, not a duplicate of the held one
    code, [summary] = _ingest(path, "--accept-implausible")
    assert code == 0 and summary["status"] in Upload.IN_WAREHOUSE
    assert Upload.objects.get(pk=summary["upload_id"]).report["plausibility"]["held"]
