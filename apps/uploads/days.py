"""The lines each upload holds in the warehouse per order day, country and shop (UploadDay),
kept at load time: the report pages read the days with data, the newest day, the uploads'
spans and the coverage from them, not from the warehouse.

A load records its own rows' days from the file it commits (etl.pipeline.run.fact_days).
Uploads whose lines it displaced (the overlap choice "replace") lose some: theirs are
counted again in the warehouse, in one query bounded by their order dates.
"""

from collections.abc import Iterable, Sequence
from datetime import date

from apps.uploads.models import Upload, UploadDay
from apps.warehouse.services import batch_days

DayLines = tuple[date, str, str, int]  # order day, country code, store id, lines


def upload_days_set(upload_id, days: Iterable[DayLines]) -> None:
    """The upload's days are these (none: it holds no rows), in the caller's transaction."""
    UploadDay.objects.filter(upload_id=upload_id).delete()
    UploadDay.objects.bulk_create(
        UploadDay(upload_id=upload_id, order_date=day, country_code=country, store_id=store, lines=lines)
        for day, country, store, lines in days
        if lines
    )


def warehouse_days(upload_ids: Sequence[str]) -> dict[str, list[DayLines]]:
    """The days of these uploads as the warehouse holds them now: one grouped query over
    their order dates only (from the first to the last they had)."""
    spans = [
        (u.first_order_date, u.last_order_date)
        for u in Upload.objects.filter(pk__in=upload_ids).only("first_order_date", "last_order_date")
        if u.first_order_date and u.last_order_date
    ]
    if not spans:
        return {str(u): [] for u in upload_ids}
    first, last = min(s[0] for s in spans), max(s[1] for s in spans)
    return {str(u): [] for u in upload_ids} | batch_days(upload_ids=upload_ids, first=first, last=last)
