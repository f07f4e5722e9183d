"""Reading the settings creates nothing on disk; each folder under DATA_DIR is made by the
process that first needs it (salesapp/folders.py). The broker's folders, made by a worker
and by a publisher, are checked with real processes in tests/integration/test_broker_folders.py."""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from salesapp.beat import BeatSchedule
from salesapp.celery import app as celery_app
from tests.emulators.servers import ROOT
from tests.factories import upload_loaded

STARTS_DJANGO = """
import django
django.setup()
from salesapp.celery import app
app.loader.import_default_modules()
"""


def _python(args: list[str], data_dir: Path, timeout: float = 120, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    environ |= {"DATA_DIR": str(data_dir), "DJANGO_SETTINGS_MODULE": "salesapp.settings", **env}
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=environ, capture_output=True, text=True, timeout=timeout
    )


def _everything_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_importing_the_settings_or_starting_django_creates_nothing(tmp_path):
    root = tmp_path / "fresh"
    root.mkdir()

    imported = _python(["-c", "import salesapp.settings"], root / "data")
    assert imported.returncode == 0, imported.stderr
    assert _everything_under(root) == []

    # Django's system checks (run by Celery too, as it loads the tasks) open the database:
    # SQLite's JSON support is a query. With the database elsewhere, nothing appears at all.
    database = f"sqlite:///{tmp_path / 'elsewhere' / 'db.sqlite3'}"
    started = _python(["-c", STARTS_DJANGO], root / "data", DATABASE_URL=database)
    checked = _python(["manage.py", "check"], root / "data", DATABASE_URL=database)
    assert (started.returncode, checked.returncode) == (0, 0), started.stderr + checked.stderr
    assert _everything_under(root) == []


def test_migrate_on_a_fresh_data_dir_makes_the_folder_of_the_sqlite_file(tmp_path):
    data_dir = tmp_path / "fresh" / "data"

    done = _python(["manage.py", "migrate", "-v0"], data_dir)

    assert done.returncode == 0, done.stderr
    assert (data_dir / "db.sqlite3").is_file()


def test_the_etl_works_in_temp_dir_made_on_first_use(cast, sample, settings, monkeypatch, tmp_path):
    settings.TEMP_DIR = tmp_path / "fresh" / "tmp"
    made_in = []
    temporary_directory = tempfile.TemporaryDirectory

    def recorded(*args, **kwargs):
        made_in.append(kwargs.get("dir"))
        return temporary_directory(*args, **kwargs)

    monkeypatch.setattr(tempfile, "TemporaryDirectory", recorded)

    upload = upload_loaded(cast["mgr_us_nyc"], "US-NYC", sample("bernasiakk_usa.csv"))

    assert upload.status == "loaded"
    assert made_in and {Path(folder) for folder in made_in} == {settings.TEMP_DIR}
    # The work folder is gone again; what stays is the warehouse reader's spill folder (the
    # overlap check reads the warehouse), empty: DuckDB spills into it only past its memory.
    assert _everything_under(settings.TEMP_DIR) in ([], ["warehouse-reader"])


def test_beat_makes_the_folder_of_its_schedule_file_when_it_opens_it(tmp_path):
    schedule_file = tmp_path / "fresh" / "celerybeat-schedule"

    scheduler = BeatSchedule(app=celery_app, schedule_filename=str(schedule_file))
    try:
        assert "sweep-uploads" in scheduler.schedule
    finally:
        scheduler.close()

    assert schedule_file.parent.is_dir()
    assert celery_app.conf.beat_scheduler == "salesapp.beat:BeatSchedule"
