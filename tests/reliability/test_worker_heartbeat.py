"""kill -9 the whole worker mid-load, with the task time limits of production (an hour): the
running upload's heartbeat stops, the sweep that beat runs in the next worker finds it
silent and queues it again, whatever the broker (the filesystem broker lost the message
with the worker; Redis would hand it out again only after its two-hour visibility timeout),
and removes the dead run's work folder. The upload is loaded once, within minutes.

The heartbeat's windows are shortened for the test (1 s beats, 4 s of silence, a sweep
every 2 s); production's 30 s / 150 s / 60 s make it at most 3.5 minutes."""

import time

import pytest

from apps.uploads.models import Upload, UploadEvent
from tests.integration.processes import wait_until

from .conftest import kill_9, wait_finished, worker_start

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
HEARTBEAT = {"UPLOAD_HEARTBEAT_EVERY": "1", "UPLOAD_HEARTBEAT_STALE": "4", "UPLOAD_SWEEP_EVERY": "2"}
# Production's bound: silence + one sweep interval, well inside the 5 minutes asked for.
RECOVERY_SECONDS = 4 + 2 + 30  # + the second run and the worker's start on a busy machine


@pytest.mark.parametrize("broker", ["filesystem", "redis"], indirect=True)
def test_a_worker_killed_mid_load_is_noticed_by_its_heartbeat_and_the_upload_loads_once(
    broker, publisher, data_dir, tmp_path, settings, cast, upload_sample, warehouse_count
):
    settings.UPLOAD_HEARTBEAT_EVERY, settings.UPLOAD_HEARTBEAT_STALE = 1, 4
    env = {**HEARTBEAT, "ETL_TEST_PAUSE_AT": "validating", "ETL_TEST_PAUSE_SECONDS": "3600"}
    first = worker_start(publisher, data_dir, tmp_path, env=env, name="w1")
    try:
        upload = upload_sample(cast["mgr_us_nyc"], "US-NYC", "bernasiakk_usa.csv", enqueue=True)
        first.wait_for_log("paused at validating", timeout=30)
        time.sleep(2.5)  # two beats while it waits: a live run is left alone
        assert Upload.objects.get(pk=upload.pk).heartbeat_at > Upload.objects.get(pk=upload.pk).started_at
        work = list((data_dir / "tmp").glob("etl-*"))
        assert len(work) == 1, work  # the run's work folder
        kill_9(first)
        killed_at = time.monotonic()
    finally:
        if first.proc.poll() is None:
            kill_9(first)
    assert Upload.objects.get(pk=upload.pk).status == Upload.Status.PROCESSING

    second = worker_start(publisher, data_dir, tmp_path, env=HEARTBEAT, name="w2", beat=True)
    try:
        done = wait_finished(upload.pk, describe=second.describe, timeout=RECOVERY_SECONDS)
        recovered = time.monotonic() - killed_at
        wait_until(lambda: not work[0].exists(), timeout=15, what="the dead run's work folder removed",
                   details=second.describe)  # fmt: skip
    finally:
        kill_9(second)

    print(f"\n{broker.name}: loaded {recovered:.1f} s after the kill")
    assert (done.status, done.rows_loaded) == (Upload.Status.LOADED, 291), done.message
    assert done.events.filter(kind=UploadEvent.Kind.REQUEUED, detail="was processing").exists()
    assert UploadEvent.objects.filter(upload=done, kind=UploadEvent.Kind.FINISHED).count() == 1
    assert warehouse_count('SELECT count(*) FROM "orders-cleaned"') == 291
    assert list((data_dir / "tmp").glob("etl-*")) == []
