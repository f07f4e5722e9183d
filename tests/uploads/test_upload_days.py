"""Each loaded upload's lines per order day, country and shop (UploadDay), kept at load time:
what the report pages read instead of the warehouse. A load records them, an upload that
ends without rows has none, and the uploads loaded before they were kept get theirs once
from the warehouse (`manage.py upload_days_backfill`)."""

from django.core.management import call_command
from django.db.models import Max, Min, Sum

from apps.uploads.models import UploadDay
from apps.uploads.services import upload_delete_rows
from apps.warehouse.services import warehouse_version
from tests.factories import upload_loaded


def _days(upload) -> dict:
    return {(d.order_date, d.country_code, d.store_id): d.lines for d in UploadDay.objects.filter(upload=upload)}


def test_a_load_keeps_its_rows_days_and_a_new_warehouse_version(cast, sample):
    before = warehouse_version()
    upload = upload_loaded(cast["mgr_uk_lon"], "UK-LON", sample("online_retail_sample_sfc.csv"))

    days = UploadDay.objects.filter(upload=upload)
    assert days.aggregate(n=Sum("lines"))["n"] == upload.rows_loaded
    span = days.aggregate(first=Min("order_date"), last=Max("order_date"))
    assert (span["first"], span["last"]) == (upload.first_order_date, upload.last_order_date)
    assert {d.country_code for d in days} > {"GB"}  # the London file's customers abroad too
    assert warehouse_version() != before


def test_rows_removed_take_their_days_with_them(cast, sample):
    upload = upload_loaded(cast["mgr_uk_lon"], "UK-LON", sample("online_retail_sample_sfc.csv"))
    before = warehouse_version()

    upload_delete_rows(upload_id=upload.id)

    assert not UploadDay.objects.filter(upload=upload).exists()
    assert warehouse_version() != before


def test_the_backfill_reads_the_days_of_uploads_loaded_before_they_were_kept(cast, sample, capsys):
    upload = upload_loaded(cast["mgr_uk_lon"], "UK-LON", sample("online_retail_sample_sfc.csv"))
    kept = _days(upload)
    UploadDay.objects.all().delete()  # as before the upgrade

    call_command("upload_days_backfill")

    assert _days(upload) == kept
    assert "Recorded the days of 1 upload." in capsys.readouterr().out
    call_command("upload_days_backfill")
    assert "Recorded the days of 0 uploads." in capsys.readouterr().out
