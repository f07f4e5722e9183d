"""The run of one upload, in a worker: claimed, its stages run (apps/etl/pipeline/run.py,
pure), its outputs stored, its batch loaded into the warehouse in one commit, its ending
recorded (apps/uploads/transitions.py) and compared with the warehouse (reconcile.py), and
its uploader emailed.

This is the one place that joins the ORM, storage and the warehouse to the pure stages.
Running it twice leaves the same rows: a load replaces the upload's batch.
"""

import logging
import os
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import date
from functools import partial
from pathlib import Path

from django import db
from django.conf import settings
from django.utils import timezone

from apps.etl.country_mappings import shop_country_mappings
from apps.etl.fx import fx_rates_into
from apps.etl.mappings import column_mapping_saved
from apps.etl.pipeline.engine import progress_watch, work_connection, work_connection_close
from apps.etl.pipeline.extracted import ExtractError
from apps.etl.pipeline.plausibility import upload_summary
from apps.etl.pipeline.run import (
    QUIET,
    Band,
    FileToRun,
    PipelineStop,
    StagesRun,
    fact_countries,
    fact_days,
    fact_file,
    stages_run,
)
from apps.etl.pipeline.spec import SchemaSpec, UploadContext
from apps.etl.pipeline.transform import MissingFxRate
from apps.etl.schemas import NoActiveSchema, schema_spec_active
from apps.uploads import rejected
from apps.uploads.days import DayLines, warehouse_days
from apps.uploads.files import StorageWriteFailed, local_copy, local_path_of, processed_path, store, work_dir
from apps.uploads.heartbeat import heartbeat
from apps.uploads.models import Upload
from apps.uploads.notify import upload_notify
from apps.uploads.overlap import overlap_check, overlap_message, overlap_plan
from apps.uploads.plausibility import upload_plausibility
from apps.uploads.reconcile import upload_reconcile
from apps.uploads.shop_lock import shop_load_lock
from apps.uploads.transitions import (
    upload_claim,
    upload_fail,
    upload_finish,
    upload_implausible_hold,
    upload_overlap_hold,
    upload_reopen,
    upload_retrying,
    upload_stage,
    upload_stage_progress,
)
from apps.warehouse.base import DateSpan, ParquetBatch, WarehouseBusy, WarehouseError
from apps.warehouse.services import stored_file_uri, warehouse
from salesapp.logs import upload_log_context

log = logging.getLogger(__name__)
# Seconds between looks at a long statement's progress (each look that moved is one UPDATE).
PROGRESS_EVERY = 0.5
# Faults that pass: the warehouse stayed busy (another writer kept committing first), the
# network or a service blinked. The task retries them with backoff.
TRANSIENT_ERRORS = (WarehouseBusy, ConnectionError, TimeoutError)
# Faults the user or an admin can act on: the upload ends failed (or needing its columns matched).
STOPS = (PipelineStop, NoActiveSchema, ExtractError, MissingFxRate, WarehouseError, StorageWriteFailed)


@dataclass
class Outcome:
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    rows_dropped: int = 0
    report: dict = field(default_factory=dict)
    rows_totals: int = 0
    summary: dict = field(default_factory=dict)
    displaced: dict[str, int] = field(default_factory=dict)
    days: list[DayLines] = field(default_factory=list)  # of its rows in the warehouse
    displaced_days: dict[str, list[DayLines]] = field(default_factory=dict)  # of those it displaced from


def upload_run(*, upload_id, force: bool = False, sheet: str | None = None, task_id: str = "") -> Upload:
    """Run the upload (which records its ending in the history with its status), then email
    the uploader (once per ending). What the task and `ingest --inline` do."""
    already_finished = Upload.objects.filter(pk=upload_id, status__in=Upload.FINISHED).exists()
    upload = pipeline_run(upload_id=upload_id, force=force, sheet=sheet, task_id=task_id)
    if not upload.is_finished or (already_finished and not force):
        return upload  # another run did (or does) the rest
    test_pause("ended")
    with upload_log_context(upload.id):
        upload_notify(upload=upload)
    return upload


