"""The app driven over every path that sends SQL to BigQuery: the schema sync (create and
upgrade), uploads (load with its overlap check, a replacement, an overlap "replace", an
admin-added field), a delete, the reconciliation, and every report page, export and filter
for one user of each role. Each step says what it is (`StatementCapture.sending`), so a
statement the analysis refuses names the path that sent it.

Written as the app's users reach it: pages through Django's test client, uploads through
upload_create + pipeline_run, operators' actions through their services.
"""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.test import Client, TestCase
from django.urls import reverse

from apps.accounts.access import scope_for
from apps.accounts.models import Region
from apps.demo.seed import demo_seed
from apps.reports.exports import DATASETS
from apps.reports.filters import GRAINS, PRESETS
from apps.uploads.models import Upload
from apps.uploads.reconcile import uploads_reconcile
from apps.uploads.services import upload_delete_rows
from apps.warehouse.services import warehouse, warehouse_sync
from salesapp.celery import app as celery_app
from tests.factories import upload_loaded
from tests.googlesql.capture import StatementCapture
from tests.overlap import copies
from tests.warehouse.factories import fact_rows

DATA = Path(__file__).resolve().parents[1] / "data"
LOADED = {Upload.Status.LOADED, Upload.Status.LOADED_WITH_ERRORS}
# One reader of each role, with a country, a shop, a product and a category their pages can filter on.
READERS = {
    "admin": {"country": "FR", "shop": "UK-LON", "product": "S10_1678", "category": "Motorcycles"},
    "head_uk": {"country": "GB", "shop": "UK-LON", "product": "22722", "category": "Motorcycles"},
    "mgr_us_nyc": {"country": "US", "shop": "US-NYC", "product": "22722", "category": "Motorcycles"},
}
CUSTOM = {"preset": "custom", "start": "2011-01-01", "end": "2011-06-30"}


@contextmanager
def worker_inline() -> Iterator[None]:
    """What a step enqueues on commit runs at once in this process, as a worker would run it
    (a writer that applies staged uploads in a task of its own is driven too)."""
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    try:
        with TestCase.captureOnCommitCallbacks(execute=True):
            yield
    finally:
        celery_app.conf.task_always_eager = eager


def loaded(capture: StatementCapture, path: str, user, shop: str, file: Path, **options) -> Upload:
    with capture.sending(path), worker_inline():
        upload = upload_loaded(user, shop, file, **options)
        upload.refresh_from_db()
    assert upload.status in LOADED, (path, upload.status, upload.message)
    return upload


def drive_writes_before_reads(capture: StatementCapture, cast: dict, tmp: Path) -> list[Upload]:
    """The loads the report pages then read: three shops of three countries and eras."""
    files = [
        ("mgr_us_nyc", "US-NYC", "bernasiakk_usa.csv"),  # 2011
        ("mgr_uk_lon", "UK-LON", "online_retail_sample_sfc.csv"),  # Dec 2010 - 2011, several countries
        ("admin", "FR-PAR", "sales_data_sample_head.csv"),  # 2003 - 2005, with categories
    ]
    return [loaded(capture, "write: upload load", cast[u], shop, DATA / name) for u, shop, name in files]


def page_urls(reader: str, scope) -> list[str]:
    """Every report page a reader reaches, default and filtered, each grain, each preset."""
    picks = READERS[reader]
    master, lines = reverse("reports:master"), reverse("reports:lines")
    urls = [master, f"{master}?country={picks['country']}", f"{master}?shop={picks['shop']}"]
    urls += [f"{master}?product={picks['product']}", f"{master}?category={picks['category']}"]
    urls += [f"{master}?grain={grain}&{_query(CUSTOM)}" for grain in GRAINS]
    # Every preset for one reader (the same reads with other dates), two for the others.
    presets = [p for p in PRESETS if p != "custom"] if reader == "admin" else ["7d", "all"]
    urls += [f"{master}?preset={preset}" for preset in presets]
    both = f"shop={picks['shop']}&product={picks['product']}&category={picks['category']}&{_query(CUSTOM)}"
    urls += [f"{master}?{both}&grain=week"]
    for region in Region.objects.order_by("country_code"):
        if scope.allows_country(region.country_code):
            country = reverse("reports:country", args=[region.country_code])
            urls += [country, f"{country}?grain=month&{_query(CUSTOM)}&shop={picks['shop']}"]
    urls += [lines, f"{lines}?page=2", f"{lines}?{both}", f"{lines}?preset=all&page=2"]
    urls += [reverse("reports:coverage"), f"{reverse('reports:coverage')}?{_query(CUSTOM)}"]
    urls += [reverse("reports:looker")]
    # The figures' exports read what the dashboard reads: each one for one reader, two for the others.
    exports = list(DATASETS) if reader == "admin" else ["kpis", "lines"]
    urls += [f"{reverse('reports:export', args=[name, 'csv'])}?{_query(CUSTOM)}" for name in exports]
    urls += [f"{reverse('reports:export', args=['lines', 'csv'])}?{both}"]
    return urls


