"""pipeline_run: the one orchestrator that touches the ORM, storage and the warehouse.

The stages in apps/etl/pipeline are pure; this module feeds them the upload's file and
the admin's schema, records progress on the Upload row, stores the outputs and loads
the batch (a replace, so running it twice leaves the same rows).
"""

import logging
import os
import shutil
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from pathlib import Path

from deltalake.exceptions import CommitFailedError
from django import db
from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from apps.etl.mappings import column_mapping_saved
from apps.etl.models import FxRate
from apps.etl.pipeline.clean import Cleaned, drop_duplicates, finish
from apps.etl.pipeline.engine import open_spare, progress_watch, work_connection
from apps.etl.pipeline.extract import ExtractError, extract
from apps.etl.pipeline.mapping import Mapping, create_mapped, map_columns
from apps.etl.pipeline.report import build_report, mapping_needed_report, write_rejected
from apps.etl.pipeline.spec import SchemaSpec, UploadContext
from apps.etl.pipeline.transform import (
    CANONICAL_INPUTS,
    MissingFxRate,
    fact_schema,
    fact_sql,
    fact_write,
    rate_currencies,
    rate_months,
)
from apps.etl.pipeline.typed_read import planner
from apps.etl.pipeline.validate import country_codes, validate
from apps.etl.schemas import NoActiveSchema, schema_spec_active
from apps.uploads.audit import ending_record, event_record
from apps.uploads.models import Upload, UploadEvent
from apps.warehouse.base import ParquetBatch, WarehouseBusy, WarehouseError
from apps.warehouse.fact import FACT_SCHEMA
from apps.warehouse.services import warehouse
from salesapp.folders import temp_dir
from salesapp.logs import upload_log_context

log = logging.getLogger(__name__)
# Seconds between looks at a long statement's progress (each look that moved is one UPDATE).
PROGRESS_EVERY = 0.5
# Faults that pass: another writer committed first, the network or a service blinked.
TRANSIENT_ERRORS = (CommitFailedError, WarehouseBusy, ConnectionError, TimeoutError)


class StorageWriteFailed(Exception):
    """A processed or rejected-rows file could not be stored (nothing was loaded)."""


class PipelineStop(Exception):
    """The upload cannot be loaded, for a reason the user can act on."""

    def __init__(self, message: str, *, report: dict | None = None) -> None:
        super().__init__(message)
        self.report = report or {}


@dataclass
class Outcome:
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    rows_dropped: int = 0
    report: dict = field(default_factory=dict)


def upload_context(upload: Upload) -> UploadContext:
    region = upload.shop.region
    rates = FxRate.objects.filter(quote_currency=settings.REPORTING_CURRENCY)
    return UploadContext(
        upload_id=str(upload.id),
        store_id=upload.shop.code,
        country_code=region.country_code,
        currency=region.currency,
        # For dates the file's values leave open: the order the user chose, else the region's.
        date_order=upload.date_order or region.date_order,
        date_order_chosen=bool(upload.date_order),
        reporting_currency=settings.REPORTING_CURRENCY,
        fx_rates=tuple(rates.values_list("currency", "month", "rate")),
    )


def upload_claim(upload_id, *, task_id: str = "") -> bool:
    """Mark a queued upload processing, in one conditional UPDATE, so two workers never both
    run it. An upload left processing past the task's time limit (its worker died) may be
    claimed again; the load is a replace, so that run leaves the right rows. So may one
    processing under this very task id: a task is delivered again while its upload is
    processing only when its run died (Celery requeues it when a pool process is killed)."""
    stale = timezone.now() - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT)
    claimable = Q(status=Upload.Status.QUEUED) | Q(status=Upload.Status.PROCESSING, started_at__lt=stale)
    if task_id:
        claimable |= Q(status=Upload.Status.PROCESSING, claimed_by=task_id)
    claimed = Upload.objects.filter(claimable, pk=upload_id).update(
        status=Upload.Status.PROCESSING,
        stage="reading",
        started_at=timezone.now(),
        message="",
        rows_processed=None,
        stage_progress=None,
        claimed_by=task_id,
    )
    return claimed == 1