def upload_failed(*, upload_id, message: str) -> None:
    """The task gave up: mark the upload failed (unless it ended) and tell the uploader (the
    run may have marked it failed itself before raising)."""
    upload_fail(upload_id=upload_id, message=message)
    upload = Upload.objects.select_related("uploaded_by", "shop").filter(pk=upload_id).first()
    if upload is not None and upload.status == Upload.Status.FAILED:
        upload_notify(upload=upload)


def pipeline_run(*, upload_id, force: bool = False, sheet: str | None = None, task_id: str = "") -> Upload:
    """Run the ETL for one upload and record how it ended (every log line carries its id).

    `force` runs a finished upload again; `sheet` names the workbook sheet to read (by
    default the data sheet is found by its header)."""
    with upload_log_context(upload_id):
        upload = _pipeline_run(upload_id=upload_id, force=force, sheet=sheet, task_id=task_id)
        log.info(
            "upload ended %s: %s rows loaded, %s rejected", upload.status, upload.rows_loaded, upload.rows_rejected
        )
        return upload


def _pipeline_run(*, upload_id, force: bool, sheet: str | None, task_id: str) -> Upload:
    if force:
        upload_reopen(upload_id)
    if not upload_claim(upload_id, task_id=task_id):
        log.info("upload %s is finished or being processed; nothing to do", upload_id)
        return Upload.objects.get(pk=upload_id)
    upload = Upload.objects.select_related("shop__region").get(pk=upload_id)
    # The sheet the user chose stays chosen when the sweep or the mapping step runs it again.
    file_sheet = sheet or upload.sheet or None
    spec = None
    # The heartbeat, the raw file's copy, the work folder and the work connection live until
    # the refused rows' files are written, after the ending is saved (the user need not wait).
    with ExitStack() as held:
        held.enter_context(heartbeat(upload.id, started_at=upload.started_at))
        try:
            spec = schema_spec_active()
            path = held.enter_context(local_copy(upload.raw_path))
            work = held.enter_context(work_dir())
            file = FileToRun(path, upload.original_name, file_sheet)
            status, outcome, run = _run_and_load(upload, file, spec, work, held)
        except STOPS as exc:
            stopped = Outcome(report=getattr(exc, "report", {}))
            _remove_earlier_rows(upload)
            # Columns to match is a step the shop takes, not a failure.
            status = Upload.Status.NEEDS_MAPPING if stopped.report.get("needs_mapping") else Upload.Status.FAILED
            return _finish(upload, status, stopped, message=str(exc), schema_version=spec and spec.version)
        except TRANSIENT_ERRORS:
            upload_retrying(upload.pk)  # the task retries with backoff; the upload waits in the queue
            raise
        except Exception:
            log.exception("upload %s failed", upload_id)
            _remove_earlier_rows(upload)
            _finish(upload, Upload.Status.FAILED, Outcome(), message="An internal error stopped this upload.")
            raise
        message = ""
        if status == Upload.Status.IMPLAUSIBLE:
            message = "Held, nothing loaded: unlike the shop's usual uploads. " + " ".join(
                outcome.report["plausibility"]["reasons"]
            )
        elif status in (Upload.Status.OVERLAP, Upload.Status.CANCELLED):
            message = overlap_message(outcome.report["overlap"], held=status == Upload.Status.OVERLAP)
        if status == Upload.Status.REJECTED:
            message = (
                f"{outcome.rows_rejected} of {outcome.rows_read} rows are bad, more than the schema's "
                f"limit of {spec.max_bad_row_pct:g}%; nothing was loaded."
            )
        finished = _finish(upload, status, outcome, message=message, schema_version=spec.version)
        if run.rows_rejected:
            rejected.rows_files_store(upload, run, work)
        return finished


def upload_context(upload: Upload) -> UploadContext:
    """What the stages know of the upload besides its bytes (its shop's region and country
    mappings, the choices made on it, the FX rates)."""
    region = upload.shop.region
    return UploadContext(
        upload_id=str(upload.id),
        store_id=upload.shop.code,
        country_code=region.country_code,
        currency=region.currency,
        # For dates the file's values leave open: the order the user chose, else the region's.
        date_order=upload.date_order or region.date_order,
        date_order_chosen=bool(upload.date_order),
        reporting_currency=settings.REPORTING_CURRENCY,
        fx_rates=fx_rates_into(settings.REPORTING_CURRENCY),
        # The shop's own readings of country values (the upload's page maps them).
        country_mappings=shop_country_mappings(shop_id=upload.shop_id),
    )


