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


def stop(proc: subprocess.Popen, *, timeout: float = STOP_SECONDS, sig: int = signal.SIGTERM) -> None:
    """`sig` (SIGTERM: a Celery worker's warm shutdown, which waits for its tasks; SIGKILL in a
    teardown that tests no stopping: a worker on the filesystem broker takes seconds to stop)
    and wait; then SIGKILL its process group (a worker's pool children too)."""
    if proc.poll() is None:
        proc.send_signal(sig)
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


class RedisServer:
    """redis-server on a fixed port of 127.0.0.1, nothing persisted, that can be stopped and
    started again (on the same port)."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.workdir = workdir
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        import redis

        command = [redis_server_path(), "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        log = self.workdir / "redis.log"
        proc = self.proc = start([*command, "--appendonly", "no"], log=log, cwd=self.workdir)
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.5)

        def answers() -> bool:
            if proc.poll() is not None:
                pytest.fail(f"redis-server exited with {proc.returncode}:\n{log.read_text()}")
            try:
                return client.ping()
            except redis.ConnectionError:
                return False

        wait_until(answers, timeout=10, what="redis-server to answer PING")
        client.close()

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc)
            self.proc = None


def children_of(pid: int) -> list[int]:
    """The processes whose parent is `pid` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


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
