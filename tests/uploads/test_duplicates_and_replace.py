"""The same file twice is caught before anything is loaded, and the user chooses; a
corrected file replaces an upload so the warehouse holds the corrected batch only."""

import io

import pytest
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.storage import default_storage

from apps.accounts.access import scope_for
from apps.accounts.models import Shop
from apps.uploads.models import Upload, UploadEvent
from apps.uploads.run import upload_run
from apps.uploads.services import DuplicateUpload, upload_create
from apps.warehouse.services import warehouse

from .helpers import CORRECTED, SOME_BAD, post_file


def _create(user, shop_code: str, content: str, **kwargs) -> Upload:
    return upload_create(
        scope=scope_for(user),
        user=user,
        shop=Shop.objects.get(code=shop_code),
        file=File(io.BytesIO(content.encode()), name="sales.csv"),
        name="sales.csv",
        **{"enqueue": False, **kwargs},
    )


def _rows(upload_id) -> int:
    sql = 'SELECT count(*) FROM "orders-cleaned" WHERE upload_id = $id'
    return warehouse().query(sql, {"id": str(upload_id)}).column(0)[0].as_py()


def _all_rows() -> int:
    return warehouse().query('SELECT count(*) FROM "orders-cleaned"').column(0)[0].as_py()


@pytest.fixture
def first(cast) -> Upload:
    return upload_run(upload_id=_create(cast["mgr_us_nyc"], "US-NYC", SOME_BAD).id)


def test_same_content_for_the_same_shop_is_held_and_not_enqueued(cast, first, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as enqueued:
        second = _create(cast["mgr_us_nyc"], "US-NYC", SOME_BAD, enqueue=True)

    assert (second.status, second.duplicate_of) == (Upload.Status.DUPLICATE, first)
    assert enqueued == []
    assert default_storage.exists(second.raw_path)  # kept until the user chooses


def test_same_content_for_another_shop_is_not_a_duplicate(cast, first):
    assert _create(cast["admin"], "US-SFO", SOME_BAD).status == Upload.Status.QUEUED


def test_duplicate_page_says_when_and_by_whom_and_offers_replace_or_cancel(client_of, cast, first):
    response = post_file(client_of("mgr_us_nyc"), "US-NYC", SOME_BAD.encode())
    assert response.json()["status"] == "duplicate"

    page = client_of("mgr_us_nyc").get(response.json()["url"])

    when = first.created_at.strftime("%Y-%m-%d at %H:%M")
    assert f"has the same content as &#x27;sales.csv&#x27;, uploaded by mgr_us_nyc on {when}." in page.text
    assert 'value="replace"' in page.text and 'value="cancel"' in page.text


def test_cancelling_a_duplicate_keeps_the_record_and_deletes_the_file(
    client_of, cast, first, django_capture_on_commit_callbacks
):
    client = client_of("mgr_us_nyc")
    held = Upload.objects.get(pk=post_file(client, "US-NYC", SOME_BAD.encode()).json()["id"])

    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/uploads/{held.id}/decision", {"choice": "cancel"})

    held.refresh_from_db()
    assert held.status == Upload.Status.CANCELLED
    assert not default_storage.exists(held.raw_path)
    assert held.events.filter(kind=UploadEvent.Kind.CANCELLED, actor=cast["mgr_us_nyc"]).exists()
    assert _rows(first.id) == 3


def test_choosing_replace_loads_the_duplicate_in_place_of_the_earlier_upload(client_of, cast, first, worker_inline):
    client = client_of("mgr_us_nyc")
    held = Upload.objects.get(pk=post_file(client, "US-NYC", SOME_BAD.encode()).json()["id"])

    with worker_inline():
        client.post(f"/uploads/{held.id}/decision", {"choice": "replace"})

    held.refresh_from_db()
    assert (held.status, held.replaces) == (Upload.Status.LOADED_WITH_ERRORS, first)
    assert (_rows(first.id), _rows(held.id), _all_rows()) == (0, 3, 3)  # not loaded twice
    assert first.events.filter(kind=UploadEvent.Kind.REPLACED, detail=str(held.id)).exists()


def test_on_duplicate_cancel_refuses_before_storing(cast, first, data_dir):
    with pytest.raises(DuplicateUpload) as refused:
        _create(cast["mgr_us_nyc"], "US-NYC", SOME_BAD, on_duplicate="cancel")

    assert refused.value.earlier == first
    assert Upload.objects.count() == 1


def test_a_regional_head_cannot_decide_and_another_shops_manager_gets_404(client_of, cast, first):
    held = _create(cast["mgr_us_nyc"], "US-NYC", SOME_BAD)

    assert client_of("head_us").post(f"/uploads/{held.id}/decision", {"choice": "cancel"}).status_code == 403
    assert client_of("mgr_uk_lon").post(f"/uploads/{held.id}/decision", {"choice": "cancel"}).status_code == 404
    assert Upload.objects.get(pk=held.id).status == Upload.Status.DUPLICATE


def test_corrected_file_replaces_the_upload_and_the_warehouse_holds_only_it(client_of, cast, first, worker_inline):
    with worker_inline():
        response = post_file(client_of("mgr_us_nyc"), "US-NYC", CORRECTED.encode(), "fixed.csv", replaces=first.id)

    fixed = Upload.objects.get(pk=response.json()["id"])
    assert (fixed.status, fixed.replaces, fixed.rows_loaded) == (Upload.Status.LOADED, first, 5)
    assert (_rows(first.id), _rows(fixed.id), _all_rows()) == (0, 5, 5)
    page = client_of("head_us").get(f"/uploads/{first.id}/")
    assert "Replaced by" in page.text and "fixed.csv" in page.text


def test_replacement_that_is_rejected_leaves_the_earlier_rows_in_place(cast, first):
    bad = "InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice\n" + "".join(f"{i},A,x,y,z\n" for i in range(5))
    fixed = upload_run(upload_id=_create(cast["mgr_us_nyc"], "US-NYC", bad, replaces=first).id)

    assert fixed.status == Upload.Status.REJECTED
    assert _rows(first.id) == 3


def test_replacing_another_shops_upload_is_404_and_stores_nothing(client_of, cast, first):
    response = post_file(client_of("mgr_uk_lon"), "UK-LON", CORRECTED.encode(), replaces=first.id)

    assert response.status_code == 404
    assert Upload.objects.count() == 1


def test_an_upload_replaced_once_cannot_be_replaced_again(cast, first):
    upload_run(upload_id=_create(cast["mgr_us_nyc"], "US-NYC", CORRECTED, replaces=first).id)

    with pytest.raises(ValidationError, match=r"was replaced by 'sales\.csv'; replace that one"):
        _create(cast["mgr_us_nyc"], "US-NYC", CORRECTED + "\n", replaces=first)


def test_an_upload_still_queued_cannot_be_replaced(cast):
    queued = _create(cast["mgr_us_nyc"], "US-NYC", SOME_BAD)

    with pytest.raises(ValidationError, match="is still queued; wait until it ends"):
        _create(cast["mgr_us_nyc"], "US-NYC", CORRECTED, replaces=queued)
