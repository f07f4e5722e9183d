"""The login throttle holds against attempts sent in parallel, through a real server: the
development server `make run` starts (threads, the local-memory cache), and gunicorn as
compose runs it (two processes with threads, the cache in Redis, which both share).

Each attempt is counted before its password is checked, so of 20 wrong passwords sent at
once only LOGIN_FAILURE_LIMIT (5) are checked, and the right password sent while the wrong
ones are still being checked gets nothing once the limit is reached. Before the fix all 20
were checked (the lockout only learnt of them once their slow checks were done) and the
right password got a token."""

import os
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from django.conf import global_settings, settings
from django.contrib.auth import get_user_model
from django.db import connection

from tests.integration.processes import free_port, start, stop, wait_until

PASSWORD = "correct-horse-battery-1"
LOCKED = "Too many failed sign-ins for this account from your address. Try again in 15 minutes."
WRONG_WEB = "Your username and password didn't match."
WRONG_API = "Unable to log in with provided credentials."
ATTEMPTS = 20
# The right password goes once the throttle has refused a wrong one (the limit is reached),
# or after this long: well before the wrong ones' real password checks end (19 PBKDF2
# checks on two cores take seconds), so without counting first it would still get in.
RIGHT_AFTER_SECONDS = 1.5

pytestmark = pytest.mark.integration


@dataclass
class Server:
    url: str
    log: Path

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


@pytest.fixture(scope="module", params=["runserver", "gunicorn-redis"])
def server(request, django_db_setup, tmp_path_factory) -> Iterator[Server]:
    """The app served on a free port of 127.0.0.1, on the test database (the tests' users)."""
    port, work = free_port(), tmp_path_factory.mktemp("server")
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "DATABASE_URL"}}
    env |= {
        "DATA_DIR": str(work / "data"),
        "DATABASE_URL": f"sqlite:///{connection.settings_dict['NAME']}",
        "DJANGO_SETTINGS_MODULE": "salesapp.settings",
        "DJANGO_DEBUG": "1",  # plain http on 127.0.0.1, as `make run`
        "PYTHONUNBUFFERED": "1",
    }
    if request.param == "runserver":
        command = [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload", "--skip-checks"]
    else:
        env["REDIS_URL"] = request.getfixturevalue("redis_url")
        command = [sys.executable, "-m", "gunicorn", "salesapp.wsgi:application", "--bind", f"127.0.0.1:{port}"]
        command += ["--workers", "2", "--threads", "10"]
    log = work / "server.log"
    proc = start(command, log=log, cwd=settings.BASE_DIR, env=env)
    served = Server(f"http://127.0.0.1:{port}", log)
    try:
        wait_until(lambda: _answers(served), timeout=60, what="the web server", interval=0.2, details=served.tail)
        yield served
    finally:
        stop(proc)


def _answers(server: Server) -> bool:
    try:
        return requests.get(f"{server.url}/healthz", timeout=1).ok
    except requests.RequestException:
        return False


@pytest.fixture
def username(transactional_db, settings) -> str:
    """A user whose password the server checks with the real (slow) PBKDF2 hasher; a new
    name each time, so that no count is left from another test in the shared Redis."""
    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS
    name = f"alice-{uuid.uuid4().hex[:8]}"
    get_user_model().objects.create_user(name, password=PASSWORD)
    return name


def _web_attempt(server: Server, username: str) -> Callable[[str], str]:
    """A prepared sign-in on the login page (its form and CSRF cookie fetched already): post
    a password, get what the page says ("signed in" for a redirect)."""
    session = requests.Session()
    session.get(f"{server.url}/accounts/login/", timeout=30).raise_for_status()
    token = session.cookies["csrftoken"]

    def post(password: str) -> str:
        data = {"username": username, "password": password, "csrfmiddlewaretoken": token}
        response = session.post(f"{server.url}/accounts/login/", data=data, allow_redirects=False, timeout=120)
        if response.status_code == 302:
            return "signed in"
        for said in (LOCKED, WRONG_WEB):
            if said in response.text:
                return said
        return f"{response.status_code}: {response.text[-2000:]}"

    return post


def _api_attempt(server: Server, username: str) -> Callable[[str], str]:
    def post(password: str) -> str:
        data = {"username": username, "password": password}
        response = requests.post(f"{server.url}/api/token/", data=data, timeout=120)
        body = response.json()
        if response.status_code == 200 and "token" in body:
            return "signed in"
        assert response.status_code == 400, (response.status_code, body)
        return " ".join(body["non_field_errors"])

    return post


def _until_one_is_refused(attempts: set[Future]) -> set[Future]:
    """Wait until the throttle refuses one of `attempts` (the limit is reached), or
    RIGHT_AFTER_SECONDS; the attempts still running."""
    started, pending = time.monotonic(), attempts
    while pending and time.monotonic() - started < RIGHT_AFTER_SECONDS:
        done, pending = wait(pending, timeout=0.05, return_when=FIRST_COMPLETED)
        if any(f.result() == LOCKED for f in done):
            break
    return pending


ATTEMPT = {"web": (_web_attempt, WRONG_WEB), "api": (_api_attempt, WRONG_API)}


@pytest.mark.parametrize("way_in", ["web", "api"])
def test_twenty_wrong_passwords_at_once_are_checked_no_more_than_the_limit(server, username, way_in):
    prepare, wrong = ATTEMPT[way_in]
    attempts = [prepare(server, username) for _ in range(ATTEMPTS)]

    with ThreadPoolExecutor(ATTEMPTS) as pool:
        answers = list(pool.map(lambda attempt: attempt("wrong"), attempts))

    assert answers.count(wrong) == settings.LOGIN_FAILURE_LIMIT, answers
    assert answers.count(LOCKED) == ATTEMPTS - settings.LOGIN_FAILURE_LIMIT, answers


@pytest.mark.parametrize("way_in", ["web", "api"])
def test_the_right_password_among_nineteen_wrong_ones_gets_nothing_once_the_limit_is_reached(server, username, way_in):
    prepare, _wrong = ATTEMPT[way_in]
    attempts = [prepare(server, username) for _ in range(ATTEMPTS)]

    with ThreadPoolExecutor(ATTEMPTS) as pool:
        wrong = {pool.submit(attempt, "wrong") for attempt in attempts[:-1]}
        still_checked = _until_one_is_refused(wrong)
        assert len(still_checked) > 1, "the right password must go while wrong ones are being checked"
        right = pool.submit(attempts[-1], PASSWORD)
        answers = [f.result() for f in wrong]

    assert right.result() == LOCKED
    assert "signed in" not in answers
