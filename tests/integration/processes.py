"""Starting, watching and stopping the real processes the integration tests use."""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

STOP_SECONDS = 15
REDIS_SERVER = "/usr/bin/redis-server"  # Debian's package


def wait_until(
    check: Callable[[], object],
    *,
    timeout: float,
    what: str,
    interval: float = 0.05,
    details: Callable[[], str] = str,
) -> object:
    """Poll `check` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}\n{details()}")
        time.sleep(interval)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(command: list[str], *, log: Path, cwd: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    """Start `command` in its own session (so its children can be stopped with it),
    output to `log`."""
    with log.open("wb") as out:
        return subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def stop(proc: subprocess.Popen, *, timeout: float = STOP_SECONDS) -> None:
    """SIGTERM and wait; then SIGKILL its process group (a worker's pool children too)."""
    if proc.poll() is None:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=timeout)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)  # started with start_new_session: pgid == pid
    proc.wait(timeout=timeout)


def redis_server_path() -> str:
    """redis-server, or skip the test (but fail on CI, which must run it)."""
    path = shutil.which("redis-server") or (REDIS_SERVER if Path(REDIS_SERVER).exists() else "")
    if not path:
        reason = "redis-server is not installed (Debian: apt-get install redis-server)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI must run the Redis integration tests")
        pytest.skip(reason)
    return path


@dataclass
class Worker:
    """A running `celery worker` process and its log."""

    proc: subprocess.Popen
    log_path: Path
    cwd: Path

    def log(self, tail: int = 6000) -> str:
        return self.log_path.read_text(errors="replace")[-tail:]

    def describe(self) -> str:
        return f"--- worker log (tail) ---\n{self.log()}"

    def wait_for_log(self, text: str, *, timeout: float = 60) -> None:
        def seen() -> bool:
            if self.proc.poll() is not None:
                pytest.fail(f"the worker exited with {self.proc.returncode}\n{self.describe()}")
            return text in self.log_path.read_text(errors="replace")

        wait_until(seen, timeout=timeout, what=f"{text!r} in the worker log", interval=0.1, details=self.describe)