def upload_fail(*, upload_id, message: str) -> bool:
    """Mark an upload failed unless it already ended (e.g. when a task gives up retrying),
    with its ending in the history; whether it was marked."""
    with transaction.atomic():
        marked = (
            Upload.objects.filter(pk=upload_id)
            .exclude(status__in=Upload.FINISHED)
            .update(status=Upload.Status.FAILED, stage="", message=message, finished_at=timezone.now())
        )
        if marked:
            ending_record(Upload.objects.get(pk=upload_id))
    return bool(marked)


def upload_set_stage(upload_id, stage: str, **rows: int) -> None:
    """Record the stage the upload is in, and how many rows are through (rows_read,
    rows_processed): the upload's page draws its progress bar from them."""
    Upload.objects.filter(pk=upload_id).update(stage=stage, stage_progress=None, **rows)


@contextmanager
def _stage_progress(con, upload_id):
    """While a long statement runs, record how far it is, so a big file's bar moves."""

    if db.connection.in_atomic_block:
        # Another connection's UPDATE would wait on this transaction's lock (as in tests
        # that wrap everything in one); the stage marker alone shows the way then.
        yield lambda start, end: None
        return

    def report(fraction: float) -> None:
        # progress_watch reports only rising fractions: the bar never moves back.
        Upload.objects.filter(pk=upload_id).update(stage_progress=round(fraction, 3))

    # The reports come from a thread of their own, which has its own database connection.
    with progress_watch(con, report, every=PROGRESS_EVERY, finished=lambda: db.connection.close()) as band:
        yield band


def pipeline_run(*, upload_id, force: bool = False, sheet: str | None = None, task_id: str = "") -> Upload:
    """Run the ETL for one upload and record how it ended (every log line carries its id).

    `sheet` names the workbook sheet to read; by default the data sheet is found by its header.
    """
    with upload_log_context(upload_id):
        upload = _pipeline_run(upload_id=upload_id, force=force, sheet=sheet, task_id=task_id)
        log.info(
            "upload ended %s: %s rows loaded, %s rejected", upload.status, upload.rows_loaded, upload.rows_rejected
        )
        return upload


def _pipeline_run(*, upload_id, force: bool, sheet: str | None, task_id: str) -> Upload:
    if force:
        # Reprocess a finished upload; one that is running now is left to its worker.
        Upload.objects.filter(pk=upload_id, status__in=Upload.FINISHED).update(status=Upload.Status.QUEUED)
    if not upload_claim(upload_id, task_id=task_id):
        log.info("upload %s is finished or being processed; nothing to do", upload_id)
        return Upload.objects.get(pk=upload_id)
    upload = Upload.objects.select_related("shop__region").get(pk=upload_id)
    # The sheet the user chose stays chosen when the sweep or the mapping step runs it again.
    sheet = sheet or upload.sheet or None
    spec = None
    try:
        spec = schema_spec_active()
        ctx = upload_context(upload)
        with local_copy(upload.raw_path) as path, _work_dir() as work_dir:
            outcome = run_stages(upload, path, spec, ctx, work_dir=work_dir, sheet=sheet)
        status = final_status(outcome, spec)
        if status == Upload.Status.REJECTED:
            warehouse().delete_batch(upload_id=str(upload.id))
            outcome.rows_loaded = 0
    except (PipelineStop, NoActiveSchema, ExtractError, MissingFxRate, WarehouseError, StorageWriteFailed) as exc:
        stopped = Outcome(report=getattr(exc, "report", {}))
        _remove_earlier_rows(upload)
        # Columns to match is a step the shop takes, not a failure.
        status = Upload.Status.NEEDS_MAPPING if stopped.report.get("needs_mapping") else Upload.Status.FAILED
        return _finish(upload, status, stopped, message=str(exc), schema_version=spec and spec.version)
    except TRANSIENT_ERRORS:
        # The task retries with backoff; the upload waits in the queue meanwhile.
        Upload.objects.filter(pk=upload.pk).update(status=Upload.Status.QUEUED, stage="retrying")
        raise
    except Exception:
        log.exception("upload %s failed", upload_id)
        _remove_earlier_rows(upload)
        _finish(upload, Upload.Status.FAILED, Outcome(), message="An internal error stopped this upload.")
        raise
    message = ""
    if status == Upload.Status.REJECTED:
        message = (
            f"{outcome.rows_rejected} of {outcome.rows_read} rows are bad, more than the schema's "
            f"limit of {spec.max_bad_row_pct:g}%; nothing was loaded."
        )
    return _finish(upload, status, outcome, message=message, schema_version=spec.version)


