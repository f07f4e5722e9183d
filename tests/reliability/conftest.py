"""Fault tests with real processes: the integration fixtures (Redis, broker, publisher,
worker), a Redis server that a test can stop and start again, and waiting for uploads."""

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from apps.uploads.models import Upload
from tests.integration.conftest import (  # noqa: F401 (fixtures)
    Broker,
    broker,
    celery_worker,
    published_tasks,
    publisher,
    redis_url,
    upload_sample,
    warehouse_count,
    worker_start,
)
from tests.integration.processes import Worker, free_port, redis_server_path, start, stop, wait_until

FINISH_SECONDS = 60
# A worker that gives up on a dead run quickly: the hard time limit (after which a processing
# upload may be claimed again) is 8 s, and Redis hands an unacknowledged task out again after
# 9 s, looking every second. The second run of a 291-row file takes about a second.
FAST_RECOVERY = {
    "ETL_SOFT_TIME_LIMIT": "6",
    "ETL_TIME_LIMIT": "8",
    "REDIS_VISIBILITY_TIMEOUT": "9",
    "REDIS_UNACKED_RESTORE_INTERVAL": "1",
}


def fast_recovery_here(settings) -> None:
    """The same limits in this process, which publishes tasks and runs the sweep."""
    settings.CELERY_TASK_SOFT_TIME_LIMIT = int(FAST_RECOVERY["ETL_SOFT_TIME_LIMIT"])
    settings.CELERY_TASK_TIME_LIMIT = int(FAST_RECOVERY["ETL_TIME_LIMIT"])


def kill_9(worker: Worker) -> None:
    """SIGKILL the worker and its pool children at once: nothing gets to clean up."""
    os.killpg(worker.proc.pid, signal.SIGKILL)
    worker.proc.wait(timeout=10)


def wait_finished(upload_id, *, describe=str, timeout: float = FINISH_SECONDS) -> Upload:
    def finished() -> Upload | None:
        upload = Upload.objects.get(pk=upload_id)
        return upload if upload.is_finished else None

    return wait_until(finished, timeout=timeout, what=f"upload {upload_id} to finish", interval=0.2, details=describe)


class RedisServer:
    """redis-server on a fixed port of 127.0.0.1 that can be stopped and started again."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.workdir = workdir
        self.proc = None

    def start(self) -> None:
        import redis

        command = [redis_server_path(), "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        self.proc = start([*command, "--appendonly", "no"], log=self.workdir / "redis.log", cwd=self.workdir)
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.5)

        def answers() -> bool:
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


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_broker(redis_server: RedisServer) -> Broker:
    return Broker("redis", redis_server.url, {}, {"REDIS_URL": redis_server.url})
