"""`manage.py ingest` for scheduled batch jobs: folders, and files seen before."""

import json
import shutil
from io import StringIO

from django.core.management import call_command

from apps.uploads.models import Upload


def _ingest(*args: str) -> list[dict]:
    out = StringIO()
    call_command("ingest", *args, "--json", stdout=out)
    return [json.loads(line) for line in out.getvalue().splitlines() if line.startswith("{")]


def test_a_folder_ingests_every_csv_and_workbook_in_it_and_nothing_else(cast, sample, tmp_path):
    drop = tmp_path / "drop"
    drop.mkdir()
    shutil.copy(sample("bernasiakk_usa.csv"), drop / "b.csv")
    shutil.copy(sample("online_retail_sample_sfc.xlsx"), drop / "a.xlsx")
    (drop / "notes.pdf").write_bytes(b"%PDF-1.4")
    (drop / ".hidden.csv").write_text("a,b\n1,2\n")
    (drop / "sub").mkdir()

    summaries = _ingest(str(drop), "--shop", "US-NYC", "--inline")

    assert [s["file"] for s in summaries] == ["a.xlsx", "b.csv"]
    assert Upload.objects.count() == 2


def test_the_same_folder_again_skips_what_was_uploaded_and_says_so(cast, sample, tmp_path):
    shutil.copy(sample("bernasiakk_usa.csv"), tmp_path / "b.csv")
    _ingest(str(tmp_path), "--shop", "US-NYC", "--inline")
    out = StringIO()

    call_command("ingest", str(tmp_path), "--shop", "US-NYC", "--inline", stdout=out)

    assert "b.csv: skipped, has the same content as 'b.csv', uploaded by a command-line job on" in out.getvalue()
    assert Upload.objects.count() == 1


def test_on_duplicate_replace_loads_the_file_again_in_place_of_the_earlier_upload(cast, sample, tmp_path):
    shutil.copy(sample("bernasiakk_usa.csv"), tmp_path / "b.csv")
    first = _ingest(str(tmp_path), "--shop", "US-NYC", "--inline")[0]

    second = _ingest(str(tmp_path), "--shop", "US-NYC", "--inline", "--on-duplicate", "replace")[0]

    assert second["status"] == "loaded"
    assert str(Upload.objects.get(pk=second["upload_id"]).replaces_id) == first["upload_id"]