def _remove_earlier_rows(upload: Upload) -> None:
    """A failed upload has no rows in the warehouse: when a run again (another sheet chosen,
    a reprocess) fails, the rows an earlier run loaded go, so that the upload's page (failed,
    0 loaded) and the reports agree. A first run has loaded nothing and touches nothing."""
    if not upload.rows_loaded:
        return
    try:
        warehouse().delete_batch(upload_id=str(upload.id))
    except WarehouseError:
        log.exception("upload %s failed, and its earlier rows could not be removed", upload.id)


def run_stages(
    upload: Upload, path: Path, spec: SchemaSpec, ctx: UploadContext, *, work_dir: Path, sheet: str | None = None
) -> Outcome:
    """The stages over one file, then its outputs stored and its batch loaded in one commit."""
    timings: dict[str, float] = {}
    test_pause("reading")
    big = path.stat().st_size > settings.ETL_IN_MEMORY_MAX_BYTES
    con = work_connection(temp_dir=work_dir, memory_limit=settings.ETL_MEMORY_LIMIT, on_disk=big)
    try:
        with _timed(timings, "read"), _stage_progress(con, upload.id):
            extracted, mapped = _read_and_map(con, upload, path, spec, ctx, work_dir=work_dir, sheet=sheet)
        upload_set_stage(upload.id, "validating", rows_read=extracted.rows_read, rows_processed=0)
        test_pause("validating")
        present = list(mapped.mapping)
        with _timed(timings, "validate"), _stage_progress(con, upload.id) as band:
            # Of a million rows' validating, finding duplicates takes about a fifth.
            band(0.0, 0.2)
            hashed = extracted.typed.key_columns if extracted.typed else ()
            unique, dropped = drop_duplicates(con, create_mapped(con, mapped, hashed=hashed), columns=present)
            checked = validate(
                con,
                unique,
                spec,
                present=present,
                default_date_order=ctx.date_order,
                date_order_chosen=ctx.date_order_chosen,
                typed=extracted.typed.fields if extracted.typed else None,
                cell_texts=extracted.cell_texts,
                default_country=ctx.country_code,
                band=lambda start, end: band(0.2 + 0.8 * start, 0.2 + 0.8 * end),
            )
            cleaned = finish(
                con, checked.table, present=present, default_country=ctx.country_code, country_type=checked.country_type
            )
        outcome = Outcome(extracted.rows_read, 0, checked.rows_rejected + extracted.bad_count, dropped)
        outcome.rows_loaded = outcome.rows_read - outcome.rows_rejected - outcome.rows_dropped
        outcome.report = build_report(extracted, mapped, checked, cleaned, dropped=dropped)
        # Stored before the warehouse commit: a storage failure leaves the warehouse untouched.
        if outcome.rows_rejected:
            _store_rejected(upload, con, work_dir)
        if final_status(outcome, spec) != Upload.Status.REJECTED:
            # The load band of the bar starts empty; the engine's estimate fills it.
            upload_set_stage(upload.id, "loading", rows_processed=0)
            with _timed(timings, "load"), _stage_progress(con, upload.id):
                outcome.rows_loaded = _load(con, upload, spec, ctx, cleaned, present, work_dir=work_dir)
            test_pause("committed")
    finally:
        _close(con, wait=big)
    if outcome.rows_loaded != outcome.rows_read - outcome.rows_rejected - outcome.rows_dropped:
        log.error("upload %s: rows do not add up: %s", upload.id, outcome)
    outcome.report["counts"] = {
        "read": outcome.rows_read,
        "loaded": outcome.rows_loaded,
        "rejected": outcome.rows_rejected,
        "duplicates_dropped": outcome.rows_dropped,
    }
    outcome.report["timings"] = timings
    return outcome


def _close(con, *, wait: bool) -> None:
    """DuckDB frees the run's tables as it closes (0.02-0.03 s per million rows, the GIL
    released): an in-memory database is closed in a thread of its own while the run
    finishes, and the next run's is opened there; one in a file (`wait`) is closed before
    its work folder is removed."""
    if wait:
        con.close()
        return

    def close() -> None:
        try:
            con.close()
            open_spare(memory_limit=settings.ETL_MEMORY_LIMIT)  # for this worker's next upload
        except Exception:  # the run is over; a failed close only leaks its memory
            log.exception("the ETL's DuckDB connection did not close, or no spare could be opened")

    # Not a daemon: a process that ends right after a run (`ingest --inline`) waits for it; a
    # daemon thread killed inside DuckDB aborts the process ("terminate called ...").
    threading.Thread(target=close, name="etl-close").start()