def upload_stages_run(
    con, upload: Upload, file: FileToRun, spec: SchemaSpec, ctx: UploadContext, *, work: Path, observer=QUIET
) -> StagesRun:
    """The stages over the upload's file, read as its runs read it: its shop's confirmed
    mapping for the file's header layout, the typed CSV read when it is on. The schema
    preview (preview.py) calls this too."""
    saved = partial(_saved_mapping, shop_id=upload.shop_id)
    typed_read = settings.ETL_CSV_TYPED_READ
    return stages_run(
        con, file, spec, ctx, work_dir=work, saved_mapping=saved, typed_read=typed_read, observer=observer
    )


def _saved_mapping(columns: list[str], *, shop_id: int) -> dict[str, str] | None:
    return column_mapping_saved(shop_id=shop_id, columns=columns)


def _run_and_load(
    upload: Upload, file: FileToRun, spec: SchemaSpec, work: Path, held: ExitStack
) -> tuple[str, Outcome, StagesRun]:
    """The stages, the refused rows' problems stored, then the batch loaded in one commit.
    The work connection is closed when `held` closes."""
    big = file.path.stat().st_size > settings.ETL_IN_MEMORY_MAX_BYTES
    con = work_connection(temp_dir=work, memory_limit=settings.ETL_MEMORY_LIMIT, on_disk=big)
    held.callback(work_connection_close, con, wait=big, memory_limit=settings.ETL_MEMORY_LIMIT)
    recorder = _Recorder(upload.id)
    ctx = upload_context(upload)
    run = upload_stages_run(con, upload, file, spec, ctx, work=work, observer=recorder)
    outcome = Outcome(run.rows_read, 0, run.rows_rejected, run.rows_dropped, run.report(), run.totals_dropped)
    if run.rows_rejected:
        # Stored before the warehouse commit: a storage failure leaves the warehouse untouched.
        rejected.problems_store(upload, run, work)
    status = _status(run, spec)
    if status != Upload.Status.REJECTED:
        with _timed(run.timings, "plausibility"):
            held = _plausibility_check(upload, run, ctx, outcome)
        if held:
            status = Upload.Status.IMPLAUSIBLE
            _remove_earlier_rows(upload)  # held: none of its rows stay in the warehouse
    loaded = Loaded()
    if status == Upload.Status.REJECTED:
        if upload.rows_loaded:  # a run again leaves none of its rows; a first run has none to remove
            warehouse().delete_batch(upload_id=str(upload.id), span=upload.warehouse_span)
    elif status != Upload.Status.IMPLAUSIBLE:
        # The load band of the bar starts empty; the engine's estimate fills it.
        upload_stage(upload.id, "loading", rows_processed=0)
        with _timed(run.timings, "load"), recorder.watching(con):
            loaded = _load(upload, run, spec, ctx, work, report=outcome.report)
        outcome.rows_loaded = loaded.rows
        status = loaded.status or status
        outcome.displaced = loaded.displaced
        outcome.days, outcome.displaced_days = loaded.days, loaded.displaced_days
        if loaded.overlap is not None:
            outcome.report["overlap"] = loaded.overlap  # with the check's seconds
        test_pause("committed")
    expected = run.rows_valid - loaded.skipped
    if outcome.rows_loaded != expected and status in Upload.IN_WAREHOUSE:
        log.error("upload %s: rows do not add up: %s", upload.id, outcome)
    outcome.report["counts"] = {
        "read": outcome.rows_read,
        "loaded": outcome.rows_loaded,
        "rejected": outcome.rows_rejected,
        "duplicates_dropped": outcome.rows_dropped,
        "totals_dropped": outcome.rows_totals,
        **({"loaded_before": loaded.skipped} if loaded.skipped else {}),
    }
    outcome.report["timings"] = run.timings
    return status, outcome, run