def _query(params: dict) -> str:
    return "&".join(f"{k}={v}" for k, v in params.items())


def drive_pages(capture: StatementCapture, cast: dict) -> int:
    """Every page of each reader, read in full (exports streamed to their end); how many."""
    seen = 0
    for reader in READERS:
        client = Client()
        client.force_login(cast[reader])
        for url in page_urls(reader, scope_for(cast[reader])):
            cache.clear()  # a cached result would hide the statement a first view sends
            with capture.sending(f"page {reader} {url}"):
                response = client.get(url)
                body = b"".join(response.streaming_content) if response.streaming else response.content
            assert response.status_code == 200, (reader, url, response.status_code, body[:500])
            seen += 1
    return seen


def drive_writes_after_reads(capture: StatementCapture, cast: dict, uploads: list[Upload], tmp: Path) -> None:
    """A replacement, an overlap "replace", an admin-added field, a delete, the
    reconciliation and a schema upgrade."""
    manager, admin = cast["mgr_us_nyc"], cast["admin"]
    header, rows = copies.rows_of(DATA / "bernasiakk_usa.csv")
    corrected = tmp / "bernasiakk_usa_corrected.csv"
    corrected.write_bytes(copies.csv_bytes(header, rows[:-5]))
    loaded(capture, "write: replacement (retire)", manager, "US-NYC", corrected, replaces=uploads[0])

    days = copies.by_day(header, rows)
    daily, weekly = tmp / "daily.csv", tmp / "weekly.csv"
    daily.write_bytes(copies.csv_bytes(header, days["10/10/2011"]))
    weekly.write_bytes(copies.csv_bytes(header, days["10/10/2011"] + days["10/21/2011"]))
    first = loaded(capture, "write: upload load", admin, "US-SFO", daily)
    loaded(capture, "write: overlap replace (displace)", admin, "US-SFO", weekly, on_overlap="replace")

    with capture.sending("write: admin-added field"), worker_inline():
        extra = str(uuid.uuid4())
        wider = fact_rows(extra, 2).append_column("loyalty_tier", pa.array(["gold", None], pa.string()))
        warehouse().replace_batch(upload_id=extra, table=wider)
    with capture.sending("write: delete"), worker_inline():
        upload_delete_rows(upload_id=first.id)
        warehouse().delete_batch(upload_id=extra)
    with capture.sending("write: reconcile (batch_rows)"), worker_inline():
        uploads_reconcile()
        warehouse().batch_rows(upload_ids=[str(u.id) for u in uploads])
    with capture.sending("write: warehouse_sync upgrade"), worker_inline():
        Region.objects.create(
            name="Japan", country_code="JP", currency="JPY", date_order="DMY", view_name="JP_Sales_View"
        )
        warehouse_sync()


def drive_everything(capture: StatementCapture, tmp: Path, *, password: str) -> dict:
    """The whole tour; counts of what was driven."""
    with capture.sending("write: warehouse_sync create"):
        demo_seed(password=password)
        warehouse_sync()
    cast = {u.username: u for u in get_user_model().objects.all()}
    uploads = drive_writes_before_reads(capture, cast, tmp)
    pages = drive_pages(capture, cast)
    drive_writes_after_reads(capture, cast, uploads, tmp)
    return {"pages": pages, "statements": len(capture.statements)}
