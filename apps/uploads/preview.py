"""What a changed schema would reject of the last uploads: each one's raw file run through
the same stages as a real run (apps/uploads/run.py `upload_stages_run`: the same read, the
sheet chosen for it, the shop's confirmed mapping, the date order chosen, the typed read,
countries defaulted), with the schema to preview instead of the active one. Nothing is
loaded or stored."""

from dataclasses import dataclass, field

from apps.etl.models import SalesSchema
from apps.etl.pipeline.engine import work_connection
from apps.etl.pipeline.extracted import ExtractError
from apps.etl.pipeline.run import FileToRun, MappingNeeded, PipelineStop
from apps.etl.pipeline.spec import SchemaSpec
from apps.etl.schemas import schema_spec
from apps.uploads.files import local_copy, work_dir
from apps.uploads.models import Upload
from apps.uploads.run import upload_context, upload_stages_run


@dataclass
class PreviewLine:
    upload: str
    rows_read: int = 0
    rejected_then: int | None = None
    rejected_now: int = 0
    by_reason: dict[str, int] = field(default_factory=dict)
    rows: tuple[int, ...] = ()  # the first refused rows' numbers in the file
    refused_whole: bool = False  # more bad rows than the schema allows: nothing would load
    note: str = ""


def schema_preview(*, schema: SalesSchema, last: int = 10) -> list[PreviewLine]:
    """How many rows of the last `last` finished uploads `schema` would reject."""
    spec = schema_spec(schema)
    lines = []
    uploads = Upload.objects.filter(status__in=Upload.FINISHED).select_related("shop__region")[:last]
    for upload in uploads:
        line = PreviewLine(upload=f"{upload.original_name} ({upload.shop.code}, {upload.created_at:%Y-%m-%d})")
        line.rejected_then = upload.rows_rejected
        try:
            _preview_one(line, upload, spec)
        except (ExtractError, FileNotFoundError) as exc:
            line.note = str(exc)
        lines.append(line)
    return lines


def _preview_one(line: PreviewLine, upload: Upload, spec: SchemaSpec) -> None:
    with local_copy(upload.raw_path) as path, work_dir() as work:
        con = work_connection(temp_dir=work)
        try:
            file = FileToRun(path, upload.original_name, upload.sheet or None)
            run = upload_stages_run(con, upload, file, spec, upload_context(upload), work=work)
        except MappingNeeded as exc:
            line.note = f"required columns not found: {', '.join(exc.report.get('missing', []))}"
            return
        except PipelineStop as exc:
            line.note = str(exc)
            return
        else:
            line.rows_read = run.rows_read
            line.rejected_now = run.rows_rejected
            report = run.report()
            line.by_reason = report["errors_by_reason"]
            line.rows = first_rows(report)
            line.refused_whole = run.refused_whole(spec)
        finally:
            con.close()


def first_rows(report: dict, *, at_most: int = 10) -> tuple[int, ...]:
    """The numbers of the first refused rows a run's report lists."""
    rows = sorted({e["source_row"] for e in report.get("first_errors", []) if e.get("source_row") is not None})
    return tuple(rows[:at_most])


def preview_sentence(schema: SalesSchema, line: PreviewLine) -> str:
    """One preview line, as the admin reads it."""
    reasons = ", ".join(f"{r}: {n}" for r, n in line.by_reason.items()) or "none"
    then = "?" if line.rejected_then is None else line.rejected_then
    whole = (
        f", more than its limit of {schema.max_bad_row_pct:g}%: the whole file would be refused"
        if line.refused_whole
        else ""
    )
    rows = f"; first rows: {', '.join(map(str, line.rows))}" if line.rows else ""
    return (
        f"{schema}: {line.upload}: would reject {line.rejected_now:,} of {line.rows_read:,} rows{whole} "
        f"(rejected when loaded: {then}; reasons: {reasons}{rows}){' - ' + line.note if line.note else ''}"
    )
