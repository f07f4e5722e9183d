"""Services for the column-mapping step: the shop's saved mappings, and confirming one."""

import hashlib

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from apps.accounts.access import Scope
from apps.etl.models import ColumnMapping
from apps.etl.pipeline.mapping import layout_key
from apps.etl.pipeline.spec import SchemaSpec
from apps.uploads.audit import event_record
from apps.uploads.models import Upload, UploadEvent


def layout_hash(columns: list[str]) -> str:
    return hashlib.sha256(layout_key(columns).encode()).hexdigest()


def column_mapping_saved(*, shop_id: int, columns: list[str]) -> dict[str, str] | None:
    """The mapping the shop confirmed for this header layout, if any."""
    saved = ColumnMapping.objects.filter(shop_id=shop_id, layout_hash=layout_hash(columns)).first()
    return dict(saved.mapping) if saved else None


def column_mapping_confirm(*, scope: Scope, user, upload: Upload, spec: SchemaSpec, chosen: dict[str, str]) -> None:
    """Remember the mapping the user chose for the upload's layout, then process it again."""
    if upload.shop.code not in scope.upload_shop_codes:
        raise PermissionDenied("You cannot process files for this shop.")
    columns = list(upload.report.get("columns", []))
    mapping = {field: column for field, column in chosen.items() if column}
    errors = []
    if unknown := [c for c in mapping.values() if c not in columns]:
        errors.append(f"Not columns of this file: {', '.join(unknown)}.")
    fields_of: dict[str, list[str]] = {}
    for field, column in mapping.items():
        fields_of.setdefault(column, []).append(field)
    errors += [
        f"{column} is chosen for {' and '.join(fields)}: a column can be used for one field only."
        for column, fields in fields_of.items()
        if len(fields) > 1
    ]
    if missing := [f.name for f in spec.fields if f.required and f.name not in mapping]:
        errors.append(f"Required fields still unmatched: {', '.join(missing)}.")
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        ColumnMapping.objects.update_or_create(
            shop=upload.shop,
            layout_hash=layout_hash(columns),
            defaults={"columns": columns, "mapping": mapping, "confirmed_by": user},
        )
        Upload.objects.filter(pk=upload.pk).update(status=Upload.Status.QUEUED, message="", stage="")
        matched = ", ".join(f"{column} -> {field}" for field, column in mapping.items())
        event_record(upload=upload, kind=UploadEvent.Kind.MAPPING_CONFIRMED, actor=user, detail=matched[:500])
        transaction.on_commit(lambda: _enqueue(upload.id))


def _enqueue(upload_id) -> None:
    from apps.uploads.services import upload_enqueue

    upload_enqueue(upload_id=upload_id)


def mapping_rows(*, spec: SchemaSpec, report: dict, chosen: dict[str, str] | None = None) -> list[dict]:
    """One line per schema field for the mapping step: the column proposed and why."""
    matched, suggested = report.get("mapping", {}), report.get("suggestions", {})
    rows = []
    for field in spec.fields:
        if field.name in matched:
            column, how = matched[field.name], "matched by name"
        elif field.name in suggested:
            column, confidence = suggested[field.name]
            how = f"suggested ({confidence:.0%} alike)"
        else:
            column, how = "", "no match"
        if chosen is not None:
            column = chosen.get(field.name, "")
        rows.append({"field": field.name, "required": field.required, "column": column, "how": how})
    return rows
