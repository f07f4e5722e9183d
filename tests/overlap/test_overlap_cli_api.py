"""The same choices from a script: `manage.py ingest --on-overlap` (default ask: the JSON
summary says overlap with the counts, exit code 3) and the API."""

import json
from io import StringIO

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from rest_framework.test import APIClient

from apps.uploads.models import Upload, UploadEvent
from tests.overlap import copies
from tests.overlap.conftest import shop_totals


def _ingest(path, *args: str) -> tuple[list[dict], int]:
    out, code = StringIO(), 0
    try:
        args = (str(path), "--shop", "US-NYC", "--inline", "--json", *args)
        call_command("ingest", *args, stdout=out, stderr=StringIO())
    except CommandError as exc:
        code = exc.returncode
    return [json.loads(line) for line in out.getvalue().splitlines() if line.startswith("{")], code


@pytest.fixture
def bom_copy(cast, sample, tmp_path):
    _ingest(sample("bernasiakk_usa.csv"))
    path = tmp_path / "export_bom.csv"
    path.write_bytes(copies.BOM + sample("bernasiakk_usa.csv").read_bytes())
    return path


def test_ingest_asks_by_default_with_the_counts_and_exit_code_3(bom_copy):
    (summary,), code = _ingest(bom_copy)

    assert code == 3
    assert summary["status"] == "overlap"
    assert summary["overlap"]["lines"] == 291
    assert [(u["name"], u["uploaded_by"], u["lines"]) for u in summary["overlap"]["uploads"]] == [
        ("bernasiakk_usa.csv", "a command-line job", 291)
    ]
    assert shop_totals()["lines"] == 291


@pytest.mark.parametrize(
    ("choice", "status", "lines", "keys"),
    [("new-only", "loaded", 291, 291), ("replace", "loaded", 291, 291), ("all", "loaded", 582, 291),
     ("cancel", "cancelled", 291, 291)],
)  # fmt: skip
def test_ingest_on_overlap_acts_on_the_choice(bom_copy, choice, status, lines, keys):
    (summary,), code = _ingest(bom_copy, "--on-overlap", choice)

    assert (code, summary["status"]) == (0, status)
    totals = shop_totals()
    assert (totals["lines"], totals["keys"]) == (lines, keys)
    assert Upload.objects.get(pk=summary["upload_id"]).overlap_choice == choice.replace("-", "_")


def test_the_api_shows_the_overlap_and_takes_the_choice(cast, sample, load, worker_inline):
    first = load("export.csv", sample("bernasiakk_usa.csv"))
    api = APIClient()
    api.force_authenticate(cast["mgr_us_nyc"])
    content = copies.BOM + sample("bernasiakk_usa.csv").read_bytes()
    with worker_inline():
        created = api.post("/api/uploads/", {"shop": "US-NYC", "file": SimpleUploadedFile("bom.csv", content)})
    assert created.status_code == 201, created.content
    body = api.get(f"/api/uploads/{created.json()['id']}/").json()
    assert body["status"] == "overlap"
    assert (body["overlap"]["lines"], body["overlap"]["uploads"][0]["id"]) == (291, str(first.id))

    with worker_inline():
        chosen = api.post(f"/api/uploads/{body['id']}/overlap", {"choice": "new_only"}, format="json")

    assert chosen.status_code == 200, chosen.content
    held = Upload.objects.get(pk=body["id"])
    assert (held.status, held.rows_loaded) == (Upload.Status.LOADED, 0)
    assert held.events.get(kind=UploadEvent.Kind.OVERLAP_CHOSEN).actor == cast["mgr_us_nyc"]
    again = api.post(f"/api/uploads/{body['id']}/overlap", {"choice": "all"}, format="json")
    assert again.status_code == 409
    assert shop_totals()["lines"] == 291
