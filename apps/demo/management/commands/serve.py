"""Start the web server and a Celery worker together (the `make run` entry point)."""

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand

from apps.demo.seed import USERS


class Command(BaseCommand):
    help = "Run the web server and a separate Celery worker (with beat) process; Ctrl-C stops both."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--port", type=int, default=settings.WEB_PORT)
        parser.add_argument("--host", default="127.0.0.1")

    def handle(self, *args, **options) -> None:
        url = f"http://{options['host']}:{options['port']}/"
        # A shell starting us in the background may have set SIGINT to "ignore": Ctrl-C
        # (or kill -INT / -TERM) must still stop both processes.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.default_int_handler)
        # Links in the worker's emails lead to this server, unless SITE_URL says otherwise.
        env = os.environ | {"SITE_URL": os.environ.get("SITE_URL") or url.rstrip("/")}
        worker = subprocess.Popen(
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
                # Beat inside the worker runs the periodic upload sweep (one machine, one beat).
                "--beat",
                f"--schedule={settings.CELERY_BEAT_SCHEDULE_FILENAME}",
            ],
            env=env,
        )
        web = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", f"{options['host']}:{options['port']}", "--noreload"],
            cwd=settings.BASE_DIR,
            env=env,
        )
        self._banner(url)
        children = [web, worker]
        try:
            while all(p.poll() is None for p in children):
                time.sleep(0.5)
            self.stderr.write("A process stopped; stopping the other.")
        except KeyboardInterrupt:
            pass
        finally:
            # Ctrl-C reaches the whole process group: a second interrupt (another key press,
            # or make passing one on) must not cut the shutdown short with a traceback. The
            # stop is bounded (10 s, then kill) anyway.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            self.stdout.write("Stopping the web server and the worker...")
            self._stop(children)

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