def _read_and_map(
    con, upload: Upload, path: Path, spec: SchemaSpec, ctx: UploadContext, *, work_dir: Path, sheet: str | None
):
    """The file's rows (a CSV's numbers and dates typed by the reader where a sample says
    they read one way), and its columns matched to the schema; stops when a required field
    has no column (the report then carries what the mapping step needs)."""

    matched: dict[tuple[str, ...], Mapping] = {}

    def match_columns(columns: list[str]) -> Mapping:
        # The typed read's plan and the run match the same columns: the shop's saved mapping
        # is looked up once.
        if tuple(columns) not in matched:
            saved = column_mapping_saved(shop_id=upload.shop_id, columns=columns)
            matched[tuple(columns)] = map_columns(columns, spec, saved=saved)
        return matched[tuple(columns)]

    plan = planner(
        spec,
        lambda columns: match_columns(columns).mapping,
        date_order=ctx.date_order,
        date_order_chosen=ctx.date_order_chosen,
    )
    extracted = extract(
        con,
        path,
        file_name=upload.original_name,
        work_dir=work_dir,
        header_score=spec.header_score,
        sheet=sheet,
        plan=plan if settings.ETL_CSV_TYPED_READ else None,
    )
    mapped = match_columns(extracted.columns)
    if mapped.missing_required:
        raise PipelineStop(
            f"Required columns not found: {', '.join(mapped.missing_required)}. The file's headers are: "
            f"{', '.join(extracted.headers)}. Match them in the mapping step, or an admin can add aliases.",
            report=mapping_needed_report(extracted, mapped),
        )
    if extracted.rows_read == 0:
        # Loading nothing and calling it "loaded" would hide a file cut off after its header.
        raise PipelineStop("The file has a header row but no data rows: nothing to load.")
    return extracted, mapped


def _load(con, upload: Upload, spec: SchemaSpec, ctx: UploadContext, cleaned: Cleaned, present: list[str], *, work_dir):
    """The fact rows written once, as parquet: stored under processed/, then committed to
    the warehouse (which may take that very file) in one commit."""
    rate_months(con, cleaned.months, ctx)
    extras = extra_fields(spec)
    sql, params = fact_sql(cleaned.table, ctx, present=present, extras=extras, loaded_at=timezone.now())
    local = work_dir / "fact.parquet"
    few = {
        "upload_id": [str(ctx.upload_id)],
        "store_id": [str(ctx.store_id)],
        "country_code": country_codes(spec, ctx.country_code),
        "currency": rate_currencies(con),
    }
    version = warehouse().parquet_version
    fact_write(con, sql, params, schema=fact_schema(extras), path=local, few_values=few, parquet_version=version)
    # Stored first: a storage failure then leaves the warehouse as it was (not rows of an
    # upload marked failed), and a warehouse can load it from there (BigQuery from gs://).
    stored = _save(f"processed/{_folder(upload)}/{upload.id}.parquet", local, take=True)
    # Files on disk: the stored file is the one DuckDB wrote, moved (20-30 MB per million
    # rows not copied); the warehouse then links that same file into its table.
    committed = local if local.exists() else Path(default_storage.path(stored))
    # A corrected upload takes its predecessor's place in the same commit.
    retire = [str(upload.replaces_id)] if upload.replaces_id else []
    batch = ParquetBatch(committed, committing=partial(test_pause, "committing"))
    return warehouse().replace_batch(
        upload_id=str(upload.id), table=batch, retire=retire, source_uri=storage_uri(stored)
    )


def _folder(upload: Upload) -> str:
    """<country>/<yyyy>/<mm>/<dd>/<upload id>, as under raw/."""
    return upload.raw_path.split("/", 1)[1].rsplit("/", 1)[0]


def _store_rejected(upload: Upload, con, work_dir: Path) -> None:
    """Every refused row, kept beside the raw file, whether or not the file was loaded."""
    rejected_file = work_dir / "rejected.csv"
    if write_rejected(con, rejected_file):
        _save(f"rejected/{_folder(upload)}/{upload.id}.csv", rejected_file)


