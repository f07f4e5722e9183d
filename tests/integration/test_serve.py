"""`manage.py serve` (what `make run` starts): web and worker come up, and an interrupt
stops both, even when the shell that started it set SIGINT to "ignore" (as a
non-interactive shell does for background jobs)."""

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import requests
from django.conf import settings

from .processes import children_of, free_port, stop, wait_until
from .served import ServedApp


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.integration
@pytest.mark.parametrize("how", ["serve", "group-twice"])
def test_an_interrupt_stops_web_and_worker_even_if_sigint_was_ignored(tmp_path, how):
    """`serve`: SIGINT to serve alone. `group-twice`: as a terminal's Ctrl-C, to the whole
    process group, then again while it stops: no traceback, both stop all the same."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env |= {"DATA_DIR": str(tmp_path), "WEB_PORT": str(port)}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=settings.BASE_DIR, env=env, check=True)
    log = (tmp_path / "serve.log").open("wb")
    serve = subprocess.Popen(
        [sys.executable, "manage.py", "serve"],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    try:
        wait_until(
            lambda: _healthy(port),
            timeout=60,
            what="the web server",
            interval=0.3,
            details=lambda: (tmp_path / "serve.log").read_text(errors="replace")[-3000:],
        )
        children = children_of(serve.pid)
        assert len(children) == 2  # runserver and the worker
        for pid in children:  # the worker's emails link to this server's port
            assert f"SITE_URL=http://127.0.0.1:{port}".encode() in Path(f"/proc/{pid}/environ").read_bytes().split(
                b"\0"
            )

        if how == "serve":
            serve.send_signal(signal.SIGINT)
        else:
            os.killpg(serve.pid, signal.SIGINT)
            time.sleep(0.2)  # an impatient second Ctrl-C, while serve stops its children
            serve.send_signal(signal.SIGINT)

        serve.wait(timeout=30)
        wait_until(lambda: not any(map(_alive, children)), timeout=10, what="web and worker to stop")
    finally:
        stop(serve)
        log.close()
    assert "Traceback" not in (tmp_path / "serve.log").read_text(errors="replace")


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.mark.integration
def test_a_worker_killed_mid_load_is_started_again_while_the_web_keeps_serving_and_the_upload_loads_once(
    tmp_path, sample
):
    """`make run`: kill -9 the whole worker (its process group) while it loads a file. serve
    starts a new one and the web server answers all along; the new worker's beat finds the
    upload's heartbeat silent and queues it again; it loads once, and the dead run's work
    folder is removed. Heartbeat windows shortened (1 s beats, 4 s of silence, sweep every
    2 s); each run waits 5 s once it has read the file."""
    env = {"UPLOAD_HEARTBEAT_EVERY": "1", "UPLOAD_HEARTBEAT_STALE": "4", "UPLOAD_SWEEP_EVERY": "2"}
    app = ServedApp(tmp_path / "data", env={**env, "ETL_TEST_PAUSE_AT": "validating", "ETL_TEST_PAUSE_SECONDS": "5"})
    app.start()
    try:
        upload = app.post_upload(sample("bernasiakk_usa.csv").read_bytes(), "sales.csv").json()
        wait_until(lambda: "paused at validating" in app.log(), timeout=60, what="the run to pause", details=app.log)
        [worker] = app.worker_pids()
        for pid in [worker, *children_of(worker)]:  # the worker and its pool processes at once
            os.kill(pid, signal.SIGKILL)
        killed_at = time.monotonic()
        answers: list[int] = []

        def restarted() -> bool:
            answers.append(requests.get(f"{app.base}/healthz", timeout=5).status_code)
            return app.worker_pids() not in ([], [worker]) and app.log(tail=10**7).count(" ready.") >= 2

        wait_until(restarted, timeout=60, what="a new worker", interval=0.2, details=app.log)
        done = app.wait_finished(upload["id"], timeout=90)
        recovered = time.monotonic() - killed_at
        answers.append(requests.get(f"{app.base}/uploads/", timeout=5, allow_redirects=False).status_code)
        rows = app.warehouse_rows()
    finally:
        app.stop()

    print(f"\nloaded {recovered:.1f} s after the kill; the web answered {len(answers)} requests meanwhile")
    assert "The worker stopped (exit -9); starting a new one" in app.log(tail=10**7)
    assert set(answers) <= {200, 302} and answers.count(200) == len(answers) - 1, answers
    assert (done["status"], done["rows_loaded"], rows) == ("loaded", 291, 291)
    assert list((tmp_path / "data" / "tmp").glob("etl-*")) == []
