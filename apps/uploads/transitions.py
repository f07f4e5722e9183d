"""Every status change of an Upload, and nothing else writes one (tests/test_architecture.py
checks it): recorded (claiming its content, or as a held duplicate), held (also as implausible), cancelled, queued
again, claimed by a worker, its stage, ended, failed.

Each change is one conditional UPDATE (the status it may leave is in its WHERE clause), so
two workers, or a worker and a user's click, never both make it; the ones that end a run
record their history line in the same transaction.
"""

from collections.abc import Mapping, Sequence
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from apps.uploads.audit import ending_record, event_record
from apps.uploads.days import DayLines, upload_days_set
from apps.uploads.models import Upload, UploadEvent
from apps.warehouse.services import warehouse_version_bump

Status = Upload.Status
# Ended, and may be run again (a sheet or a date order chosen, reprocessed).
ENDED = tuple(s for s in Upload.FINISHED if s != Status.CANCELLED)


class ReplacementRunning(Exception):
    """The upload it would replace has a replacement queued or running already (the
    database's constraint uploads_one_pending_replacement refused a second)."""


def upload_insert(upload: Upload) -> bool:
    """Record a new upload, queued, in the caller's transaction; whether the database took it.

    A fresh upload claims its content for its shop (content_current); a replacement becomes
    the pending replacement of its upload, and claims its content too unless that is the
    content of the upload it replaces (it takes that claim once loaded, upload_finish). The
    unique constraints refuse the second of two parallel requests: False then, nothing
    recorded, and the caller looks up who holds the content or the replacement."""
    replaces = upload.replaces
    upload.status = Status.QUEUED
    upload.content_current = replaces is None or replaces.sha256 != upload.sha256
    try:
        with transaction.atomic():  # a savepoint: a refusal leaves the caller's transaction usable
            upload.save(force_insert=True)
    except IntegrityError:
        upload.content_current = False
        return False
    return True


def upload_insert_held(upload: Upload, *, earlier: Upload) -> None:
    """Record a new upload held as a duplicate of `earlier`, the current upload of its
    content, until the user chooses (replace that one, or cancel)."""
    upload.status, upload.duplicate_of, upload.content_current = Status.DUPLICATE, earlier, False
    upload.save(force_insert=True)


def upload_cancel(upload: Upload, *, actor) -> bool:
    """A held upload (a duplicate, or unlike the shop's usual uploads) cancelled by its
    uploader; whether it was still held."""
    held = Upload.objects.filter(pk=upload.pk, status__in=Upload.AWAITING_CHOICE)
    # A held implausible upload claimed its content: cancelled, the same file may be uploaded again.
    if not held.update(status=Status.CANCELLED, finished_at=timezone.now(), stage="", content_current=False):
        return False
    event_record(upload=upload, kind=UploadEvent.Kind.CANCELLED, actor=actor)
    return True


def upload_queue_again(
    upload: Upload, *, leaving: tuple[str, ...] | None, kind: str | None, actor=None, detail: str = "", **changes
) -> bool:
    """Queue the upload for another run, from one of the `leaving` statuses (None: from any),
    with `changes` to its fields (the sheet or date order chosen, the upload it replaces) and
    a history line of `kind` (None: none); whether it was queued."""
    found = Upload.objects.filter(pk=upload.pk)
    if leaving is not None:
        found = found.filter(status__in=leaving)
    if not _pending_update(found, status=Status.QUEUED, stage="", message="", **changes):
        return False
    if kind is not None:
        event_record(upload=upload, kind=kind, actor=actor, detail=detail)
    return True


def upload_reopen(upload_id) -> None:
    """A finished upload made ready to run again (reprocess); one running now is left to its worker."""
    _pending_update(Upload.objects.filter(pk=upload_id, status__in=Upload.FINISHED), status=Status.QUEUED)


def _pending_update(found, **changes) -> int:
    """UPDATE that may make an upload a pending replacement: ReplacementRunning when the
    upload it replaces has one already (the unique constraint)."""
    try:
        with transaction.atomic():
            return found.update(**changes)
    except IntegrityError as exc:
        raise ReplacementRunning(str(exc)) from exc


def run_died() -> Q:
    """Processing uploads whose run is dead: silent past UPLOAD_HEARTBEAT_STALE (a run that
    never beat counts from its start), or older than the task's hard time limit (Celery
    kills a run by then)."""
    now = timezone.now()
    silent = now - timedelta(seconds=settings.UPLOAD_HEARTBEAT_STALE)
    beat_stopped = Q(heartbeat_at__lt=silent) | Q(heartbeat_at__isnull=True, started_at__lt=silent)
    too_old = Q(started_at__lt=now - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT))
    return Q(status=Status.PROCESSING) & (beat_stopped | too_old)


