"""The scaled-out stack for real, each part its own process, as compose runs it:
migrate and seed_demo, Celery on a real redis-server with two workers on the named
queues (`ingest`; `load`), and `manage.py ingest --wait` as the client. Once on
SQLite and once on a real PostgreSQL (Debian's package). Nothing here is mocked.
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.emulators.servers import ROOT, start, stop

pytestmark = pytest.mark.integration


def manage(env: dict, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, f"manage.py {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done


def worker(env: dict, queues: str, log: Path):
    args = [sys.executable, "-m", "celery", "-A", "salesapp", "worker", "-Q", queues, "-n", f"{queues}@%h"]
    return start([*args, "-c", "1", "--without-gossip", "--without-mingle", "-l", "INFO"], log=log, env=env, cwd=ROOT)


def wait_for(text: str, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while text not in log.read_text():
        assert time.monotonic() < deadline, f"{text!r} not in {log}:\n{log.read_text()[-3000:]}"
        time.sleep(0.3)


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'db.sqlite3'}"
    return request.getfixturevalue("postgres_url")


def test_uploads_run_on_named_queues_with_several_workers(database_url, redis_url, tmp_path, sample):
    env = {**os.environ, "DATA_DIR": str(tmp_path / "data"), "REDIS_URL": redis_url, "DATABASE_URL": database_url}
    env["DJANGO_SETTINGS_MODULE"] = "salesapp.settings"
    manage(env, "migrate", "--noinput")
    manage(env, "seed_demo")
    ingest_log, load_log = tmp_path / "ingest.log", tmp_path / "load.log"
    workers = [worker(env, "ingest", ingest_log), worker(env, "load", load_log)]
    try:
        wait_for("ready.", ingest_log)
        wait_for("ready.", load_log)
        done = manage(env, "ingest", str(sample("bernasiakk_usa.csv")), "--shop", "US-NYC", "--wait", "--json")
        summary = json.loads(done.stdout.strip().splitlines()[-1])
        assert (summary["status"], summary["rows_loaded"]) == ("loaded", 291)
        assert "Task apps.uploads.tasks.process_upload[" in ingest_log.read_text()
        assert "Task apps.uploads.tasks.process_upload[" not in load_log.read_text()

        # Warehouse work goes to the `load` queue, which only the second worker reads.
        call = [sys.executable, "-m", "celery", "-A", "salesapp", "call", "apps.warehouse.tasks.compact_warehouse"]
        subprocess.run(call, cwd=ROOT, env=env, check=True, capture_output=True, timeout=60)
        wait_for("Task apps.warehouse.tasks.compact_warehouse[", load_log)
        wait_for("succeeded", load_log)
        assert "Task apps.warehouse.tasks.compact_warehouse[" not in ingest_log.read_text()
        count = manage(env, "warehouse_sql", 'SELECT count(*) AS n FROM "USA_Sales_View"', "--json")
        assert json.loads(count.stdout) == [{"n": 291}]
    finally:
        for w in workers:
            stop(w)
