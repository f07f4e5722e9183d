"""pipeline_run: the one orchestrator that touches the ORM, storage and the warehouse.

The stages in apps/etl/pipeline are pure; this module feeds them the upload's file and
the admin's schema, records progress on the Upload row, stores the outputs and loads
the batch (a replace, so running it twice leaves the same rows).
"""

import io
import logging
import shutil
import tempfile
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from types import MappingProxyType

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from deltalake.exceptions import CommitFailedError
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db.models import Q
from django.utils import timezone

from apps.etl.models import CountryAlias, FxRate, SalesSchema
from apps.etl.pipeline.clean import drop_duplicates, normalise
from apps.etl.pipeline.extract import ExtractError, extract
from apps.etl.pipeline.mapping import map_columns
from apps.etl.pipeline.spec import FieldSpec, SchemaSpec, UploadContext
from apps.etl.pipeline.transform import MissingFxRate, to_fact
from apps.etl.pipeline.validate import validate
from apps.uploads.models import Upload
from apps.warehouse.base import WarehouseBusy, WarehouseError
from apps.warehouse.services import warehouse
from salesapp.logs import upload_log_context

log = logging.getLogger(__name__)
FIRST_ERRORS = 50
# Faults that pass: another writer committed first, the network or a service blinked.
TRANSIENT_ERRORS = (CommitFailedError, WarehouseBusy, ConnectionError, TimeoutError)


class PipelineStop(Exception):
    """The upload cannot be loaded, for a reason the user can act on."""


@dataclass
class Outcome:
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    rows_dropped: int = 0
    report: dict = field(default_factory=dict)


def schema_spec_active() -> SchemaSpec:
    schema = SalesSchema.objects.filter(is_active=True).prefetch_related("fields").first()
    if schema is None:
        raise PipelineStop("No active sales schema: an admin must activate one in /admin/.")
    aliases = {a.alias.strip().upper(): a.country_code for a in CountryAlias.objects.all()}
    return SchemaSpec(
        version=schema.version,
        fields=tuple(FieldSpec(f.name, f.data_type, f.required, f.alias_list) for f in schema.fields.all()),
        country_aliases=MappingProxyType(aliases),
        max_bad_row_pct=schema.max_bad_row_pct,
    )


def upload_context(upload: Upload) -> UploadContext:
    region = upload.shop.region
    rates = FxRate.objects.filter(quote_currency=settings.REPORTING_CURRENCY)
    return UploadContext(
        upload_id=str(upload.id),
        store_id=upload.shop.code,
        country_code=region.country_code,
        currency=region.currency,
        date_order=region.date_order,
        reporting_currency=settings.REPORTING_CURRENCY,
        fx_rates=tuple(rates.values_list("currency", "month", "rate")),
    )


def upload_claim(upload_id) -> bool:
    """Mark a queued upload processing, in one conditional UPDATE, so two workers never both
    run it. An upload left processing past the task's time limit (its worker died) may be
    claimed again; the load is a replace, so that run leaves the right rows."""
    stale = timezone.now() - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT)
    claimable = Q(status=Upload.Status.QUEUED) | Q(status=Upload.Status.PROCESSING, started_at__lt=stale)
    claimed = Upload.objects.filter(claimable, pk=upload_id).update(
        status=Upload.Status.PROCESSING, stage="reading", started_at=timezone.now(), message="", rows_processed=None
    )
    return claimed == 1


def upload_fail(*, upload_id, message: str) -> None:
    """Mark an upload failed unless it already ended (e.g. when a task gives up retrying)."""
    Upload.objects.filter(pk=upload_id).exclude(status__in=Upload.FINISHED).update(
        status=Upload.Status.FAILED, stage="", message=message, finished_at=timezone.now()
    )


def upload_set_stage(upload_id, stage: str, **rows: int) -> None:
    """Record the stage the upload is in, and how many rows are through (rows_read,
    rows_processed): the upload's page draws its progress bar from them."""
    Upload.objects.filter(pk=upload_id).update(stage=stage, **rows)


def pipeline_run(*, upload_id, force: bool = False) -> Upload:
    """Run the ETL for one upload and record how it ended (every log line carries its id)."""
    with upload_log_context(upload_id):
        upload = _pipeline_run(upload_id=upload_id, force=force)
        log.info(
            "upload ended %s: %s rows loaded, %s rejected", upload.status, upload.rows_loaded, upload.rows_rejected
        )
        return upload


def _pipeline_run(*, upload_id, force: bool) -> Upload:
    if force:
        # Reprocess a finished upload; one that is running now is left to its worker.
        Upload.objects.filter(pk=upload_id, status__in=Upload.FINISHED).update(status=Upload.Status.QUEUED)
    if not upload_claim(upload_id):
        log.info("upload %s is finished or being processed; nothing to do", upload_id)
        return Upload.objects.get(pk=upload_id)
    upload = Upload.objects.select_related("shop__region").get(pk=upload_id)
    try:
        spec = schema_spec_active()
        ctx = upload_context(upload)
        with local_copy(upload.raw_path) as path:
            outcome = _run_stages(upload, path, spec, ctx)
        status = _final_status(outcome, spec)
        if status == Upload.Status.REJECTED:
            warehouse().delete_batch(upload_id=str(upload.id))
            outcome.rows_loaded = 0
    except (PipelineStop, ExtractError, MissingFxRate, WarehouseError) as exc:
        return _finish(upload, Upload.Status.FAILED, Outcome(), message=str(exc))
    except TRANSIENT_ERRORS:
        # The task retries with backoff; the upload waits in the queue meanwhile.
        Upload.objects.filter(pk=upload.pk).update(status=Upload.Status.QUEUED, stage="retrying")
        raise
    except Exception:
        log.exception("upload %s failed", upload_id)
        _finish(upload, Upload.Status.FAILED, Outcome(), message="An internal error stopped this upload.")
        raise
    message = ""
    if status == Upload.Status.REJECTED:
        message = (
            f"{outcome.rows_rejected} of {outcome.rows_read} rows are bad, more than the schema's "
            f"limit of {spec.max_bad_row_pct:g}%; nothing was loaded."
        )
    return _finish(upload, status, outcome, message=message, schema_version=spec.version)


