"""Services for the schema contract: the frozen spec a run uses, versions, and previews.

An edit of the active schema keeps the version uploads ran with: the pre-edit state is
archived as an inactive copy with the old number, and the live schema takes the next one.
"""

from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from django.db import transaction
from django.db.models import Max

from apps.etl.contract import fact_contract_problems
from apps.etl.mappings import column_mapping_saved
from apps.etl.models import CountryAlias, SalesSchema, SchemaField
from apps.etl.pipeline.clean import drop_duplicates
from apps.etl.pipeline.engine import work_connection
from apps.etl.pipeline.extract import ExtractError, extract
from apps.etl.pipeline.mapping import create_mapped, map_columns
from apps.etl.pipeline.spec import FieldSpec, SchemaSpec
from apps.etl.pipeline.validate import validate


class NoActiveSchema(Exception):
    pass


class ActiveSchemaUnusable(NoActiveSchema):
    """The active schema cannot fill the fact table (edited outside the admin's checks):
    uploads stop with the reason, as when no schema is active."""


def schema_spec(schema: SalesSchema) -> SchemaSpec:
    """The schema and the country aliases, frozen for one run."""
    aliases = {a.alias.strip().upper(): a.country_code for a in CountryAlias.objects.all()}
    fields = tuple(
        FieldSpec(
            f.name,
            f.data_type,
            f.required,
            f.alias_list,
            allowed_values=f.allowed_list,
            min_value=f.min_value,
            max_value=f.max_value,
            pattern=f.pattern,
        )
        for f in schema.fields.all()
    )
    return SchemaSpec(schema.version, fields, MappingProxyType(aliases), schema.max_bad_row_pct)


def schema_spec_active() -> SchemaSpec:
    schema = SalesSchema.objects.filter(is_active=True).prefetch_related("fields").first()
    if schema is None:
        raise NoActiveSchema("No active sales schema: an admin must activate one in /admin/.")
    spec = schema_spec(schema)
    if problems := fact_contract_problems((f.name, f.data_type, f.required) for f in spec.fields):
        raise ActiveSchemaUnusable(
            f"The active sales schema (version {spec.version}) cannot fill the fact table, so nothing was loaded: "
            f"{' '.join(problems)} An admin must correct it in /admin/; then reprocess this upload."
        )
    return spec


def schema_spec_of_version(version: int | None) -> SchemaSpec:
    """The spec of the schema version an upload ran with (kept when the schema was edited
    since), else the active one."""
    schema = SalesSchema.objects.filter(version=version).prefetch_related("fields").order_by("-is_active").first()
    return schema_spec(schema) if version is not None and schema is not None else schema_spec_active()


@transaction.atomic
def schema_version_archive(*, schema: SalesSchema) -> SalesSchema | None:
    """Before an edit of the active schema: copy its stored state (the version uploads ran
    with) to an inactive row, and give the live schema the next version number."""
    stored = SalesSchema.objects.select_for_update().filter(pk=schema.pk, is_active=True).first()
    if stored is None:
        return None
    archived = SalesSchema.objects.create(
        name=stored.name, version=stored.version, is_active=False, max_bad_row_pct=stored.max_bad_row_pct
    )
    SchemaField.objects.bulk_create(
        [
            SchemaField(
                **{f.name: getattr(old, f.name) for f in SchemaField._meta.concrete_fields if not f.primary_key}
                | {"schema": archived}
            )
            for old in stored.fields.all()
        ]
    )
    schema.version = (SalesSchema.objects.aggregate(v=Max("version"))["v"] or 0) + 1
    return archived


def schema_version_undo(*, archived: SalesSchema, schema: SalesSchema) -> None:
    """The edit changed nothing: drop the archived copy and keep the old number."""
    SalesSchema.objects.filter(pk=schema.pk).update(version=archived.version)
    archived.delete()
    schema.version = archived.version


@dataclass
class PreviewLine:
    upload: str
    rows_read: int = 0
    rejected_then: int | None = None
    rejected_now: int = 0
    by_reason: dict[str, int] = field(default_factory=dict)
    refused_whole: bool = False  # more bad rows than the schema allows: nothing would load
    note: str = ""


def schema_preview(*, schema: SalesSchema, last: int = 10) -> list[PreviewLine]:
    """How many rows of the last uploads this schema would reject: validate re-run over their
    raw files (no load, nothing stored)."""
    import tempfile

    from apps.etl.services import local_copy
    from apps.uploads.models import Upload

    spec = schema_spec(schema)
    lines = []
    uploads = Upload.objects.filter(status__in=Upload.FINISHED).select_related("shop__region")[:last]
    for upload in uploads:
        line = PreviewLine(upload=f"{upload.original_name} ({upload.shop.code}, {upload.created_at:%Y-%m-%d})")
        line.rejected_then = upload.rows_rejected
        try:
            with local_copy(upload.raw_path) as path, tempfile.TemporaryDirectory(prefix="preview-") as tmp:
                _preview_one(line, path, spec, upload, Path(tmp))
        except (ExtractError, FileNotFoundError) as exc:
            line.note = str(exc)
        lines.append(line)
    return lines


def _preview_one(line: PreviewLine, path: Path, spec: SchemaSpec, upload, work: Path) -> None:
    """The upload read as its runs read it: the sheet chosen for it, the shop's confirmed
    mapping for its header layout."""
    from apps.etl.services import Outcome, final_status
    from apps.uploads.models import Upload

    con = work_connection(temp_dir=work)
    try:
        extracted = extract(
            con,
            path,
            file_name=upload.original_name,
            work_dir=work,
            header_score=spec.header_score,
            sheet=upload.sheet or None,
        )
        saved = column_mapping_saved(shop_id=upload.shop_id, columns=extracted.columns)
        mapped = map_columns(extracted.columns, spec, saved=saved)
        if mapped.missing_required:
            line.note = f"required columns not found: {', '.join(mapped.missing_required)}"
            return
        present = list(mapped.mapping)
        unique, _ = drop_duplicates(con, create_mapped(con, mapped), columns=present)
        checked = validate(con, unique, spec, present=present, default_date_order=upload.shop.region.date_order)
        line.rows_read = extracted.rows_read
        line.rejected_now = checked.rows_rejected + extracted.bad_count
        line.by_reason = checked.errors_by_reason
        outcome = Outcome(rows_read=extracted.rows_read, rows_rejected=line.rejected_now)
        line.refused_whole = final_status(outcome, spec) == Upload.Status.REJECTED
    finally:
        con.close()
