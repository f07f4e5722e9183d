"""The same files loaded into both warehouses give the same figures in every report.

Both loads go through pipeline_run, the embedded one into Delta+DuckDB, the other through
the real google-cloud-bigquery client into the local-bigquery emulator. What the emulator
cannot show is listed in tests/warehouse/test_bigquery.py.
"""

import inspect
import uuid

import pytest
from django.core.files import File

from apps.accounts.access import scope_for
from apps.accounts.models import Region, Shop
from apps.etl.services import pipeline_run
from apps.reports import selectors
from apps.reports.selectors import ReportFilter
from apps.uploads.models import Upload
from apps.uploads.services import upload_create
from apps.warehouse.fact import MASTER_VIEW
from apps.warehouse.services import warehouse, warehouse_sync

pytestmark = [
    pytest.mark.integration,
    # Known gap, being fixed: the report pages were rewritten (issue 6) in DuckDB's dialect
    # (FILTER, date_trunc, GROUPING SETS) after this test was written for the earlier,
    # portable selectors. Strict: this xfail fails as soon as the parity holds again.
    pytest.mark.xfail(strict=True, reason="report SQL not yet portable to BigQuery"),
]
FILES = [
    ("mgr_us_nyc", "US-NYC", "bernasiakk_usa.csv"),
    ("mgr_uk_lon", "UK-LON", "online_retail_sample_sfc.csv"),
    ("admin", "FR-PAR", "sales_data_sample_head.csv"),
]
READERS = ["admin", "head_uk", "mgr_us_nyc"]  # one of each role


def report_selectors() -> dict:
    """Every selector of the reports: the public functions taking a scope and a report."""
    found = {}
    for name, fn in inspect.getmembers(selectors, inspect.isfunction):
        params = inspect.signature(fn).parameters
        if fn.__module__ == selectors.__name__ and not name.startswith("_") and {"scope", "report"} <= set(params):
            found[name] = fn
    assert len(found) >= 2, found
    return found


def figures(cast) -> dict:
    views = [MASTER_VIEW, *Region.objects.values_list("view_name", flat=True)]
    return {
        (reader, view, name): fn(scope=scope_for(cast[reader]), report=ReportFilter(view=view))
        for reader in READERS
        for view in views
        for name, fn in report_selectors().items()
    }


def load_all(cast, sample) -> list[Upload]:
    uploads = []
    for user, shop, name in FILES:
        with sample(name).open("rb") as fh:
            upload = upload_create(
                scope=scope_for(cast[user]),
                user=cast[user],
                shop=Shop.objects.get(code=shop),
                file=File(fh),
                name=name,
                enqueue=False,
            )
        uploads.append(pipeline_run(upload_id=upload.id))
    return uploads


def test_every_report_figure_is_the_same_on_both_backends(cast, sample, settings, bigquery_emulator):
    uploads = load_all(cast, sample)
    assert {u.status for u in uploads} <= {Upload.Status.LOADED, Upload.Status.LOADED_WITH_ERRORS}
    embedded = figures(cast)
    assert embedded[("admin", MASTER_VIEW, "kpi_totals")]["lines"] > 300

    settings.WAREHOUSE = "bigquery"
    settings.BIGQUERY_PROJECT = bigquery_emulator.project
    settings.BIGQUERY_DATASET = f"sales_{uuid.uuid4().hex[:10]}"
    settings.BIGQUERY_API_ENDPOINT = bigquery_emulator.endpoint
    warehouse_sync()
    for upload in uploads:
        assert pipeline_run(upload_id=upload.id, force=True).status == upload.status
    assert warehouse().name == "bigquery"

    bigquery = figures(cast)
    differences = {key: (embedded[key], bigquery[key]) for key in embedded if embedded[key] != bigquery[key]}
    assert differences == {}
