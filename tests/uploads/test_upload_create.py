"""uploads.services.upload_create: the raw file kept safe, the upload recorded, the ETL enqueued."""

import hashlib
import io

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files import File
from django.core.files.storage import default_storage
from django.utils import timezone

from apps.accounts.access import scope_for
from apps.accounts.models import Shop
from apps.uploads.models import Upload
from apps.uploads.services import upload_create
from salesapp.celery import app as celery_app
from tests.factories import upload_of


def _create(user, shop_code: str, content: bytes, name: str, **kwargs) -> Upload:
    return upload_create(
        scope=scope_for(user),
        user=user,
        shop=Shop.objects.get(code=shop_code),
        file=File(io.BytesIO(content), name=name),
        name=name,
        **{"enqueue": False, **kwargs},
    )


def test_manager_upload_is_stored_raw_under_country_and_day_and_recorded_as_queued(cast, sample):
    path = sample("bernasiakk_usa.csv")

    upload = upload_of(cast["mgr_us_nyc"], "US-NYC", path)

    day = timezone.localdate(upload.created_at)
    assert upload.raw_path == f"raw/US/{day:%Y/%m/%d}/{upload.id}/bernasiakk_usa.csv"
    with default_storage.open(upload.raw_path, "rb") as stored:
        assert stored.read() == path.read_bytes()
    upload.refresh_from_db()
    assert upload.status == Upload.Status.QUEUED
    assert upload.uploaded_by == cast["mgr_us_nyc"]
    assert upload.shop.code == "US-NYC"
    assert upload.original_name == "bernasiakk_usa.csv"
    assert upload.size_bytes == path.stat().st_size
    assert upload.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_uk_upload_lands_under_gb(cast, sample):
    upload = upload_of(cast["mgr_uk_lon"], "UK-LON", sample("online_retail_sample_sfc.xlsx"))

    assert upload.raw_path.startswith("raw/GB/")
    assert upload.raw_path.endswith(f"/{upload.id}/online_retail_sample_sfc.xlsx")


@pytest.mark.parametrize(
    ("name", "stored_as"),
    [
        ("../../etc/passwd.csv", "passwd.csv"),
        ("..\\..\\windows\\sales.csv", "sales.csv"),
        ("/abs/path/sales.csv", "sales.csv"),
        ("my sales (march).csv", "my_sales_march.csv"),
    ],
)
def test_name_with_path_parts_is_stored_under_a_safe_name_in_its_own_folder(cast, data_dir, name, stored_as):
    upload = _create(cast["mgr_us_nyc"], "US-NYC", b"a,b\n1,2\n", name)

    assert upload.raw_path.startswith("raw/US/")
    assert upload.raw_path.endswith(f"/{upload.id}/{stored_as}")
    assert ".." not in upload.raw_path
    files = data_dir / "files"
    assert (files / upload.raw_path).resolve().is_relative_to(files.resolve())
    assert upload.original_name == name  # shown to the user as given (templates escape it)


def test_same_file_twice_makes_two_uploads_in_two_folders(cast):
    first = _create(cast["mgr_us_nyc"], "US-NYC", b"a,b\n1,2\n", "sales.csv")
    second = _create(cast["mgr_us_nyc"], "US-NYC", b"a,b\n1,2\n", "sales.csv")

    assert first.raw_path != second.raw_path
    assert first.sha256 == second.sha256


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        (b"", "sales.csv", "'sales.csv' is empty."),
        (b"MZ\x90\x00", "setup.exe", "'setup.exe' is not a CSV or Excel file."),
        (b"%PDF-1.4", "sales.pdf", "'sales.pdf' is not a CSV or Excel file."),
        (b"a,b\n", "sales", "'sales' is not a CSV or Excel file."),
        (b"a,b\n", "sales.csv.exe", "'sales.csv.exe' is not a CSV or Excel file."),
    ],
)
def test_refused_file_leaves_no_upload_and_no_stored_file(cast, data_dir, content, name, message):
    with pytest.raises(ValidationError) as refused:
        _create(cast["mgr_us_nyc"], "US-NYC", content, name)

    assert refused.value.messages[0].startswith(message)
    assert not Upload.objects.exists()
    assert not (data_dir / "files" / "raw").exists()