class _TakenFile(File):
    """A local file the storage may take as it is: FileSystemStorage renames a file that has
    a temporary_file_path (on one disk, no copy); other storages read it as any file."""

    def temporary_file_path(self) -> str:
        return self.name


def _save(path: str, local: Path, *, take: bool = False) -> str:
    """Store `local` under `path`; with `take`, the storage may move it there (it may then
    be gone from `local`)."""
    try:
        if default_storage.exists(path):
            default_storage.delete(path)
        with open(local, "rb") as fh:
            return default_storage.save(path, _TakenFile(fh, name=str(local)) if take else File(fh))
    except (ConnectionError, TimeoutError):
        raise  # transient: the task retries
    except OSError as exc:
        raise StorageWriteFailed(
            f"Could not store {path.split('/', 1)[0]}/ file ({exc.strerror or exc}); nothing was loaded. "
            "Reprocess the upload once storage is fixed."
        ) from exc


def storage_uri(name: str) -> str | None:
    """gs://bucket/name when files are in Google Cloud Storage (a warehouse can load from
    there directly), else None."""
    bucket = getattr(default_storage, "bucket_name", None)
    return f"gs://{bucket}/{name}" if bucket else None


def extra_fields(spec: SchemaSpec) -> dict[str, str]:
    """The admin's fields beyond the canonical ones: extra nullable columns of the fact table."""
    return {f.name: f.data_type for f in spec.fields if f.name not in CANONICAL_INPUTS | set(FACT_SCHEMA.names)}


def final_status(outcome: Outcome, spec: SchemaSpec) -> str:
    """Loaded, loaded with errors, or rejected whole (more bad rows than the schema allows)."""
    bad = outcome.rows_rejected
    if outcome.rows_read and bad * 100.0 / outcome.rows_read > spec.max_bad_row_pct:
        return Upload.Status.REJECTED
    if outcome.rows_read and bad == outcome.rows_read:
        return Upload.Status.REJECTED
    return Upload.Status.LOADED_WITH_ERRORS if bad else Upload.Status.LOADED


def _finish(upload: Upload, status: str, outcome: Outcome, *, message: str, schema_version=None) -> Upload:
    upload.status = status
    upload.stage = ""
    upload.message = message
    upload.rows_read = outcome.rows_read
    upload.rows_loaded = outcome.rows_loaded
    upload.rows_rejected = outcome.rows_rejected
    upload.rows_dropped = outcome.rows_dropped
    upload.report = outcome.report
    upload.schema_version = schema_version
    upload.finished_at = timezone.now()
    # The ending goes into the history with the status: a worker killed right after the
    # status was saved left it out, and nothing would record it again.
    with transaction.atomic():
        upload.save()
        ending_record(upload)
        if upload.replaces_id and status in Upload.IN_WAREHOUSE:
            event_record(upload=upload.replaces_id, kind=UploadEvent.Kind.REPLACED, detail=str(upload.id))
    return upload


@contextmanager
def local_copy(storage_path: str):
    """A local file path for the stored raw file (a temp copy when storage is remote)."""
    try:
        local = default_storage.path(storage_path)
    except NotImplementedError:
        local = None
    if local:
        yield Path(local)
        return
    with tempfile.TemporaryDirectory(dir=temp_dir()) as tmp:
        target = Path(tmp) / Path(storage_path).name
        with default_storage.open(storage_path, "rb") as src, open(target, "wb") as dst:
            shutil.copyfileobj(src, dst, 1024 * 1024)
        yield target


@contextmanager
def _work_dir():
    """A private folder for DuckDB's spill files and the outputs before they are stored."""
    with tempfile.TemporaryDirectory(prefix="etl-", dir=temp_dir()) as tmp:
        yield Path(tmp)


def test_pause(stage: str) -> None:
    """ETL_TEST_PAUSE_AT=<stage>, for tests only: log, then sleep at that point of the run
    (ETL_TEST_PAUSE_SECONDS, default an hour), so that a test can kill -9 the worker exactly
    there, or act while it waits. Off (a no-op) when unset."""
    if stage == settings.ETL_TEST_PAUSE_AT:
        log.warning("ETL_TEST_PAUSE_AT: paused at %s in pid %s", stage, os.getpid())
        time.sleep(settings.ETL_TEST_PAUSE_SECONDS)


@contextmanager
def _timed(timings: dict[str, float], stage: str):
    start = time.perf_counter()
    yield
    timings[stage] = round(time.perf_counter() - start, 3)
