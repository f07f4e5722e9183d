"""The app as `make run` starts it: `manage.py serve` (runserver and a Celery worker with
beat) on a fresh DATA_DIR and database, with the demo data, driven over HTTP with an API
token. Nothing is shared with the test process but the files: the test reads the app's
state through the API and `manage.py` commands."""

import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests
from django.conf import settings

from .processes import children_of, free_port, wait_until

FINISHED = {"loaded", "loaded_with_errors", "rejected", "failed", "needs_mapping", "cancelled", "overlap"}


def database_fresh(url: str, prefix: str) -> str:
    """A new, empty database on the PostgreSQL server of `url` (one per test); its URL."""
    import psycopg

    name = f"{prefix}_{random.randrange(16**8):08x}"
    with psycopg.connect(url, autocommit=True) as con:
        con.execute(f'CREATE DATABASE "{name}"')
    return url.rsplit("/", 1)[0] + "/" + name


class ServedApp:
    def __init__(self, data_dir: Path, *, database_url: str = "", env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        drop = {"DATABASE_URL", "REDIS_URL", "GCS_BUCKET", "WAREHOUSE", "ETL_TEST_PAUSE_AT", "DJANGO_SETTINGS_MODULE"}
        self.env = {k: v for k, v in os.environ.items() if k not in drop}
        self.env |= {"DATA_DIR": str(data_dir), "WEB_PORT": str(self.port), "PYTHONUNBUFFERED": "1"}
        if database_url:
            self.env["DATABASE_URL"] = database_url
        self.env |= env or {}
        self.log_path = data_dir / "serve.log"
        self.proc: subprocess.Popen | None = None
        self.token = ""

    def manage(self, *args: str, timeout: float = 180) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=settings.BASE_DIR,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert done.returncode == 0, f"manage.py {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
        return done.stdout.strip()

    def start(self) -> None:
        """Migrate, seed the demo, make mgr_us_nyc's token, start serve; back once it serves."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.manage("migrate", "-v0")
        self.manage("seed_demo")
        self.token = self.manage("api_token", "mgr_us_nyc").splitlines()[-1]
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "manage.py", "serve"],
                cwd=settings.BASE_DIR,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_until(self.serving, timeout=90, what="the web server", interval=0.3, details=self.log)
        wait_until(lambda: " ready." in self.log(), timeout=90, what="the worker", interval=0.3, details=self.log)

    def serving(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"serve exited with {self.proc.returncode}:\n{self.log()}")
        try:
            return requests.get(f"{self.base}/healthz", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def log(self, tail: int = 6000) -> str:
        return self.log_path.read_text(errors="replace")[-tail:] if self.log_path.exists() else ""

    def stop(self, *, graceful: bool = True) -> None:
        """Stop serve and its worker; `graceful=False` kills them at once (a test's teardown
        that does not test stopping: a warm shutdown waits seconds for the worker's task)."""
        if self.proc is None:
            return
        if graceful and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # serve stops the web server and the worker
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=20)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        for pid in self.worker_pids():  # a worker in a process group of its own
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    # -- what serve runs ---------------------------------------------------------------------
    def worker_pids(self) -> list[int]:
        """The Celery worker's main process(es) among serve's children."""
        if self.proc is None:
            return []
        found = []
        for pid in children_of(self.proc.pid):
            with contextlib.suppress(OSError):
                if b"celery" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    found.append(pid)
        return found

    # -- the API -------------------------------------------------------------------------------
    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Token {self.token}"}

    def post_upload(self, content: bytes, name: str, **data: str) -> requests.Response:
        files = {"file": (name, content, "text/csv")}
        return requests.post(
            f"{self.base}/api/uploads/", data={"shop": "US-NYC", **data}, files=files, headers=self.auth, timeout=120
        )

    def upload(self, upload_id: str) -> dict:
        response = requests.get(f"{self.base}/api/uploads/{upload_id}/", headers=self.auth, timeout=30)
        response.raise_for_status()
        return response.json()

    def uploads(self) -> list[dict]:
        response = requests.get(f"{self.base}/api/uploads/", headers=self.auth, timeout=30)
        response.raise_for_status()
        return response.json()

    def wait_finished(self, upload_id: str, *, timeout: float = 120) -> dict:
        def finished() -> dict | None:
            body = self.upload(upload_id)
            return body if body["status"] in FINISHED else None

        return wait_until(finished, timeout=timeout, what=f"upload {upload_id} to end", interval=0.3, details=self.log)

    def warehouse_rows(self, where: str = "TRUE") -> int:
        sql = f'SELECT count(*) AS n FROM "orders-cleaned" WHERE {where}'
        return json.loads(self.manage("warehouse_sql", sql, "--json"))[0]["n"]


def elapsed_since(start: float) -> float:
    return round(time.monotonic() - start, 2)