def _run_stages(upload: Upload, path: Path, spec: SchemaSpec, ctx: UploadContext) -> Outcome:
    timings: dict[str, float] = {}
    with _timed(timings, "read"):
        extracted = extract(path, file_name=upload.original_name)
        mapped = map_columns(extracted.table, spec)
    if mapped.missing_required:
        found = ", ".join(extracted.headers)
        raise PipelineStop(
            f"Required columns not found: {', '.join(mapped.missing_required)}. The file's headers are: "
            f"{found}. An admin can add aliases for them to the sales schema."
        )
    upload_set_stage(upload.id, "validating", rows_read=extracted.rows_read, rows_processed=0)
    with _timed(timings, "validate"):
        rows, dropped = drop_duplicates(mapped.table)
        checked = validate(rows, spec, default_date_order=ctx.date_order)
        clean = normalise(checked.rows, spec, default_country=ctx.country_code)
        fact = to_fact(clean, ctx, loaded_at=timezone.now())
    rejected_rows = len({*checked.errors["source_row"].to_pylist()}) + len(extracted.bad_records)
    outcome = Outcome(
        rows_read=extracted.rows_read,
        rows_loaded=fact.num_rows,
        rows_rejected=rejected_rows,
        rows_dropped=dropped,
    )
    outcome.report = _report(extracted, mapped, checked)
    # The rejected rows are kept even when the whole file is refused: that is when the
    # user most needs them back.
    _store_rejected(upload, checked.errors)
    if _final_status(outcome, spec) != Upload.Status.REJECTED:
        upload_set_stage(upload.id, "loading", rows_processed=outcome.rows_read)
        with _timed(timings, "load"):
            processed = _store_outputs(upload, fact)
            retire = [str(upload.replaces_id)] if upload.replaces_id else []
            warehouse().replace_batch(
                upload_id=str(upload.id), table=fact, retire=retire, source_uri=storage_uri(processed)
            )
    outcome.report["timings"] = timings
    return outcome


def _report(extracted, mapped, checked) -> dict:
    errors = checked.errors.slice(0, FIRST_ERRORS).to_pylist()
    errors += [
        {"source_row": b.source_row, "column": "", "value": b.text, "reason": b.reason}
        for b in extracted.bad_records[:FIRST_ERRORS]
    ]
    by_reason = Counter(checked.errors["reason"].to_pylist())
    by_reason.update(b.reason.split(" where")[0] for b in extracted.bad_records)
    return {
        "file": extracted.details,
        "mapping": mapped.mapping,
        "unmapped": list(mapped.unmapped),
        "date_order": checked.date_order,
        "date_order_note": checked.date_order_note,
        "errors_by_reason": dict(by_reason.most_common()),
        "first_errors": errors[:FIRST_ERRORS],
    }


def _final_status(outcome: Outcome, spec: SchemaSpec) -> str:
    bad = outcome.rows_rejected
    if outcome.rows_read and bad * 100.0 / outcome.rows_read > spec.max_bad_row_pct:
        return Upload.Status.REJECTED
    if outcome.rows_read and bad == outcome.rows_read:
        return Upload.Status.REJECTED
    return Upload.Status.LOADED_WITH_ERRORS if bad else Upload.Status.LOADED


def _store_outputs(upload: Upload, fact: pa.Table) -> str:
    """Keep the processed batch (parquet) beside the raw file; return where it is."""
    folder = upload.raw_path.split("/", 1)[1].rsplit("/", 1)[0]
    sink = io.BytesIO()
    pq.write_table(fact, sink)
    return _save(f"processed/{folder}/{upload.id}.parquet", sink.getvalue())


def _store_rejected(upload: Upload, errors: pa.Table) -> None:
    """Keep the rejected rows' problems (row, column, value, reason) as CSV beside the raw file."""
    if errors.num_rows:
        folder = upload.raw_path.split("/", 1)[1].rsplit("/", 1)[0]
        sink = io.BytesIO()
        pacsv.write_csv(errors, sink)
        _save(f"rejected/{folder}/{upload.id}.csv", sink.getvalue())


def _save(path: str, data: bytes) -> str:
    if default_storage.exists(path):
        default_storage.delete(path)
    return default_storage.save(path, ContentFile(data))


def storage_uri(name: str) -> str | None:
    """gs://bucket/name when files are in Google Cloud Storage (a warehouse can load from
    there directly), else None."""
    bucket = getattr(default_storage, "bucket_name", None)
    return f"gs://{bucket}/{name}" if bucket else None


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
    upload.save()
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
    with tempfile.TemporaryDirectory(dir=settings.FILE_UPLOAD_TEMP_DIR) as tmp:
        target = Path(tmp) / Path(storage_path).name
        with default_storage.open(storage_path, "rb") as src, open(target, "wb") as dst:
            shutil.copyfileobj(src, dst, 1024 * 1024)
        yield target


@contextmanager
def _timed(timings: dict[str, float], stage: str):
    start = time.perf_counter()
    yield
    timings[stage] = round(time.perf_counter() - start, 3)
