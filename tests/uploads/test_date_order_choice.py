"""Dates that read both ways (4/5/2011): when none of a file's dates decides the order, the
region's usual one is used and said; whoever uploads for the shop can have the file read
the other way instead."""

from datetime import date

import pytest

from apps.uploads.models import Upload, UploadEvent
from apps.warehouse.services import warehouse
from tests.factories import upload_loaded

HEADER = "InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice,Country\n"
# Every date reads both ways: 5 Dec or 12 May.
AMBIGUOUS = HEADER + "1,A,2,12/05/2011 10:00,1.50,France\n2,B,1,12/05/2011 11:00,3.00,France\n"


@pytest.fixture
def loaded(cast, tmp_path) -> Upload:
    path = tmp_path / "paris.csv"
    path.write_text(AMBIGUOUS)
    return upload_loaded(cast["mgr_fr_par"], "FR-PAR", path)


def _days(upload_id) -> set[date]:
    sql = 'SELECT DISTINCT order_date FROM "orders-cleaned" WHERE upload_id = $id'
    return {r["order_date"] for r in warehouse().query(sql, {"id": str(upload_id)}).to_pylist()}


def test_an_ambiguous_file_offers_the_other_order_and_is_read_again_in_it(client_of, cast, loaded, worker_inline):
    assert _days(loaded.id) == {date(2011, 5, 12)}  # France reads day first
    client = client_of("mgr_fr_par")
    page = client.get(f"/uploads/{loaded.id}/")
    assert loaded.report["date_order_note"].endswith("used the region's usual order (day first)")
    assert 'id="date-order-form"' in page.text
    assert page.context["date_orders"] and '<option value="DMY" selected>' in page.text

    with worker_inline():
        response = client.post(f"/uploads/{loaded.id}/dates", {"date_order": "MDY"})

    assert response.status_code == 302
    loaded.refresh_from_db()
    assert (loaded.status, loaded.rows_loaded, loaded.date_order) == (Upload.Status.LOADED, 2, "MDY")
    assert _days(loaded.id) == {date(2011, 12, 5)}  # replaced, not added to
    assert loaded.report["date_order_note"].endswith("used the order chosen for this upload (month first)")
    chosen = loaded.events.get(kind=UploadEvent.Kind.DATES_CHOSEN)
    assert (chosen.actor, chosen.detail) == (cast["mgr_fr_par"], "Month first (4/19/2011)")
    assert '<option value="MDY" selected>' in client.get(f"/uploads/{loaded.id}/").text


def test_a_file_whose_dates_decide_offers_no_choice(client_of, cast, tmp_path):
    path = tmp_path / "paris.csv"
    path.write_text(HEADER + "1,A,2,19/05/2011 10:00,1.50,France\n")
    upload = upload_loaded(cast["mgr_fr_par"], "FR-PAR", path)

    page = client_of("mgr_fr_par").get(f"/uploads/{upload.id}/")

    assert page.context["date_orders"] == []
    assert 'id="date-order-form"' not in page.text


def test_only_those_who_upload_for_the_shop_choose_and_only_a_known_order(client_of, loaded):
    head = client_of("head_fr")
    assert head.get(f"/uploads/{loaded.id}/").context["date_orders"] == []
    assert head.post(f"/uploads/{loaded.id}/dates", {"date_order": "MDY"}).status_code == 403
    assert client_of("mgr_uk_lon").post(f"/uploads/{loaded.id}/dates", {"date_order": "MDY"}).status_code == 404

    response = client_of("mgr_fr_par").post(f"/uploads/{loaded.id}/dates", {"date_order": "YMD"}, follow=True)

    assert "Unknown date order &#x27;YMD&#x27;" in response.text
    loaded.refresh_from_db()
    assert (loaded.status, loaded.date_order) == (Upload.Status.LOADED, "")
