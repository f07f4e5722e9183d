"""/readyz is open to probes: each component says "ok" or "unavailable" and nothing more to
anyone but staff; why is in the log (and, for staff, under "details")."""

import logging
from pathlib import Path

import pytest
from django.test import Client

from apps.uploads.run import pipeline_run
from apps.warehouse.services import _warehouse
from salesapp import health
from tests.factories import upload_of


@pytest.fixture
def damaged_log(cast, sample, settings) -> Path:
    """A loaded upload whose Delta commit file was cut in half (a torn write, a full disk),
    read by a web process that opens the table afresh."""
    pipeline_run(upload_id=upload_of(cast["mgr_us_nyc"], "US-NYC", sample("bernasiakk_usa.csv")).id)
    commit = max((Path(settings.WAREHOUSE_DIR) / "orders-cleaned" / "_delta_log").glob("*.json"))
    assert commit.name != f"{0:020d}.json", "the upload's own commit"
    text = commit.read_bytes()
    commit.write_bytes(text[: len(text) // 2])
    _warehouse.cache_clear()
    return commit


def test_a_damaged_delta_log_shows_anonymous_callers_only_unavailable_and_logs_why(damaged_log, caplog):
    with caplog.at_level(logging.WARNING, logger="salesapp.health"):
        response = Client().get("/readyz")

    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"database": "ok", "broker": "ok", "storage": "ok", "warehouse": "unavailable"},
    }
    logged = [r for r in caplog.records if r.name == "salesapp.health"]
    assert [r.getMessage() for r in logged] == ["readyz: warehouse: unavailable"]
    assert "DeltaError" in caplog.text and "Json error" in caplog.text  # the error, with its traceback
    assert "Traceback" in caplog.text


def test_a_signed_in_user_who_is_not_staff_sees_only_the_words_too(damaged_log, cast):
    client = Client()
    client.force_login(cast["head_us"])

    body = client.get("/readyz").json()

    assert body["checks"]["warehouse"] == "unavailable" and "details" not in body


def test_staff_see_the_first_line_of_each_reason(damaged_log, cast):
    client = Client()
    client.force_login(cast["admin"])

    response = client.get("/readyz")

    assert response.status_code == 503
    details = response.json()["details"]
    assert list(details) == ["warehouse"]
    assert details["warehouse"].startswith("DeltaError: ") and "Json error" in details["warehouse"]
    assert "\n" not in details["warehouse"] and len(details["warehouse"]) <= health.DETAIL_CHARS


def test_a_check_may_name_its_own_state_as_the_reconciliation_will(cast, monkeypatch, caplog):
    def rows_missing() -> None:
        raise health.NotReady("mismatch", "upload 42 says 291 rows, the warehouse holds 0")

    components = {**health.COMPONENTS, "warehouse": (*health.COMPONENTS["warehouse"], rows_missing)}
    monkeypatch.setattr(health, "COMPONENTS", components)
    staff = Client()
    staff.force_login(cast["admin"])

    anonymous = Client().get("/readyz")
    shown_to_staff = staff.get("/readyz").json()

    assert anonymous.status_code == 503 and anonymous.json()["checks"]["warehouse"] == "mismatch"
    assert "details" not in anonymous.json()
    assert shown_to_staff["details"] == {"warehouse": "upload 42 says 291 rows, the warehouse holds 0"}
    assert "readyz: warehouse: mismatch: upload 42 says 291 rows" in caplog.text