def upload_claim(upload_id, *, task_id: str = "") -> bool:
    """Mark a queued upload processing, in one conditional UPDATE, so two workers never both
    run it. An upload whose run died (run_died: no heartbeat for minutes, or processing past
    the task's time limit) may be claimed again; the load is a replace, so that run leaves the
    right rows. So may one processing under this very task id: a task is delivered again
    while its upload is processing only when its run died (Celery requeues it when a pool
    process is killed)."""
    claimable = Q(status=Status.QUEUED) | run_died()
    if task_id:
        claimable |= Q(status=Status.PROCESSING, claimed_by=task_id)
    now = timezone.now()
    claimed = Upload.objects.filter(claimable, pk=upload_id).update(
        status=Status.PROCESSING,
        stage="reading",
        started_at=now,
        heartbeat_at=now,
        message="",
        rows_processed=None,
        stage_progress=None,
        claimed_by=task_id,
    )
    return claimed == 1


def upload_heartbeat(upload_id, *, started_at) -> bool:
    """A run's sign of life, on the upload it claimed at `started_at` (not on a later claim
    of it by another run); whether that claim still stands."""
    mine = Upload.objects.filter(pk=upload_id, status=Status.PROCESSING, started_at=started_at)
    return bool(mine.update(heartbeat_at=timezone.now()))


def upload_stage(upload_id, stage: str, **rows: int) -> None:
    """Record the stage a run is in, and how many rows are through (rows_read,
    rows_processed): the upload's page draws its progress bar from them."""
    Upload.objects.filter(pk=upload_id).update(stage=stage, stage_progress=None, **rows)


def upload_stage_progress(upload_id, fraction: float) -> None:
    """How far the current stage is (0-1), as the engine estimates it."""
    Upload.objects.filter(pk=upload_id).update(stage_progress=round(fraction, 3))


def upload_retrying(upload_id) -> None:
    """A passing fault stopped the run: it waits in the queue for the task's retry."""
    Upload.objects.filter(pk=upload_id).update(status=Status.QUEUED, stage="retrying")


RUN_FIELDS = [
    "status", "stage", "message", "finished_at", "rows_read", "rows_loaded", "rows_rejected", "rows_dropped",
    "rows_totals", "rows_processed", "stage_progress", "report", "schema_version", "summary",
    "first_order_date", "last_order_date",
]  # fmt: skip


def upload_finish(
    upload: Upload,
    status: str,
    *,
    message: str = "",
    displaced: dict[str, int] | None = None,
    days: Sequence[DayLines] = (),
    displaced_days: Mapping[str, Sequence[DayLines]] | None = None,
) -> Upload:
    """A run's ending: `upload` carries its counts and report; the status, the counts and the
    ending in the history are saved together (a worker killed right after the status was
    saved would otherwise leave the ending out for good). `displaced`: other uploads whose
    rows this one's load removed (the overlap choice "replace"), upload id -> rows; their
    rows_loaded go down by as many, and their runs again load only new lines, in the same
    transaction. `days`: its rows in the warehouse per day (none unless loaded), and
    `displaced_days` the displaced uploads' as they are now (apps/uploads/days.py); the
    warehouse's version changes with them (the reports' cached results are of the old rows)."""
    upload.status, upload.stage, upload.message = status, "", message
    upload.finished_at = timezone.now()
    with transaction.atomic():
        # What the run decides; not the fields others change meanwhile (the content's claim,
        # the reconciliation's mark, the heartbeat), which the run's copy holds stale.
        upload.save(update_fields=RUN_FIELDS)
        ending_record(upload)
        if status == Status.CANCELLED:  # cancelled by its run (the overlap choice made in advance)
            Upload.objects.filter(pk=upload.pk).update(content_current=False)
            upload.content_current = False
        for other, rows in (displaced or {}).items():
            Upload.objects.filter(pk=other).update(rows_loaded=F("rows_loaded") - rows)
            # The lines it gave up are this upload's now: a run of it again (a reprocess, the
            # reconciliation's repair) loads only the lines no other upload holds, rather than
            # holding it for them. "Load everything anyway" stays as its uploader chose.
            gave_up = Upload.objects.filter(pk=other).exclude(overlap_choice=Upload.OverlapChoice.ALL)
            gave_up.update(overlap_choice=Upload.OverlapChoice.NEW_ONLY)
            detail = f"{rows:,} of its lines replaced by those of '{upload.original_name}' ({upload.id})."
            event_record(upload=other, kind=UploadEvent.Kind.DISPLACED, detail=detail)
        if upload.replaces_id and status in Upload.IN_WAREHOUSE:
            event_record(upload=upload.replaces_id, kind=UploadEvent.Kind.REPLACED, detail=str(upload.id))
            _content_handed_over(upload)
            upload_days_set(upload.replaces_id, [])  # its rows were retired in the same commit
        upload_days_set(upload.pk, days if status in Upload.IN_WAREHOUSE else ())
        for other, other_days in (displaced_days or {}).items():
            upload_days_set(other, other_days)
        warehouse_version_bump()
    return upload


