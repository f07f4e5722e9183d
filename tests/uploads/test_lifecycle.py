"""Around the ETL run: the sweep re-enqueues what a broker outage or a dead worker left,
nothing is loaded twice, the uploader is emailed when rows were rejected or it failed,
and the live page's progress comes from the stage and the rows through it."""

import datetime as dt
import logging

import pytest
from django.core import mail
from django.utils import timezone

from apps.uploads.models import Upload, UploadEvent
from apps.uploads.run import pipeline_run, upload_failed, upload_run
from apps.uploads.selectors import upload_progress
from apps.uploads.sweep import uploads_to_sweep
from apps.uploads.tasks import sweep_uploads
from apps.uploads.transitions import upload_claim, upload_stage
from apps.warehouse.services import warehouse
from salesapp.logs import UploadIdFilter
from tests.factories import upload_of

from .helpers import HEADER, SOME_BAD


def _aged(upload: Upload, **fields) -> Upload:
    Upload.objects.filter(pk=upload.pk).update(**fields)
    upload.refresh_from_db()
    return upload


@pytest.fixture
def usa(cast, sample) -> Upload:
    return upload_of(cast["mgr_us_nyc"], "US-NYC", sample("bernasiakk_usa.csv"))


def test_sweep_leaves_a_fresh_queued_upload_to_its_message(usa):
    assert uploads_to_sweep() == []


def test_upload_left_queued_by_a_broker_outage_is_swept_once_and_loaded_once(usa, worker_inline, settings):
    _aged(usa, created_at=timezone.now() - dt.timedelta(seconds=settings.UPLOAD_SWEEP_QUEUED_AFTER + 1))

    with worker_inline():
        assert sweep_uploads() == 1
    assert sweep_uploads() == 0  # it ended; and a requeued upload waits a full period anyway

    usa.refresh_from_db()
    assert usa.status == Upload.Status.LOADED
    assert warehouse().query('SELECT count(*) FROM "orders-cleaned"').column(0)[0].as_py() == 291
    assert usa.events.filter(kind=UploadEvent.Kind.REQUEUED).count() == 1


def test_upload_processing_past_the_time_limit_is_swept_but_a_live_one_is_not(usa, settings):
    upload_claim(usa.id)
    assert uploads_to_sweep() == []

    _aged(usa, started_at=timezone.now() - dt.timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 1))

    assert uploads_to_sweep() == [usa]


def test_a_second_run_of_a_swept_upload_loads_nothing_twice(usa):
    upload_run(upload_id=usa.id)
    again = upload_run(upload_id=usa.id)

    assert again.status == Upload.Status.LOADED
    assert warehouse().query('SELECT count(*) FROM "orders-cleaned"').column(0)[0].as_py() == 291
    assert usa.events.filter(kind=UploadEvent.Kind.FINISHED).count() == 1


def test_uploader_is_emailed_once_when_rows_are_rejected(cast, tmp_path, settings):
    settings.SITE_URL = "https://sales.example.com"
    path = tmp_path / "some_bad.csv"
    path.write_text(SOME_BAD)
    upload = upload_of(cast["mgr_us_nyc"], "US-NYC", path)

    upload_run(upload_id=upload.id)
    upload_run(upload_id=upload.id)

    assert len(mail.outbox) == 1
    sent = mail.outbox[0]
    assert sent.to == ["mgr_us_nyc@example.com"]
    assert sent.subject == "[Sales] some_bad.csv: Done, with rejected rows"
    assert f"https://sales.example.com/uploads/{upload.id}/" in sent.body
    assert "rejected 2" in sent.body


def test_counts_past_a_thousand_read_with_separators_and_the_rejected_rows_log_under_the_upload(cast, tmp_path, caplog):
    path = tmp_path / "many.csv"
    rows = "".join(f"{n},A,1,4/19/2011 16:19,1.50,USA\n" for n in range(1, 1_201))
    path.write_text(HEADER + rows + "9999,B,1,4/19/2011 16:19,2.00,Atlantis\n")
    upload = upload_of(cast["mgr_us_nyc"], "US-NYC", path)

    caplog.handler.addFilter(UploadIdFilter())
    with caplog.at_level(logging.INFO):
        upload_run(upload_id=upload.id)

    finished = upload.events.get(kind=UploadEvent.Kind.FINISHED).detail
    assert "read 1,201, loaded 1,200, rejected 1" in finished
    assert "Rows read 1,201, loaded 1,200, rejected 1." in mail.outbox[0].body
    # The file is read once (the rejected-rows files come from what the run holds), under its upload.
    reads = [r for r in caplog.records if r.name == "apps.etl.pipeline.csv_reader" and r.msg.startswith("CSV read")]
    assert len(reads) == 1
    assert {r.upload_id for r in reads} == {str(upload.id)}


