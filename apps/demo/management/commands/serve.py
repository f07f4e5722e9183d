"""Start the web server and a Celery worker together (the `make run` entry point). A worker
that dies is started again; the web server keeps serving. If the web server stops, so does
everything."""

import contextlib
import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand

from apps.demo.seed import USERS

# Worker restarts within a minute taken at once; past them, each waits longer (up to 30 s).
RESTARTS_FAST = 3


def _kill_group(process: subprocess.Popen) -> None:
    """SIGKILL what is left of a worker's process group (its pool processes)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


class Command(BaseCommand):
    help = (
        "Run the web server and a separate Celery worker (with beat) process, started again if it dies; "
        "Ctrl-C stops both."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--port", type=int, default=settings.WEB_PORT)
        parser.add_argument("--host", default="127.0.0.1")

    def handle(self, *args, **options) -> None:
        url = f"http://{options['host']}:{options['port']}/"
        # A shell starting us in the background may have set SIGINT to "ignore": Ctrl-C
        # (or kill -INT / -TERM) must still stop both processes.
        # So must a closed terminal (SIGHUP): the worker, in a process group of its own, would
        # not get it.
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.default_int_handler)
        # Links in the worker's emails lead to this server, unless SITE_URL says otherwise.
        env = os.environ | {"SITE_URL": os.environ.get("SITE_URL") or url.rstrip("/")}
        worker = self._worker(env)
        web = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", f"{options['host']}:{options['port']}", "--noreload"],
            cwd=settings.BASE_DIR,
            env=env,
        )
        self._banner(url)
        restarts: list[float] = []
        try:
            while web.poll() is None:
                if worker.poll() is not None:
                    # A dead worker (kill -9, out of memory) is started again; the web server
                    # keeps serving. The sweep of its beat queues again what it was running.
                    worker = self._worker_again(worker, env, restarts)
                time.sleep(0.5)
            self.stderr.write("The web server stopped; stopping the worker.")
        except KeyboardInterrupt:
            pass
        finally:
            # Ctrl-C reaches the whole process group: a second interrupt (another key press,
            # or make passing one on) must not cut the shutdown short with a traceback. The
            # stop is bounded (10 s, then kill) anyway.
            for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                signal.signal(signum, signal.SIG_IGN)
            self.stdout.write("Stopping the web server and the worker...")
            self._stop([web, worker])
            _kill_group(worker)

    @staticmethod
    def _worker(env: dict[str, str]) -> subprocess.Popen:
        """The Celery worker, with beat inside (one machine, one beat), in a process group of
        its own: when it dies, its pool processes are stopped with it before the next starts."""
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "salesapp",
                "worker",
                "--loglevel=INFO",
                f"--concurrency={settings.CELERY_WORKER_CONCURRENCY}",
                "--without-gossip",
                "--without-mingle",
                # Beat inside the worker runs the periodic upload sweep.
                "--beat",
                f"--schedule={settings.CELERY_BEAT_SCHEDULE_FILENAME}",
            ],
            env=env,
            process_group=0,
        )

    def _worker_again(self, dead: subprocess.Popen, env: dict[str, str], restarts: list[float]) -> subprocess.Popen:
        """Start a worker in place of the dead one; after RESTARTS_FAST restarts within a
        minute, wait a little before each (a worker that dies at start must not spin)."""
        _kill_group(dead)
        now = time.monotonic()
        restarts[:] = [t for t in restarts if now - t < 60] + [now]
        pause = 0.0 if len(restarts) <= RESTARTS_FAST else min(30.0, 2.0 ** (len(restarts) - RESTARTS_FAST))
        self.stderr.write(f"The worker stopped (exit {dead.returncode}); starting a new one in {pause:.0f} s.")
        time.sleep(pause)
        return self._worker(env)

    def _banner(self, url: str) -> None:
        broker = "Redis" if settings.REDIS_URL else f"embedded (files in {settings.BROKER_DIR})"
        self.stdout.write(self.style.SUCCESS(f"\nSales data platform: {url}"))
        self.stdout.write(f"Data folder: {settings.DATA_DIR}; broker: {broker}; warehouse: {settings.WAREHOUSE}")
        self.stdout.write(f"Demo logins (password {settings.DEMO_PASSWORD}, unless changed since they were created):")
        for username, role, regions, shops in USERS:
            self.stdout.write(f"  {username:<12} {role.label:<14} {' '.join(regions + shops)}")
        self.stdout.write("Ctrl-C stops the web server and the worker.\n")

    @staticmethod
    def _stop(children: list[subprocess.Popen]) -> None:
        for p in children:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        for p in children:
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