def upload_implausible_hold(upload: Upload, *, message: str) -> Upload:
    """A run's ending that holds the upload, unloaded, because it is unlike its shop's usual
    uploads (`upload.report["plausibility"]` says why), with that reason in its history, until
    the uploader confirms or cancels it."""
    with transaction.atomic():
        held = upload_finish(upload, Status.IMPLAUSIBLE, message=message)
        reasons = " ".join((upload.report.get("plausibility") or {}).get("reasons") or [])
        event_record(upload=upload, kind=UploadEvent.Kind.IMPLAUSIBLE, detail=reasons)
    return held


def _content_handed_over(upload: Upload) -> None:
    """A replacement loaded: the upload it replaced is no longer current, and the
    replacement holds its own content now (unless another upload does)."""
    Upload.objects.filter(pk=upload.replaces_id).update(content_current=False)
    holder = Upload.objects.filter(shop=OuterRef("shop"), sha256=OuterRef("sha256"), content_current=True)
    try:
        with transaction.atomic():
            taken = Upload.objects.filter(pk=upload.pk, content_current=False).exclude(Exists(holder))
            if taken.update(content_current=True):
                upload.content_current = True
    except IntegrityError:  # another upload of the content took the claim at this very moment
        pass


def upload_overlap_hold(upload: Upload, *, message: str) -> Upload:
    """A run found lines of the upload loaded already from other uploads of the shop, and no
    choice made: it ends held (status overlap, nothing of it in the warehouse), with its
    findings in its report, until the uploader chooses (services.upload_overlap_decide)."""
    with transaction.atomic():
        held = upload_finish(upload, Status.OVERLAP, message=message)
        event_record(upload=upload, kind=UploadEvent.Kind.OVERLAP, detail=message)
    return held


def upload_fail(*, upload_id, message: str) -> bool:
    """Mark an upload failed unless it already ended (e.g. when a task gives up retrying),
    with its ending in the history; whether it was marked."""
    with transaction.atomic():
        marked = (
            Upload.objects.filter(pk=upload_id)
            .exclude(status__in=Upload.FINISHED)
            .update(status=Status.FAILED, stage="", message=message, finished_at=timezone.now())
        )
        if marked:
            ending_record(Upload.objects.get(pk=upload_id))
    return bool(marked)


ROWS_DELETED_MESSAGE = "Its rows were removed from the warehouse by an operator; reprocess it to load them again."


def upload_rows_removed(upload_id) -> None:
    """An operator removed the upload's rows from the warehouse (its status stays)."""
    with transaction.atomic():
        Upload.objects.filter(pk=upload_id).update(rows_loaded=0, message=ROWS_DELETED_MESSAGE)
        upload_days_set(upload_id, [])
        warehouse_version_bump()


def upload_mismatch_mark(upload_id, *, found: int, expected: int) -> bool:
    """The reconciliation found the warehouse holding `found` of the upload's rows where it
    loaded `expected`: marked, with a history line (once per number found); whether it was
    not marked before (a new mismatch, the admins are told)."""
    with transaction.atomic():
        was = Upload.objects.select_for_update().filter(pk=upload_id).values_list("warehouse_rows", flat=True).first()
        if was == found:
            return False
        Upload.objects.filter(pk=upload_id).update(warehouse_rows=found)
        detail = f"The warehouse holds {found:,} rows of this upload, not {expected:,}."
        event_record(upload=str(upload_id), kind=UploadEvent.Kind.MISMATCH, detail=detail)
    return was is None


def upload_mismatch_clear(upload_id, *, rows: int) -> bool:
    """The warehouse agrees with the upload again (`rows` each): the mark goes, with a
    history line; whether it was marked."""
    with transaction.atomic():
        if not Upload.objects.filter(pk=upload_id, warehouse_rows__isnull=False).update(warehouse_rows=None):
            return False
        event_record(upload=str(upload_id), kind=UploadEvent.Kind.RECONCILED, detail=f"{rows:,} rows, as loaded.")
    return True
