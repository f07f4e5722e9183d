"""Configuration stays documented and deployable."""

import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys

import pytest
import yaml
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


# -- Celery: routes, beat and queues name real things ----------------------------------------
CELERY_PROBE = """
import json, django
django.setup()
from django.conf import settings
from salesapp.celery import app
app.loader.import_default_modules()
print(json.dumps({
    "routes": {pattern: route["queue"] for pattern, route in settings.CELERY_TASK_ROUTES.items()},
    "default_queue": settings.CELERY_TASK_DEFAULT_QUEUE,
    "queues": list(settings.CELERY_QUEUE_NAMES),
    "beat": {name: entry["task"] for name, entry in settings.CELERY_BEAT_SCHEDULE.items()},
    "tasks": sorted(name for name in app.tasks if not name.startswith("celery.")),
}))
"""


@pytest.fixture(scope="module")
def celery_config(tmp_path_factory) -> dict:
    """The Celery configuration of a process set up as compose runs it (Redis, embedded
    warehouse, so beat also compacts), and the tasks its Celery app registers."""
    environ = {k: v for k, v in os.environ.items() if k not in {"WAREHOUSE_COMPACT_EVERY", "UPLOAD_SWEEP_EVERY"}}
    environ.update(
        DATA_DIR=str(tmp_path_factory.mktemp("celery") / "data"),
        DJANGO_SETTINGS_MODULE="salesapp.settings",
        REDIS_URL="redis://127.0.0.1:9/0",  # never connected to: the settings only
        WAREHOUSE="embedded",
    )
    done = subprocess.run(
        [sys.executable, "-c", CELERY_PROBE], cwd=ROOT, env=environ, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def _compose_worker_queues(default_queue: str) -> dict[str, set[str]]:
    """Each docker-compose service that runs a Celery worker, and the queues it consumes."""
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    workers = {}
    for name, service in services.items():
        command = service.get("command") or ""
        command = " ".join(command) if isinstance(command, list) else command
        if re.search(r"\bcelery\b.*\bworker\b", command):
            queues = re.search(r"(?:-Q|--queues)[ =](\S+)", command)
            workers[name] = set(queues.group(1).split(",")) if queues else {default_queue}
    return workers


def _used_queues(config: dict) -> set[str]:
    """The default queue, and the queue of each route that some registered task takes."""
    routed = {queue for pattern, queue in config["routes"].items() if fnmatch.filter(config["tasks"], pattern)}
    return routed | {config["default_queue"]}


def test_every_task_route_and_beat_entry_names_a_registered_task(celery_config):
    tasks = celery_config["tasks"]
    assert celery_config["routes"] and celery_config["beat"]

    problems = [
        *(
            f"route {pattern} matches no task"
            for pattern in celery_config["routes"]
            if not fnmatch.filter(tasks, pattern)
        ),
        *(f"beat {entry!r} runs {task}, no task" for entry, task in celery_config["beat"].items() if task not in tasks),
    ]

    assert problems == [], f"registered tasks: {tasks}"


def test_every_queue_a_task_uses_has_a_compose_worker_and_no_other_queue_is_named(celery_config):
    used = _used_queues(celery_config)
    workers = _compose_worker_queues(celery_config["default_queue"])
    consumed = set().union(*workers.values())

    assert workers, "docker-compose.yml starts no Celery worker"
    assert used - consumed == set(), f"queues no compose worker consumes; workers: {workers}"
    assert consumed - used == set(), f"compose workers wait on queues no task is sent to: {workers}"
    # The queues the settings name (the metrics report the depth of each) are the ones in use.
    assert set(celery_config["queues"]) == used


# -- requirements: a runtime lock for the image, a development lock for the tests -----------
def _pins(lock: str) -> dict[str, str]:
    lines = (ROOT / lock).read_text().splitlines()
    return {m[1].lower(): m[2] for line in lines if (m := re.match(r"([A-Za-z0-9_.\-]+)==(\S+)", line))}


def _direct(requirements_in: str) -> set[str]:
    lines = (ROOT / requirements_in).read_text().splitlines()
    return {m[1].lower() for line in lines if (m := re.match(r"([A-Za-z0-9][A-Za-z0-9_.\-]*)", line))}


def test_each_lock_pins_every_direct_requirement():
    assert _direct("requirements.in") - set(_pins("requirements.txt")) == set()
    assert _direct("requirements-dev.in") - set(_pins("requirements-dev.txt")) == set()


def test_the_dev_lock_pins_the_runtime_packages_at_the_runtime_locks_versions():
    runtime, dev = _pins("requirements.txt"), _pins("requirements-dev.txt")
    assert {name: (version, dev.get(name)) for name, version in runtime.items() if dev.get(name) != version} == {}


def test_the_runtime_lock_and_the_image_carry_no_test_tools():
    dev_only = _direct("requirements-dev.in")
    assert {"pytest", "pytest-django", "playwright", "ruff", "gcp-storage-emulator"} <= dev_only
    assert dev_only & set(_pins("requirements.txt")) == set()
    assert {"pytest", "pluggy", "iniconfig", "greenlet"} & set(_pins("requirements.txt")) == set()
    # The application's stage installs the runtime lock, and nothing else.
    app_stage = (ROOT / "Dockerfile").read_text().split("\nFROM ")[-1]
    assert app_stage.startswith("base AS app")
    assert re.findall(r"pip install[^\n]*", app_stage) == ["pip install -r requirements.txt"]