def _plausibility_check(upload: Upload, run: StagesRun, ctx: UploadContext, outcome: Outcome) -> bool:
    """The upload's figures (kept on it: the shop's next uploads are compared with them)
    beside its shop's recent uploads; whether it is held for being unlike them."""
    outcome.summary = upload_summary(
        run.con,
        run.cleaned.table,
        present=run.present,
        currency=ctx.currency,
        lines_read=run.rows_read,
        dropped=run.rows_dropped,
    )
    findings = upload_plausibility(upload, outcome.summary)
    outcome.report["plausibility"] = findings
    return findings["hold"]


def _status(run: StagesRun, spec: SchemaSpec) -> str:
    """Loaded, loaded with errors, or rejected whole (more bad rows than the schema allows)."""
    if run.refused_whole(spec):
        return Upload.Status.REJECTED
    return Upload.Status.LOADED_WITH_ERRORS if run.rows_rejected else Upload.Status.LOADED


@dataclass
class Loaded:
    """What the load did: rows committed, or the upload held (status overlap) or cancelled."""

    rows: int = 0
    status: str = ""  # empty: as the stages decided (loaded, loaded with errors)
    overlap: dict | None = None  # the overlap check's findings (report["overlap"])
    skipped: int = 0  # lines left out as loaded before (the choice "new only")
    displaced: dict[str, int] = field(default_factory=dict)  # other uploads' rows replaced
    days: list[DayLines] = field(default_factory=list)  # its rows per day, country and shop
    displaced_days: dict[str, list[DayLines]] = field(default_factory=dict)  # the displaced uploads' now


def _load(upload: Upload, run: StagesRun, spec: SchemaSpec, ctx: UploadContext, work: Path, *, report: dict) -> Loaded:
    """The fact rows written once, as parquet; their lines compared with what the shop has
    loaded from other uploads (overlap.py), then, unless held, stored under processed/ and
    committed to the warehouse (which may take that very file) in one commit. The check and
    the commit run under the shop's lock: two runs of one shop never both miss each other's
    lines. The report gets the loaded rows per country."""
    local = work / "fact.parquet"
    version = warehouse().capabilities.parquet_version
    write = partial(fact_file, run, spec, ctx, path=local, parquet_version=version, loaded_at=timezone.now())
    write()
    with shop_load_lock(upload.shop_id) as waited:
        found = overlap_check(upload, ParquetBatch(local))
        test_pause("overlap_checked")
        plan = overlap_plan(upload, found, waited=waited)
        if plan.hold:
            # Held: nothing of it in the warehouse (a run again removes its earlier batch).
            if upload.rows_loaded:
                warehouse().delete_batch(upload_id=str(upload.id), span=upload.warehouse_span)
            return Loaded(status=plan.hold, overlap=plan.report)
        if plan.skip_keys is not None:
            write(skip_keys=plan.skip_keys)
        report["countries"] = fact_countries(run, local)
        days = fact_days(run, local)
        rows = _commit(upload, local, displace=list(plan.displace))
        # Under the shop's lock: no other load of the shop changes them meanwhile.
        displaced_days = warehouse_days(list(plan.displace)) if plan.displace else {}
    return Loaded(
        rows,
        overlap=plan.report,
        skipped=plan.skipped,
        displaced=dict(plan.displace),
        days=days,
        displaced_days=displaced_days,
    )


def _commit(upload: Upload, local: Path, *, displace: list[str]) -> int:
    # Stored first: a storage failure then leaves the warehouse as it was (not rows of an
    # upload marked failed), and a warehouse can load it from there (BigQuery from gs://).
    stored = store(processed_path(upload), local, take=True)
    # Files on disk: the stored file is the one DuckDB wrote, moved (20-30 MB per million
    # rows not copied); the warehouse then links that same file into its table.
    committed = local if local.exists() else local_path_of(stored)
    # A corrected upload takes its predecessor's place in the same commit.
    retire = [str(upload.replaces_id)] if upload.replaces_id else []
    batch = ParquetBatch(committed, committing=partial(test_pause, "committing"))
    return warehouse().replace_batch(
        upload_id=str(upload.id),
        table=batch,
        retire=retire,
        source_uri=stored_file_uri(stored),
        displace=displace,
        removes=_spans_removed(upload),
    )


def _spans_removed(upload: Upload) -> list[DateSpan | None]:
    """Where the rows a load replaces lie: this upload's earlier load and the one it retires
    (None for one loaded before spans were kept); none when neither loaded rows. The load's
    own span bounds the rest (a run again of the same file, displaced lines)."""
    earlier = [upload, upload.replaces] if upload.replaces_id else [upload]
    return [u.warehouse_span for u in earlier if u.rows_loaded]


