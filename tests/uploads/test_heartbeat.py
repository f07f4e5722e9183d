"""A running upload beats; one whose beats stopped is queued again by the sweep (and may be
claimed again) within minutes, not after the task's hour; the work folders of dead runs are
removed, those of live runs kept. tests/reliability/test_worker_heartbeat.py kills a real
worker."""

import os
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.uploads import heartbeat
from apps.uploads.files import work_dir, work_dirs_remove
from apps.uploads.models import Upload, UploadEvent
from apps.uploads.run import upload_run
from apps.uploads.sweep import upload_sweep
from apps.uploads.transitions import upload_claim
from tests.factories import upload_of


@pytest.fixture
def processing(cast, tmp_path):
    def claimed(*, silent_for: float) -> Upload:
        path = tmp_path / f"{silent_for}.csv"
        path.write_text(f"InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice\n{silent_for},A,1,1/1/2011,1\n")
        upload = upload_of(cast["mgr_us_nyc"], "US-NYC", path)
        assert upload_claim(upload.id)
        Upload.objects.filter(pk=upload.pk).update(heartbeat_at=timezone.now() - timedelta(seconds=silent_for))
        return upload

    return claimed


@pytest.mark.django_db(transaction=True)
def test_a_running_upload_beats_until_it_ends(cast, sample, settings, monkeypatch):
    settings.UPLOAD_HEARTBEAT_EVERY = 0.2
    settings.ETL_TEST_PAUSE_AT, settings.ETL_TEST_PAUSE_SECONDS = "validating", 1  # a run of over a second
    upload = upload_of(cast["mgr_us_nyc"], "US-NYC", sample("bernasiakk_usa.csv"))
    beats = []

    def beat(upload_id, *, started_at) -> bool:
        beats.append(Upload.objects.get(pk=upload_id).status)
        return heartbeat.upload_heartbeat.__wrapped__(upload_id, started_at=started_at)

    beat.__wrapped__ = heartbeat.upload_heartbeat
    monkeypatch.setattr(heartbeat, "upload_heartbeat", beat)
    done = upload_run(upload_id=upload.id)
    count = len(beats)
    time.sleep(0.5)

    assert done.status == Upload.Status.LOADED
    assert count >= 4 and set(beats) == {Upload.Status.PROCESSING}
    assert len(beats) == count  # no beat once the run is over


def test_the_sweep_queues_again_an_upload_whose_run_went_silent_and_leaves_a_beating_one(processing, settings):
    settings.UPLOAD_HEARTBEAT_STALE = 150
    silent, beating = processing(silent_for=151), processing(silent_for=20)

    assert upload_sweep() == [str(silent.id)]

    assert silent.events.filter(kind=UploadEvent.Kind.REQUEUED, detail="was processing").exists()
    assert upload_claim(silent.id) is True  # the sweep's task takes it over
    assert upload_claim(beating.id) is False


def test_a_run_that_never_beat_is_dead_once_silent_since_its_start(processing, settings):
    settings.UPLOAD_HEARTBEAT_STALE = 150
    upload = processing(silent_for=0)
    Upload.objects.filter(pk=upload.pk).update(heartbeat_at=None, started_at=timezone.now() - timedelta(seconds=200))

    assert upload_sweep() == [str(upload.id)]


def test_work_folders_no_live_run_holds_are_removed_once_old_enough(data_dir, settings):
    settings.UPLOAD_HEARTBEAT_STALE = 150
    tmp = settings.TEMP_DIR = data_dir / "tmp"
    tmp.mkdir()
    dead, young = tmp / "etl-dead", tmp / "etl-young"
    for folder in (dead, young):
        folder.mkdir()
        (folder / "fact.parquet").write_bytes(b"x" * 1000)
    old = time.time() - 151
    os.utime(dead, (old, old))
    unrelated = tmp / "tmpabc.upload.csv"
    unrelated.write_text("a,b\n")
    os.utime(unrelated, (old, old))

    with work_dir() as live:
        os.utime(live, (old, old))
        removed = work_dirs_remove()
        assert live.exists()

    assert removed == ["etl-dead"]
    assert not dead.exists() and young.exists() and unrelated.exists()
    assert not live.exists()  # removed by its own run at the end
