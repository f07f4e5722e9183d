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
from django.conf import settings

from .processes import children_of, free_port, stop, wait_until


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
