"""Production settings, checked in a fresh process with the production environment: the
deploy check is clean, responses carry HSTS, CSP and frame headers, cookies are secure,
and without DJANGO_SECRET_KEY the app refuses to start. Secrets come from the environment."""

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = ROOT / "salesapp" / "settings.py"
SECRET = "a-real-secret-from-the-environment-0123456789-abcdefghijklmnopqrstuvwxyz"
HOST = "sales.example.com"


@pytest.fixture
def production_env(tmp_path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "EMAIL_"))}
    env.update(
        DATA_DIR=str(tmp_path / "data"),
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY=SECRET,
        DJANGO_ALLOWED_HOSTS=HOST,
        DJANGO_SETTINGS_MODULE="salesapp.settings",
    )
    return env


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_deploy_check_is_clean_under_the_production_environment(production_env):
    result = _run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], production_env)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_hsts_preload_when_switched_on_is_sent_and_not_silenced(production_env):
    production_env["DJANGO_HSTS_PRELOAD"] = "1"

    result = _run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], production_env)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "(0 silenced)" in result.stdout


PROBE = f"""
import json, django
django.setup()
from django.conf import settings
from django.test import Client
client = Client(HTTP_HOST="{HOST}")
plain = client.get("/accounts/login/")
secure = client.get("/accounts/login/", secure=True)
cookie = secure.cookies.get(settings.CSRF_COOKIE_NAME)
print(json.dumps({{
    "plain_status": plain.status_code,
    "plain_location": plain.get("Location", ""),
    "status": secure.status_code,
    "hsts": secure.get("Strict-Transport-Security", ""),
    "csp": secure.get("Content-Security-Policy", ""),
    "xfo": secure.get("X-Frame-Options", ""),
    "nosniff": secure.get("X-Content-Type-Options", ""),
    "csrf_cookie_secure": bool(cookie and cookie["secure"]),
    "session_cookie_secure": settings.SESSION_COOKIE_SECURE,
    "session_cookie_httponly": settings.SESSION_COOKIE_HTTPONLY,
    "secret_key": settings.SECRET_KEY,
    "debug": settings.DEBUG,
}}))
"""


def test_production_responses_carry_hsts_csp_frame_headers_and_secure_cookies(production_env):
    result = _run(["-c", PROBE], production_env)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])

    assert (seen["plain_status"], seen["plain_location"]) == (301, f"https://{HOST}/accounts/login/")
    assert seen["status"] == 200
    assert seen["hsts"] == "max-age=2592000; includeSubDomains"
    script_src = next(d for d in seen["csp"].split("; ") if d.startswith("script-src"))
    assert script_src.startswith("script-src 'self'") and "unsafe" not in script_src  # a nonce when a page uses one
    assert "frame-ancestors 'none'" in seen["csp"]
    assert "object-src 'none'" in seen["csp"]
    assert seen["xfo"] == "DENY"
    assert seen["nosniff"] == "nosniff"
    assert seen["csrf_cookie_secure"] and seen["session_cookie_secure"] and seen["session_cookie_httponly"]
    assert (seen["secret_key"], seen["debug"]) == (SECRET, False)


def test_the_app_refuses_to_start_without_a_secret_key_when_debug_is_off(production_env):
    del production_env["DJANGO_SECRET_KEY"]

    result = _run(["manage.py", "check"], production_env)

    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off" in result.stderr


def _literal_assignments(tree: ast.Module) -> list[tuple[str, str, int]]:
    """(name, string literal, line) for each string literal in the value assigned to a name."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            names = [t.id for t in node.targets if isinstance(t, ast.Name)]
            constants = [c for c in ast.walk(node.value) if isinstance(c, ast.Constant)]
            literals = [c.value for c in constants if isinstance(c.value, str)]
            found += [(n, v, node.lineno) for n in names for v in literals]
    return found


def test_settings_hold_no_secret_but_the_dev_key_that_debug_guards():
    tree = ast.parse(SETTINGS.read_text())
    secretish = ("SECRET", "PASSWORD", "TOKEN", "CREDENTIAL", "API_KEY")
    not_secret = {"AUTH_PASSWORD_VALIDATORS", "PASSWORD_HASHERS"}
    found = {
        (name, value)
        for name, value, _ in _literal_assignments(tree)
        if any(s in name for s in secretish) and name not in not_secret
    }
    # Allowed: the names of environment variables, the dev key (refused when DEBUG is off,
    # see the test above), and the demo users' documented default password.
    env_names = {value for _, value in found if value.isupper() and value.replace("_", "").isalnum()}
    allowed = {
        ("SECRET_KEY", "insecure-local-only-key-set-DJANGO_SECRET_KEY-in-production"),
        ("DEMO_PASSWORD", "demo-pass-2026"),
    }
    assert {f for f in found if f[1] not in env_names} == allowed
    # The password of the SMTP account is read from the environment only.
    assert 'env("EMAIL_HOST_PASSWORD")' in SETTINGS.read_text()