def _remove_earlier_rows(upload: Upload) -> None:
    """A failed upload has no rows in the warehouse: when a run again (another sheet chosen,
    a reprocess) fails, the rows an earlier run loaded go, so that the upload's page (failed,
    0 loaded) and the reports agree. A first run has loaded nothing and touches nothing."""
    if not upload.rows_loaded:
        return
    try:
        warehouse().delete_batch(upload_id=str(upload.id), span=upload.warehouse_span)
    except WarehouseError:
        log.exception("upload %s failed, and its earlier rows could not be removed", upload.id)


def _finish(upload: Upload, status: str, outcome: Outcome, *, message: str, schema_version=None) -> Upload:
    upload.rows_read = outcome.rows_read
    upload.rows_loaded = outcome.rows_loaded
    upload.rows_rejected = outcome.rows_rejected
    upload.rows_dropped = outcome.rows_dropped
    upload.rows_totals = outcome.rows_totals
    upload.report = outcome.report
    upload.summary = outcome.summary
    upload.first_order_date, upload.last_order_date = _order_span(status, outcome)
    upload.schema_version = schema_version
    if status == Upload.Status.IMPLAUSIBLE:
        finished = upload_implausible_hold(upload, message=message)
    elif status == Upload.Status.OVERLAP:
        finished = upload_overlap_hold(upload, message=message)
    else:
        finished = upload_finish(
            upload,
            status,
            message=message,
            displaced=outcome.displaced,
            days=outcome.days if status in Upload.IN_WAREHOUSE else [],
            displaced_days=outcome.displaced_days,
        )
    try:  # the warehouse holds what the ending says (and none of a replaced upload's rows)
        upload_reconcile(finished)
    except Exception:  # a check: it never changes how the run ended
        log.exception("upload %s: its rows could not be compared with the warehouse's", upload.id)
    return finished


def _order_span(status: str, outcome: Outcome) -> tuple[date | None, date | None]:
    """The first and last order day of what the run put in the warehouse (its clean rows'
    span; none when it loaded nothing)."""
    if status not in Upload.IN_WAREHOUSE or not outcome.rows_loaded:
        return None, None
    first, last = outcome.summary.get("first_date"), outcome.summary.get("last_date")
    return (date.fromisoformat(first) if first else None, date.fromisoformat(last) if last else None)


class _Recorder:
    """Tells the upload's row where its run is (the page's progress bar follows it)."""

    def __init__(self, upload_id) -> None:
        self.upload_id = upload_id

    def stage(self, name: str, **rows: int) -> None:
        upload_stage(self.upload_id, name, **rows)

    @contextmanager
    def watching(self, con) -> Iterator[Band]:
        if db.connection.in_atomic_block:
            # Another connection's UPDATE would wait on this transaction's lock (as in tests
            # that wrap everything in one); the stage marker alone shows the way then.
            yield lambda start, end: None
            return

        def report(fraction: float) -> None:
            # progress_watch reports only rising fractions: the bar never moves back.
            upload_stage_progress(self.upload_id, fraction)

        # The reports come from a thread of their own, which has its own database connection.
        with progress_watch(con, report, every=PROGRESS_EVERY, finished=lambda: db.connection.close()) as band:
            yield band

    def pause(self, point: str) -> None:
        test_pause(point)


def test_pause(stage: str) -> None:
    """ETL_TEST_PAUSE_AT=<stage>, for tests only: log, then sleep at that point of the run
    (ETL_TEST_PAUSE_SECONDS, default an hour), so that a test can kill -9 the worker exactly
    there, or act while it waits. Off (a no-op) when unset."""
    if stage == settings.ETL_TEST_PAUSE_AT:
        log.warning("ETL_TEST_PAUSE_AT: paused at %s in pid %s", stage, os.getpid())
        time.sleep(settings.ETL_TEST_PAUSE_SECONDS)


@contextmanager
def _timed(timings: dict[str, float], stage: str) -> Iterator[None]:
    start = time.perf_counter()
    yield
    timings[stage] = round(time.perf_counter() - start, 3)
