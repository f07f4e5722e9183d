"""Fault tests with real processes: the integration fixtures (Redis, broker, publisher,
worker), a Redis server that a test can stop and start again, and waiting for uploads."""

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from apps.uploads.models import Upload, UploadEvent
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
from tests.integration.processes import RedisServer, Worker, wait_until

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
    """The upload once its run is over: its status says it ended, and its history too (both
    are saved in one transaction; the history is checked all the same, since that is what
    the tests count)."""

    def finished() -> Upload | None:
        upload = Upload.objects.get(pk=upload_id)
        if not upload.is_finished:
            return None
        ended = upload.events.filter(kind=UploadEvent.Kind.FINISHED)
        if upload.finished_at is not None:
            ended = ended.filter(at__gte=upload.finished_at)
        return upload if ended.exists() else None

    return wait_until(finished, timeout=timeout, what=f"upload {upload_id} to finish", interval=0.2, details=describe)


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
