"""Every status change of an Upload, and nothing else writes one (tests/test_architecture.py
checks it): held, cancelled, queued again, claimed by a worker, its stage, ended, failed.

Each change is one conditional UPDATE (the status it may leave is in its WHERE clause), so
two workers, or a worker and a user's click, never both make it; the ones that end a run
record their history line in the same transaction.
"""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from apps.uploads.audit import ending_record, event_record
from apps.uploads.models import Upload, UploadEvent

Status = Upload.Status
# Ended, and may be run again (a sheet or a date order chosen, reprocessed).
ENDED = tuple(s for s in Upload.FINISHED if s != Status.CANCELLED)


def upload_hold(upload: Upload, *, earlier: Upload, actor) -> None:
    """A new upload with the same content as a current one: held until the user chooses."""
    Upload.objects.filter(pk=upload.pk, status=Status.QUEUED).update(status=Status.DUPLICATE, duplicate_of=earlier)
    upload.status, upload.duplicate_of = Status.DUPLICATE, earlier
    event_record(upload=upload, kind=UploadEvent.Kind.DUPLICATE, actor=actor, detail=str(earlier.id))


def upload_cancel(upload: Upload, *, actor) -> bool:
    """A held upload cancelled by its uploader; whether it was still held."""
    held = Upload.objects.filter(pk=upload.pk, status=Status.DUPLICATE)
    if not held.update(status=Status.CANCELLED, finished_at=timezone.now(), stage=""):
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
    if not found.update(status=Status.QUEUED, stage="", message="", **changes):
        return False
    if kind is not None:
        event_record(upload=upload, kind=kind, actor=actor, detail=detail)
    return True


def upload_reopen(upload_id) -> None:
    """A finished upload made ready to run again (reprocess); one running now is left to its worker."""
    Upload.objects.filter(pk=upload_id, status__in=Upload.FINISHED).update(status=Status.QUEUED)


def upload_claim(upload_id, *, task_id: str = "") -> bool:
    """Mark a queued upload processing, in one conditional UPDATE, so two workers never both
    run it. An upload left processing past the task's time limit (its worker died) may be
    claimed again; the load is a replace, so that run leaves the right rows. So may one
    processing under this very task id: a task is delivered again while its upload is
    processing only when its run died (Celery requeues it when a pool process is killed)."""
    stale = timezone.now() - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT)
    claimable = Q(status=Status.QUEUED) | Q(status=Status.PROCESSING, started_at__lt=stale)
    if task_id:
        claimable |= Q(status=Status.PROCESSING, claimed_by=task_id)
    claimed = Upload.objects.filter(claimable, pk=upload_id).update(
        status=Status.PROCESSING,
        stage="reading",
        started_at=timezone.now(),
        message="",
        rows_processed=None,
        stage_progress=None,
        claimed_by=task_id,
    )
    return claimed == 1


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


def upload_finish(upload: Upload, status: str, *, message: str = "") -> Upload:
    """A run's ending: `upload` carries its counts and report; the status, the counts and the
    ending in the history are saved together (a worker killed right after the status was
    saved would otherwise leave the ending out for good)."""
    upload.status, upload.stage, upload.message = status, "", message
    upload.finished_at = timezone.now()
    with transaction.atomic():
        upload.save()
        ending_record(upload)
        if upload.replaces_id and status in Upload.IN_WAREHOUSE:
            event_record(upload=upload.replaces_id, kind=UploadEvent.Kind.REPLACED, detail=str(upload.id))
    return upload


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
    Upload.objects.filter(pk=upload_id).update(rows_loaded=0, message=ROWS_DELETED_MESSAGE)
