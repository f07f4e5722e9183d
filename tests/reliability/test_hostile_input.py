"""Hostile and broken files through the real upload view and the ETL: never a 500, never a
task that raises (a worker would crash-loop on it), always a status with a message a person
can read, every row accounted for, and memory bounded."""

import json
import os
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from apps.accounts.models import Shop
from apps.uploads.models import Upload
from apps.uploads.run import pipeline_run, upload_run
from tests.reliability.hostile_files import CASES, HostileFile, _csv, _row, hostile_files

MEMORY_BOUND_MB = 500
OUTCOME = {
    Upload.Status.LOADED: "loaded",
    Upload.Status.LOADED_WITH_ERRORS: "partial",
    Upload.Status.REJECTED: "rejected",
    Upload.Status.FAILED: "failed",
    Upload.Status.NEEDS_MAPPING: "needs_mapping",
}


@pytest.fixture(scope="session")
def files(tmp_path_factory) -> list[HostileFile]:
    return hostile_files(tmp_path_factory.mktemp("hostile"))


def _kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(field)


class PeakRss:
    """How far the resident set rose above where it was: VmHWM is reset first (Linux
    clear_refs 5), so the figure is this block's own peak, not an earlier test's."""

    def __enter__(self) -> "PeakRss":
        Path("/proc/self/clear_refs").write_text("5")
        self.start = _kib("VmRSS")
        return self

    def __exit__(self, *exc) -> None:
        self.growth_mb = max(0, _kib("VmHWM") - self.start) / 1024


def _post(client: Client, file: HostileFile):
    shop = Shop.objects.get(code="US-NYC")
    upload = SimpleUploadedFile(file.name, file.path.read_bytes())
    return client.post("/uploads/", {"shop": shop.pk, "file": upload}, headers={"Accept": "application/json"})


def _record(file: HostileFile, outcome: str, message: str, upload: Upload | None, peak: float) -> None:
    """One line for docs/reliability.md, when HOSTILE_REPORT names a file to append to."""
    target = os.environ.get("HOSTILE_REPORT")
    if not target:
        return
    line = {"what": file.what, "name": file.name, "outcome": outcome, "message": message, "peak_mb": round(peak, 1)}
    line["counts"] = line["reasons"] = None
    if upload is not None:
        line["counts"] = [upload.rows_read, upload.rows_loaded, upload.rows_rejected, upload.rows_dropped]
        line["reasons"] = upload.report.get("errors_by_reason")
    with open(target, "a") as fh:
        fh.write(json.dumps(line) + "\n")


@pytest.mark.parametrize("index", range(len(CASES)), ids=[what for _, _, what, _ in CASES])
def test_hostile_file_ends_with_a_reason_never_a_crash(cast, files, index):
    file = files[index]
    client = Client()
    client.force_login(cast["mgr_us_nyc"])

    with PeakRss() as peak:
        response = _post(client, file)
        assert response.status_code < 500
        upload = None
        if response.status_code == 201:
            upload_id = response.json()["id"]
            # The worker task's call (the ETL, then the rejected-rows files and the email): it
            # must return a finished upload, not raise (a task that raises is retried).
            upload = upload_run(upload_id=upload_id)
    assert peak.growth_mb < MEMORY_BOUND_MB, f"{file.what}: the process grew {peak.growth_mb:.0f} MB"

    if upload is None:
        errors = response.json()["errors"]
        assert response.status_code in (400, 413) and errors and all(e.strip() for e in errors)
        _record(file, "refused", " ".join(errors), None, peak.growth_mb)
        assert file.expect == "refused", errors
        return
    assert upload.is_finished, upload.status
    outcome = OUTCOME[upload.status]
    _record(file, outcome, upload.message, upload, peak.growth_mb)
    assert outcome == file.expect, (upload.status, upload.message, upload.report.get("errors_by_reason"))
    if outcome in ("failed", "needs_mapping"):
        assert len(upload.message) > 10 and "internal error" not in upload.message
    elif outcome == "rejected":
        assert upload.rows_loaded == 0 and upload.rows_rejected and upload.message
        assert upload.report["errors_by_reason"]
    else:
        assert upload.rows_read == upload.rows_loaded + upload.rows_rejected + upload.rows_dropped
    if outcome == "partial":
        assert upload.rows_loaded and upload.rows_rejected and upload.report["errors_by_reason"]
    # Run again, as a redelivered task would: it ends at once, the same, without raising.
    assert upload_run(upload_id=upload.id).status == upload.status


# Django keeps only what follows the last "/" or "\\" of a file name, so here
# "script><img src=x onerror=alert(2)>.csv": the <img onerror> is the payload that survives.
SCRIPT_NAME = "<script>alert(1)<\\script><img src=x onerror=alert(2)>.csv"
SCRIPT_PRODUCT = "<script>alert(3)</script>"


def test_script_in_file_and_product_names_renders_escaped_on_every_page(cast):
    client = Client()
    client.force_login(cast["mgr_us_nyc"])
    content = _csv(_row(Description=SCRIPT_PRODUCT), _row(InvoiceNo="2", StockCode="X2", Description="<b>bold</b>"))
    shop = Shop.objects.get(code="US-NYC")
    response = client.post(
        "/uploads/",
        {"shop": shop.pk, "file": SimpleUploadedFile(SCRIPT_NAME, content)},
        headers={"Accept": "application/json"},
    )
    upload = pipeline_run(upload_id=response.json()["id"])
    assert upload.status == Upload.Status.LOADED, upload.message

    name_shown = "&lt;img src=x onerror=alert(2)&gt;"
    product_shown = "&lt;script&gt;alert(3)&lt;/script&gt;"
    pages = {"/uploads/": name_shown, f"/uploads/{upload.id}/": name_shown, "/reports/": product_shown}
    pages["/reports/lines/?country=US"] = product_shown
    for url, escaped in pages.items():
        response = client.get(url)
        page = response.content.decode()
        assert response.status_code == 200, url
        assert "<script>alert" not in page and "<img src=x" not in page and "<b>bold" not in page, url
        assert escaped in page, url