def test_an_ending_is_saved_with_its_history_and_a_missed_email_is_sent_by_the_sweep(cast, tmp_path, settings):
    # The run alone is what a worker killed right after it leaves (before the rejected-rows
    # files and the email): the history has the ending all the same, and the sweep sends the
    # email once the task's time limit has passed (that worker cannot be sending it then).
    path = tmp_path / "some_bad.csv"
    path.write_text(SOME_BAD)
    upload = pipeline_run(upload_id=upload_of(cast["mgr_us_nyc"], "US-NYC", path).id)
    # Other orders (the same lines would be held as loaded before), the same bad rows.
    path.write_text(SOME_BAD.replace("Atlantis", "Narnia").replace("\n1,", "\n9,"))
    old = pipeline_run(upload_id=upload_of(cast["mgr_us_nyc"], "US-NYC", path, name="old.csv").id)
    limit = dt.timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 1)

    assert upload.status == old.status == Upload.Status.LOADED_WITH_ERRORS
    assert upload.events.filter(kind=UploadEvent.Kind.FINISHED).count() == 1
    assert sweep_uploads() == 0
    assert mail.outbox == []  # its worker may be sending it still

    _aged(upload, finished_at=timezone.now() - limit)
    _aged(old, finished_at=timezone.now() - dt.timedelta(days=1) - limit)  # given up on
    sweep_uploads()
    sweep_uploads()

    assert [m.subject for m in mail.outbox] == ["[Sales] some_bad.csv: Done, with rejected rows"]
    assert upload.events.filter(kind=UploadEvent.Kind.NOTIFIED).count() == 1


def test_uploader_is_emailed_the_mapping_step_when_columns_need_matching(cast, tmp_path, settings):
    settings.SITE_URL = "https://sales.example.com"
    path = tmp_path / "till.csv"
    path.write_text("Ref,Item,Qty,When,Price\n1,A,2,4/19/2011 16:19,1.50\n")
    upload = upload_of(cast["mgr_us_nyc"], "US-NYC", path)

    assert upload_run(upload_id=upload.id).status == Upload.Status.NEEDS_MAPPING

    assert [m.subject for m in mail.outbox] == ["[Sales] till.csv: Columns to match"]
    assert f"https://sales.example.com/uploads/{upload.id}/mapping/" in mail.outbox[0].body
    assert "Failed" not in mail.outbox[0].body


def test_no_email_when_everything_loaded(usa):
    upload_run(upload_id=usa.id)

    assert mail.outbox == []


def test_uploader_is_emailed_when_the_task_gives_up(usa):
    upload_claim(usa.id)

    upload_failed(upload_id=usa.id, message="Processing failed: warehouse unreachable")

    usa.refresh_from_db()
    assert usa.status == Upload.Status.FAILED
    assert [m.subject for m in mail.outbox] == ["[Sales] bernasiakk_usa.csv: Failed"]
    assert "warehouse unreachable" in mail.outbox[0].body


def test_progress_follows_the_stage_and_the_rows_through_it(usa):
    assert upload_progress(usa) == {"stage": "queued", "fraction": 0.0, "rows_processed": None}
    upload_claim(usa.id)
    usa.refresh_from_db()
    assert upload_progress(usa)["stage"] == "reading"

    upload_stage(usa.id, "validating", rows_read=1000, rows_processed=500)
    usa.refresh_from_db()

    assert upload_progress(usa) == {"stage": "validating", "fraction": 0.6, "rows_processed": 500}
    done = upload_run(upload_id=_aged(usa, status=Upload.Status.QUEUED).id)
    assert upload_progress(done)["fraction"] == 1.0
    assert upload_progress(done)["stage"] == "done"
    assert set(done.report["timings"]) == {"read", "validate", "plausibility", "load"}


@pytest.mark.parametrize("status", [Upload.Status.FAILED, Upload.Status.REJECTED, Upload.Status.CANCELLED])
def test_an_upload_that_ended_outside_the_warehouse_is_not_marked_done(usa, status):
    """The stage strip marked "done" for a failed upload; now no stage, and the bar red."""
    assert upload_progress(_aged(usa, status=status)) == {"stage": "stopped", "fraction": 1.0, "rows_processed": None}


def test_a_loaded_upload_keeps_the_order_date_span_of_its_rows(usa):
    """The span the warehouse statements on its rows are bounded by, and coverage drawn from."""
    upload_run(upload_id=usa.id)
    usa.refresh_from_db()
    found = (
        warehouse()
        .query(
            'SELECT min(order_date) AS a, max(order_date) AS b FROM "orders-cleaned" WHERE upload_id = $u',
            {"u": str(usa.id)},
        )
        .to_pylist()[0]
    )
    assert (usa.first_order_date, usa.last_order_date) == (found["a"], found["b"])
    assert usa.first_order_date < usa.last_order_date
