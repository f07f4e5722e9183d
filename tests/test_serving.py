"""How the app serves people (issue 17, point 6): `make run` serves with DEBUG off, with a
secret key of its own kept under DATA_DIR and static files from WhiteNoise; the error
pages (400, 403, 404, 500) show nothing internal: no URL list, no traceback, no SQL.
Before: `make run` ran with DEBUG on, so a 404 listed every URL pattern and an error
showed its traceback with the SQL, the scope's values and the paths."""

import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.urls import reverse

from apps.reports import selectors

BASE_DIR = Path(__file__).resolve().parents[1]
INTERNAL = ["Using the URLconf", "urlpatterns", "Traceback", "SELECT", "Master_Sales_View", "scope_country",
            str(BASE_DIR), "django.", "DEBUG = True"]  # fmt: skip


def _shows_nothing_internal(text: str) -> None:
    shown = [word for word in INTERNAL if word in text]
    assert not shown, shown


def test_error_pages_show_nothing_internal(cast, monkeypatch, settings):
    settings.DEBUG = False
    client = Client(raise_request_exception=False)
    client.force_login(cast["head_uk"])

    missing = client.get("/reports/no-such-page/")
    assert missing.status_code == 404
    assert "Page not found" in missing.content.decode()
    _shows_nothing_internal(missing.content.decode())

    def fail(**kwargs):
        raise RuntimeError('SELECT * FROM "Master_Sales_View" WHERE country_code IN ($scope_country_0)')

    monkeypatch.setattr(selectors, "dashboard_figures", fail)
    failed = client.get(reverse("reports:master"))
    assert failed.status_code == 500
    assert "Something went wrong" in failed.content.decode()
    _shows_nothing_internal(failed.content.decode())

    bad_host = client.get(reverse("reports:master"), HTTP_HOST="evil.example")
    assert bad_host.status_code == 400
    assert "Bad request" in bad_host.content.decode()
    _shows_nothing_internal(bad_host.content.decode())


def test_a_permission_refused_shows_the_403_page(rf, settings):
    from django.views.defaults import permission_denied

    request = rf.get("/")
    request.user = type("Anonymous", (), {"is_authenticated": False, "is_staff": False})()
    response = permission_denied(request, PermissionDenied("the upload 1234 of shop US-NYC"))
    text = response.content.decode()
    assert response.status_code == 403 and "Not allowed" in text
    assert "1234" not in text and "US-NYC" not in text


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _make_run(data_dir: Path, port: int, log) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    for name in ("DATABASE_URL", "REDIS_URL", "GCS_BUCKET", "WAREHOUSE", "EMAIL_BACKEND", "DEBUG"):
        env.pop(name, None)
    env.update(DATA_DIR=str(data_dir), WEB_PORT=str(port), DEMO_PASSWORD="make-run-pass-1", PYTHONUNBUFFERED="1")
    # -o venv: the venv is there already (its install stamp is make's business, not this test's).
    return subprocess.Popen(
        ["make", "--no-print-directory", "-o", "venv", "run"], cwd=BASE_DIR, env=env, stdout=log,
        stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip


def _wait_for(url: str, process: subprocess.Popen, log_path: Path, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, log_path.read_text()[-3000:]
        try:
            requests.get(url, timeout=2)
            return
        except requests.ConnectionError:
            time.sleep(0.3)
    raise AssertionError(f"not serving after {seconds} s:\n{log_path.read_text()[-3000:]}")


def _stop(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGINT)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def _sign_in(base: str) -> requests.Session:
    session = requests.Session()
    page = session.get(f"{base}/accounts/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    form = {"username": "head_uk", "password": "make-run-pass-1", "csrfmiddlewaretoken": token}
    done = session.post(f"{base}/accounts/login/", data=form, headers={"Referer": f"{base}/accounts/login/"})
    assert "/accounts/login/" not in done.url, done.text[:2000]
    return session


@pytest.mark.integration
def test_make_run_serves_with_debug_off_a_lasting_secret_key_and_static_files(tmp_path):
    data_dir, port = tmp_path / "data", _free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "make-run.log"
    with log_path.open("a") as log:
        process = _make_run(data_dir, port, log)
        try:
            _wait_for(f"{base}/healthz", process, log_path)
            key_file = data_dir / "secret_key"
            assert len(key_file.read_text().strip()) >= 50
            assert key_file.stat().st_mode & 0o077 == 0  # the owner's only

            missing = requests.get(f"{base}/no-such-page/")
            assert missing.status_code == 404
            _shows_nothing_internal(missing.text)
            assert requests.get(f"{base}/static/css/app.css").status_code == 200
            assert requests.get(f"{base}/static/vendor/plotly.min.js").status_code == 200

            session = _sign_in(base)
            crafted = session.get(f"{base}/reports/?preset=custom&start=0001-01-01&end=0001-01-05&grain=week")
            assert crafted.status_code == 200
            assert session.get(f"{base}/reports/lines/?page=99999999999999999999").status_code == 200
        finally:
            _stop(process)

        # Started again: the same key, so the session signed by the first run still holds.
        key = key_file.read_text()
        process = _make_run(data_dir, port, log)
        try:
            _wait_for(f"{base}/healthz", process, log_path)
            assert key_file.read_text() == key
            again = session.get(f"{base}/reports/", allow_redirects=False)
            assert again.status_code == 200, again.status_code
        finally:
            _stop(process)
