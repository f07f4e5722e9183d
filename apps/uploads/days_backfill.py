"""The uploads' days (apps/uploads/days.py) of uploads loaded before they were kept."""

from django.db import transaction

from apps.uploads.days import upload_days_set, warehouse_days
from apps.uploads.models import UploadDay
from apps.uploads.reconcile import expected_rows
from apps.warehouse.services import warehouse_version_bump


def upload_days_backfill(*, chunk: int = 200) -> int:
    """The days of the uploads loaded before days were kept (their rows in the warehouse, no
    day of theirs recorded), read from the warehouse (one query per `chunk` uploads, bounded
    by their order dates); how many uploads got theirs. Run once after the upgrade
    (`manage.py upload_days_backfill`); loads keep them from then on."""
    kept = {str(u) for u in UploadDay.objects.values_list("upload_id", flat=True).distinct()}
    missing = [upload_id for upload_id in expected_rows() if str(upload_id) not in kept]
    for start in range(0, len(missing), chunk):
        ids = missing[start : start + chunk]
        found = warehouse_days(ids)
        with transaction.atomic():
            for upload_id in ids:
                upload_days_set(upload_id, found.get(upload_id, []))
            warehouse_version_bump()
    return len(missing)
