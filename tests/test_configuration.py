"""Configuration stays documented and deployable."""

import os
import re
import shutil
import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from salesapp.settings import FALSE_WORDS, TRUE_WORDS, env_bool, env_int
from tests.emulators.servers import ROOT


def test_every_variable_the_settings_read_is_in_env_example():
    settings = (ROOT / "salesapp/settings.py").read_text()
    names = set(re.findall(r'env(?:_int|_bool)?\("([A-Z0-9_]+)"', settings))
    names |= {"STORAGE_EMULATOR_HOST", "GOOGLE_APPLICATION_CREDENTIALS"}  # read by Google's clients
    documented = set(re.findall(r"^# ([A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M))
    assert names - documented == set()


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose is not installed")
@pytest.mark.parametrize("profile", [[], ["--profile", "gcp-emulators"]])
def test_compose_file_is_valid(profile):
    done = subprocess.run(["docker-compose", *profile, "config", "-q"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


# -- malformed values stop start-up ---------------------------------------------------------
def _start(env: dict[str, str], tmp_path) -> subprocess.CompletedProcess:
    """`manage.py check` in a fresh process with these variables on top of the test's own."""
    environ = {**os.environ, "DATA_DIR": str(tmp_path / "data"), "DJANGO_SETTINGS_MODULE": "salesapp.settings", **env}
    return subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=environ, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("DJANGO_DEBUG", "maybe", "is not a boolean: set 1, true, yes, on to switch it on, 0, false, no, off"),
        ("ETL_CSV_TYPED_READ", "sometimes", "is not a boolean"),
        ("UPLOAD_MAX_BYTES", "10MB", "is not a whole number (e.g. UPLOAD_MAX_BYTES=524288000)"),
        ("LOGIN_FAILURE_LIMIT", "five", "is not a whole number"),
    ],
)
def test_a_malformed_value_stops_start_up_naming_the_variable(tmp_path, variable, value, says):
    done = _start({variable: value}, tmp_path)

    assert done.returncode != 0
    assert f"ImproperlyConfigured: {variable}={value!r} {says}" in done.stderr


def test_well_formed_values_start(tmp_path):
    done = _start({"DJANGO_DEBUG": "Yes", "ETL_CSV_TYPED_READ": "OFF", "UPLOAD_MAX_BYTES": " 1048576 "}, tmp_path)

    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(("value", "expected"), [*((w, True) for w in TRUE_WORDS), *((w, False) for w in FALSE_WORDS)])
def test_env_bool_reads_the_accepted_words_in_any_case(monkeypatch, value, expected):
    monkeypatch.setenv("SALESAPP_TEST_SWITCH", value.upper())
    assert env_bool("SALESAPP_TEST_SWITCH", not expected) is expected


@pytest.mark.parametrize("default", [True, False])
def test_env_bool_and_env_int_give_the_default_when_unset_or_empty(monkeypatch, default):
    monkeypatch.setenv("SALESAPP_TEST_SWITCH", "  ")
    monkeypatch.delenv("SALESAPP_TEST_NUMBER", raising=False)
    assert env_bool("SALESAPP_TEST_SWITCH", default) is default
    assert env_int("SALESAPP_TEST_NUMBER", 7) == 7


@pytest.mark.parametrize("value", ["2", "y", "enabled", "true!"])
def test_env_bool_refuses_anything_else(monkeypatch, value):
    monkeypatch.setenv("SALESAPP_TEST_SWITCH", value)
    with pytest.raises(ImproperlyConfigured, match=f"SALESAPP_TEST_SWITCH={value!r} is not a boolean"):
        env_bool("SALESAPP_TEST_SWITCH", False)
