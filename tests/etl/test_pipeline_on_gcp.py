"""The production path end to end: GCS_BUCKET and WAREHOUSE=bigquery set.

Files go through django-storages' GoogleCloudStorage backend and the real
google-cloud-storage client to gcp-storage-emulator; loads go through the real
google-cloud-bigquery client to local-bigquery, which reads the gs:// URI from the same
GCS emulator. Google's live services are not used.
"""

import pytest
from django.core.files import File

from apps.accounts.access import scope_for
from apps.accounts.models import Shop
from apps.uploads.models import Upload
from apps.uploads.run import pipeline_run
from apps.uploads.services import upload_create
from apps.warehouse.fact import FACT_TABLE
from apps.warehouse.services import warehouse
from tests.warehouse.factories import EVERY_DAY

pytestmark = pytest.mark.integration


def test_upload_lands_in_gcs_and_loads_into_bigquery_from_the_gs_uri(gcs_storage, bigquery, cast, sample):
    user = cast["mgr_uk_lon"]
    with sample("online_retail_sample_sfc.csv").open("rb") as fh:
        upload = upload_create(
            scope=scope_for(user),
            user=user,
            shop=Shop.objects.get(code="UK-LON"),
            file=File(fh),
            name="online_retail_sample_sfc.csv",
            enqueue=False,
        )
    upload = pipeline_run(upload_id=upload.id)

    assert upload.status in {Upload.Status.LOADED, Upload.Status.LOADED_WITH_ERRORS}, upload.message
    day = upload.created_at
    folder = f"GB/{day:%Y/%m/%d}/{upload.id}"
    names = {blob.name for blob in gcs_storage.client.list_blobs(gcs_storage.name)}
    assert f"raw/{folder}/online_retail_sample_sfc.csv" in names
    assert f"processed/{folder}/{upload.id}.parquet" in names
    assert (f"rejected/{folder}/{upload.id}.csv" in names) == bool(upload.rows_rejected)

    wh = warehouse()
    sql = f'SELECT count(*) FROM "{FACT_TABLE}" WHERE {EVERY_DAY} AND upload_id = $u'
    loaded = wh.query(sql, {"u": str(upload.id)})
    assert loaded.column(0)[0].as_py() == upload.rows_loaded > 0
    loads = [j for j in wh.client().list_jobs() if j.job_type == "load"]
    assert f"gs://{gcs_storage.name}/processed/{folder}/{upload.id}.parquet" in {
        u
        for j in loads
        for u in (j.source_uris or [])  # loads from bytes have none
    }


def test_readyz_reaches_gcs_and_bigquery(gcs_storage, bigquery, cast, client):
    response = client.get("/readyz")
    assert response.status_code == 200, response.json()
    assert response.json()["checks"]["storage"] == response.json()["checks"]["warehouse"] == "ok"
