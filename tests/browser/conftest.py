"""Browser tests drive the real application the way a user runs it.

`live_app` starts the app exactly as `make run` does, in its own data folder:
`manage.py migrate`, `manage.py seed_demo`, then `manage.py serve --port <free port>`
(runserver + a real Celery worker on the embedded filesystem broker; nothing eager).
The subprocesses never see the pytest-django test database: they get their own DATA_DIR,
so these tests need no `db` fixture.

`browser` is Debian's Chromium through Playwright. Without /usr/bin/chromium the tests
are skipped locally and fail when CI is set.
"""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DEMO_PASSWORD = "browser-test-pass-7"
# Screenshots for the docs; BROWSER_SCREENSHOT_DIR sends them elsewhere (e.g. a temp dir).
SCREENSHOT_DIR = Path(os.environ.get("BROWSER_SCREENSHOT_DIR") or BASE_DIR / "docs" / "screenshots")
START_TIMEOUT = 90  # seconds until the web port answers and the worker is ready
STOP_TIMEOUT = 20  # seconds for web + worker to go after SIGTERM


@dataclass
class LiveApp:
    url: str
    data_dir: Path
    log_path: Path
    password: str
    process: subprocess.Popen
    # Uploads done so far in this app, by (username, file name) -> upload page URL; lets
    # tests that need data share one upload instead of each loading the file again.
    uploads: dict = field(default_factory=dict)

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _child_env(data_dir: Path) -> dict:
    env = dict(os.environ)
    # The embedded defaults only: no server database, broker, bucket or BigQuery.
    for name in ("DATABASE_URL", "REDIS_URL", "GCS_BUCKET", "WAREHOUSE", "LOG_LEVEL", "WEB_PORT"):
        env.pop(name, None)
    env.update(
        DATA_DIR=str(data_dir),
        DEMO_PASSWORD=DEMO_PASSWORD,
        DJANGO_SETTINGS_MODULE="salesapp.settings",
        DJANGO_DEBUG="1",
        PYTHONUNBUFFERED="1",
    )
    return env


def _manage(args: list[str], env: dict, log) -> None:
    log.write(f"$ manage.py {' '.join(args)}\n")
    log.flush()
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} exited with {done.returncode}")


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _stop(process: subprocess.Popen) -> list[str]:
    """SIGTERM to the whole process group (serve, runserver, the worker and its pool), as a
    supervisor would; SIGKILL what is left after STOP_TIMEOUT. Returns problems seen."""
    problems = []
    pgid = process.pid  # start_new_session: the group id is the leader's pid
    if not _group_alive(pgid):
        return problems
    os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    while time.monotonic() < deadline and (process.poll() is None or _group_alive(pgid)):
        time.sleep(0.2)
    if process.poll() is None or _group_alive(pgid):
        problems.append(f"processes of group {pgid} still running {STOP_TIMEOUT}s after SIGTERM; killed")
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
        process.wait(timeout=10)
    return problems


@pytest.fixture(scope="session")
def live_app(tmp_path_factory) -> LiveApp:
    """The app as `make run` starts it, on a free port, in a temporary DATA_DIR."""
    data_dir = tmp_path_factory.mktemp("browser-data")
    log_path = data_dir / "serve.log"
    env = _child_env(data_dir)
    with log_path.open("a") as log:
        _manage(["migrate", "--noinput"], env, log)
        _manage(["seed_demo"], env, log)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = log_path.open("a")
    process = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--port", str(port)],
        cwd=BASE_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    app = LiveApp(url=url, data_dir=data_dir, log_path=log_path, password=DEMO_PASSWORD, process=process)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        web_up = worker_up = False
        while not (web_up and worker_up):
            if process.poll() is not None:
                raise RuntimeError(f"manage.py serve exited with {process.returncode}:\n{app.log_tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"app not ready after {START_TIMEOUT}s (web {web_up}, worker {worker_up}):\n{app.log_tail()}"
                )
            web_up = web_up or _answers(f"{url}/healthz")
            # Celery logs "celery@<host> ready." once it consumes the queue.
            worker_up = worker_up or " ready." in log_path.read_text(errors="replace")
            time.sleep(0.25)
        yield app
    finally:
        problems = _stop(process)
        log.close()
        if problems:
            pytest.fail("; ".join(problems) + f"\n{app.log_tail()}")


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium, headless. Module scope: Playwright's sync API keeps an event loop
    in this thread, which would make Django refuse ORM calls in later (db) tests."""
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} not found (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def screenshot_dir() -> Path:
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    return SCREENSHOT_DIR
