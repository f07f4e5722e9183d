"""Real processes for the integration tests: a Redis server and a Celery worker.

The worker is a separate `celery worker` process (prefork, 2 children) that shares this
test's DATA_DIR (files, warehouse, broker folders) and the file-based test database; the
test process publishes to the same broker through the project's own Celery app.
"""

import os
import signal
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from celery.signals import after_task_publish
from django.conf import settings
from django.core.files import File

from apps.accounts.access import scope_for
from apps.accounts.models import Shop
from apps.uploads.models import Upload
from apps.uploads.services import upload_create
from apps.warehouse.services import warehouse
from salesapp.celery import app as celery_app

from .processes import RedisServer, Worker, start, stop

WORKER_STARTUP_SECONDS = 30


# -- Redis ----------------------------------------------------------------------------------
@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    """A throwaway redis-server on a free port of 127.0.0.1, nothing persisted."""
    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


# -- the broker both processes use ----------------------------------------------------------
@dataclass
class Broker:
    name: str
    url: str
    transport_options: dict
    worker_env: dict[str, str] = field(default_factory=dict)


def filesystem_transport_options(data_dir: Path) -> dict:
    """The settings' filesystem-broker options moved from this session's BROKER_DIR to the
    test's data folder: what a process started with DATA_DIR=data_dir computes."""
    session_root, test_root = str(settings.BROKER_DIR), str(data_dir / "broker")
    options = {}
    for key, value in settings.CELERY_BROKER_TRANSPORT_OPTIONS.items():
        if isinstance(value, str) and value.startswith(session_root):
            value = test_root + value[len(session_root) :]
        options[key] = value
    folders = {key: value for key, value in options.items() if "folder" in key}
    assert folders, options
    assert all(value.startswith(test_root) for value in folders.values()), f"not under BROKER_DIR: {folders}"
    return options


@pytest.fixture(params=["filesystem", "redis"])
def broker(request, data_dir: Path) -> Broker:
    """The embedded filesystem broker (folders under DATA_DIR), or a real Redis server."""
    if request.param == "filesystem":
        return Broker("filesystem", "filesystem://", filesystem_transport_options(data_dir))
    url = request.getfixturevalue("redis_url")
    return Broker("redis", url, {}, {"REDIS_URL": url})


def _drop_broker_connections() -> None:
    """Forget pooled connections so that the next publish uses the current app.conf."""
    if celery_app._pool is not None:
        celery_app._pool.force_close_all()
        celery_app._pool = None
    amqp = celery_app.__dict__.get("amqp")
    if amqp is not None and amqp._producer_pool is not None:
        amqp._producer_pool.force_close_all()
        amqp._producer_pool = None


@pytest.fixture
def publisher(broker: Broker) -> Iterator[Broker]:
    """This test process's Celery app publishes to `broker` (set back afterwards)."""
    keys = ("broker_url", "broker_transport_options")
    saved = {key: celery_app.conf[key] for key in keys}
    celery_app.conf.broker_url = broker.url
    celery_app.conf.broker_transport_options = broker.transport_options
    _drop_broker_connections()
    try:
        yield broker
    finally:
        _drop_broker_connections()
        celery_app.conf.update(saved)


@pytest.fixture
def published_tasks() -> Iterator[list[dict]]:
    """Every task message this process publishes: id, task name, args, kwargs."""
    sent: list[dict] = []

    def record(sender=None, headers=None, body=None, **_) -> None:
        args, kwargs, _embed = body
        sent.append({"id": headers["id"], "task": sender, "args": list(args), "kwargs": dict(kwargs)})

    after_task_publish.connect(record, weak=False)
    yield sent
    after_task_publish.disconnect(record)


# -- the worker -----------------------------------------------------------------------------
@pytest.fixture
def celery_worker(publisher: Broker, data_dir: Path, transactional_db, tmp_path: Path) -> Iterator[Worker]:
    """`celery -A salesapp worker --pool=prefork --concurrency=2 -Q celery` in its own
    process on this test's DATA_DIR, test database and broker; ready when yielded, stopped
    (before the database is flushed) afterwards."""
    worker = worker_start(publisher, data_dir, tmp_path)
    try:
        yield worker
    finally:
        stop(worker.proc, sig=signal.SIGKILL)  # a teardown: nothing to wait for


def worker_start(
    publisher: Broker,
    data_dir: Path,
    tmp_path: Path,
    *,
    env: dict[str, str] | None = None,
    name: str = "worker",
    beat: bool = False,
) -> Worker:
    """Start a worker as `celery_worker` does (extra `env` on top), wait until it is ready;
    the caller stops it. Each gets its own log (<name>.log) and working directory. With
    `beat`, Celery beat runs inside it (as under `manage.py serve`) and it reads every queue
    the routes name, as beat's tasks go there."""
    from django.db import connection

    db_file = connection.settings_dict["NAME"]
    assert Path(db_file).is_file(), f"the test database must be a file a worker can open: {db_file}"
    environ = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "DATABASE_URL"}}
    environ.update(
        DATA_DIR=str(data_dir),
        DATABASE_URL=f"sqlite:///{db_file}",
        DJANGO_SETTINGS_MODULE="salesapp.settings",
        PYTHONPATH=os.pathsep.join(p for p in (str(settings.BASE_DIR), environ.get("PYTHONPATH")) if p),
        PYTHONUNBUFFERED="1",
        LOG_LEVEL="INFO",
        **publisher.worker_env,
        **(env or {}),
    )
    # Its own working directory, so anything it writes outside DATA_DIR shows up there.
    cwd = tmp_path / f"{name}-cwd"
    cwd.mkdir()
    queues = ",".join(("celery", *settings.CELERY_QUEUE_NAMES)) if beat else "celery"
    command = [
        *(sys.executable, "-m", "celery", "-A", "salesapp", "worker"),
        *("--pool=prefork", "--concurrency=2", "-Q", queues, "--loglevel=INFO"),
        *("--without-gossip", "--without-mingle", "--without-heartbeat"),
        *("--hostname", f"itest-{uuid.uuid4().hex[:8]}@%h"),
        *(("--beat", f"--schedule={tmp_path / f'{name}-beat-schedule'}") if beat else ()),
    ]
    log = tmp_path / f"{name}.log"
    worker = Worker(start(command, log=log, cwd=cwd, env=environ), log, cwd)
    try:
        worker.wait_for_log(" ready.", timeout=WORKER_STARTUP_SECONDS)
    except BaseException:
        stop(worker.proc, sig=signal.SIGKILL)  # a teardown: nothing to wait for
        raise
    return worker


# -- uploads and the warehouse --------------------------------------------------------------
@pytest.fixture
def upload_sample(sample) -> Callable[..., Upload]:
    """Upload a tests/data file for a shop as the given user, through the real service."""

    def upload(user, shop_code: str, name: str, *, enqueue: bool) -> Upload:
        path = sample(name)
        with path.open("rb") as fh:
            return upload_create(
                scope=scope_for(user),
                user=user,
                shop=Shop.objects.get(code=shop_code),
                file=File(fh),
                name=path.name,
                enqueue=enqueue,
            )

    return upload


@pytest.fixture
def warehouse_count() -> Callable[[str], int]:
    """The single number a `SELECT count(...)` query returns from the configured warehouse."""

    def count(sql: str) -> int:
        return warehouse().query(sql).column(0)[0].as_py()

    return count
