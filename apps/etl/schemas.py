"""Services for the schema contract: the frozen spec a run uses, and its versions (what a
changed schema would reject of recent uploads is apps/uploads/preview.py).

An edit of the active schema keeps the version uploads ran with: the pre-edit state is
archived as an inactive copy with the old number, and the live schema takes the next one.
"""

from types import MappingProxyType

import pyarrow as pa
from django.db import transaction
from django.db.models import Max

from apps.etl.contract import fact_contract_problems
from apps.etl.models import CountryAlias, SalesSchema, SchemaField
from apps.etl.pipeline.spec import FieldSpec, SchemaSpec
from apps.etl.pipeline.transform import extra_fields, fact_schema
from apps.warehouse.fact import FACT_SCHEMA
from apps.warehouse.services import warehouse_sync


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


def schema_added_fields() -> list[pa.Field]:
    """The active schema's fields beyond the canonical ones, as the fact table's nullable
    columns (none without an active schema): what the ETL writes after the canonical columns."""
    schema = SalesSchema.objects.filter(is_active=True).prefetch_related("fields").first()
    if schema is None:
        return []
    return list(fact_schema(extra_fields(schema_spec(schema))))[len(FACT_SCHEMA) :]


def warehouse_sync_with_schema(*, dry_run: bool = False, row_access: bool | None = None) -> list[str]:
    """`warehouse_sync` with the active schema's added fields: each becomes a NULLABLE column
    (and the views are made again) before an upload carrying it is applied."""
    return warehouse_sync(dry_run=dry_run, added=schema_added_fields(), row_access=row_access)