def test_file_over_the_size_limit_is_refused_with_both_sizes_in_words(cast, settings):
    settings.UPLOAD_MAX_BYTES = 1000

    with pytest.raises(ValidationError) as refused:
        _create(cast["mgr_us_nyc"], "US-NYC", b"x" * 1500, "big.csv")

    assert refused.value.messages[0].replace("\xa0", " ") == "'big.csv' is 1.5 KB; the limit is 1000 bytes."
    assert not Upload.objects.exists()


def test_size_limit_in_the_error_is_the_one_the_form_announces(cast, settings):
    settings.UPLOAD_MAX_BYTES = 500 * 1024 * 1024  # the form says "up to 500 MB"
    huge = File(io.BytesIO(b"a,b\n"), name="huge.csv")
    huge.size = 600 * 1024 * 1024

    with pytest.raises(ValidationError) as refused:
        upload_create(scope=scope_for(cast["admin"]), user=None, shop=Shop.objects.first(), file=huge, name="huge.csv")

    assert refused.value.messages[0].replace("\xa0", " ") == "'huge.csv' is 600.0 MB; the limit is 500.0 MB."


def test_file_exactly_at_the_limit_is_accepted(cast, settings):
    settings.UPLOAD_MAX_BYTES = 8

    assert _create(cast["mgr_us_nyc"], "US-NYC", b"a,b\n1,2\n", "sales.csv").size_bytes == 8


@pytest.mark.parametrize(
    ("username", "shop"), [("head_us", "US-NYC"), ("mgr_us_nyc", "US-SFO"), ("mgr_uk_lon", "US-NYC")]
)
def test_user_cannot_upload_for_a_shop_outside_their_upload_rights(cast, username, shop):
    with pytest.raises(PermissionDenied, match=f"cannot upload for shop {shop}"):
        _create(cast[username], shop, b"a,b\n1,2\n", "sales.csv")

    assert not Upload.objects.exists()


def test_admin_may_upload_for_any_shop(cast):
    assert _create(cast["admin"], "AU-MEL", b"a,b\n1,2\n", "sales.csv").raw_path.startswith("raw/AU/")


def test_etl_is_enqueued_only_once_the_upload_is_committed(cast, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        upload = _create(cast["mgr_us_nyc"], "US-NYC", b"a,b\n1,2\n", "sales.csv", enqueue=True)
        assert callbacks == []  # nothing reaches the broker inside the transaction

    assert len(callbacks) == 1
    assert Upload.objects.get(pk=upload.pk).status == Upload.Status.QUEUED


def test_committed_upload_is_processed_by_the_task(cast, sample, django_capture_on_commit_callbacks, monkeypatch):
    # Eager Celery runs the real task in this process (unit tests only; integration tests use a worker).
    monkeypatch.setitem(celery_app.conf, "task_always_eager", True)
    path = sample("bernasiakk_usa.csv")

    with django_capture_on_commit_callbacks(execute=True):
        upload = _create(cast["mgr_us_nyc"], "US-NYC", path.read_bytes(), path.name, enqueue=True)

    upload.refresh_from_db()
    assert upload.status == Upload.Status.LOADED
    assert upload.rows_loaded == 291


def test_upload_stays_queued_when_the_broker_cannot_be_reached(cast, django_capture_on_commit_callbacks, monkeypatch):
    from apps.uploads.tasks import process_upload

    def broker_down(*args, **kwargs):
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(process_upload, "delay", broker_down)  # a broker outage cannot be staged here

    with django_capture_on_commit_callbacks(execute=True):
        upload = _create(cast["mgr_us_nyc"], "US-NYC", b"a,b\n1,2\n", "sales.csv", enqueue=True)

    assert Upload.objects.get(pk=upload.pk).status == Upload.Status.QUEUED
