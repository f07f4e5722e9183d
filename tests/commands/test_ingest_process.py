"""`manage.py ingest --inline` as its own process: it ends cleanly right after the run."""

import os
import subprocess
import sys

from django.conf import settings


def test_a_process_that_ends_right_after_an_inline_run_exits_cleanly(tmp_path, sample):
    # The run's DuckDB is closed (and the next run's opened) in a thread; the process must
    # wait for it: killed inside DuckDB at exit, it aborted ("terminate called ...", rc 134).
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env |= {"DATA_DIR": str(tmp_path)}

    def manage(*args: str) -> subprocess.CompletedProcess:
        cmd = [sys.executable, "manage.py", *args]
        return subprocess.run(cmd, cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=120)

    assert manage("migrate", "-v0").returncode == 0
    assert manage("seed_demo").returncode == 0

    done = manage("ingest", str(sample("bernasiakk_usa.csv")), "--shop", "US-NYC", "--inline")

    assert done.returncode == 0, done.stderr[-2000:]
    assert "terminate called" not in done.stderr
    assert "291" in done.stdout
