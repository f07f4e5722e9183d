"""/healthz, /readyz, /metrics and JSON logs, on the embedded defaults (real SQLite,
filesystem broker, local files, Delta warehouse)."""

import json
import logging

from django.contrib.auth import get_user_model
from django.test import Client

from apps.uploads.run import pipeline_run
from salesapp.logs import JsonFormatter, UploadIdFilter
from tests.factories import upload_of


def test_healthz_answers_without_touching_anything():
    response = Client().get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_readyz_is_ok_when_every_dependency_answers(cast):
    response = Client().get("/readyz")
    assert response.status_code == 200, response.json()
    assert response.json()["checks"] == {"database": "ok", "broker": "ok", "storage": "ok", "warehouse": "ok"}


def test_readyz_is_503_when_the_warehouse_is_missing_and_tells_staff_why(db):
    # No warehouse_sync has run: the fact table does not exist yet.
    response = Client().get("/readyz")
    body = response.json()
    assert response.status_code == 503 and body["status"] == "unavailable"
    assert body["checks"]["warehouse"] == "unavailable" and body["checks"]["database"] == "ok"
    staff = Client()
    staff.force_login(get_user_model().objects.create_user("ops", is_staff=True))
    assert "warehouse_sync" in staff.get("/readyz").json()["details"]["warehouse"]


def test_metrics_count_uploads_by_status_and_rows(cast, sample):
    pipeline_run(upload_id=upload_of(cast["mgr_us_nyc"], "US-NYC", sample("bernasiakk_usa.csv")).id)
    upload_of(cast["mgr_uk_lon"], "UK-LON", sample("online_retail_sample_sfc.csv"))  # stays queued

    text = Client().get("/metrics").content.decode()

    assert 'salesapp_uploads{status="loaded"} 1.0' in text
    assert 'salesapp_uploads{status="queued"} 1.0' in text
    assert "salesapp_etl_duration_seconds_count 1.0" in text
    assert 'salesapp_etl_duration_seconds_bucket{le="+Inf"} 1.0' in text
    assert "salesapp_etl_rows_loaded_total 291.0" in text
    assert "salesapp_etl_rows_per_second " in text
    # enqueue=False in upload_of: nothing waits in the filesystem broker.
    assert 'salesapp_queue_depth{queue="celery"} 0.0' in text


def test_json_logs_carry_the_upload_id_on_every_etl_line(cast, sample):
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record):
            lines.append(self.format(record))

    handler = Collect(level=logging.DEBUG)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(UploadIdFilter())
    logging.getLogger("apps").addHandler(handler)
    try:
        upload = upload_of(cast["mgr_us_nyc"], "US-NYC", sample("bernasiakk_usa.csv"))
        pipeline_run(upload_id=upload.id)
    finally:
        logging.getLogger("apps").removeHandler(handler)

    entries = [json.loads(line) for line in lines]
    etl = [e for e in entries if e["logger"].startswith(("apps.etl", "apps.uploads"))]
    assert etl and all(e["upload_id"] == str(upload.id) for e in etl)
    assert any("upload ended loaded" in e["message"] for e in etl)
