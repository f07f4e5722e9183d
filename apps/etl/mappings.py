"""The shops' column mappings: the mapping a shop confirmed for a header layout (applied by
itself to its next files with those headers), checking a mapping a user chose, and what the
mapping step shows."""

import hashlib

from apps.accounts.models import Shop
from apps.etl.models import ColumnMapping
from apps.etl.pipeline.mapping import layout_key
from apps.etl.pipeline.spec import SchemaSpec


def layout_hash(columns: list[str]) -> str:
    return hashlib.sha256(layout_key(columns).encode()).hexdigest()


def column_mapping_saved(*, shop_id: int, columns: list[str]) -> dict[str, str] | None:
    """The mapping the shop confirmed for this header layout, if any."""
    saved = ColumnMapping.objects.filter(shop_id=shop_id, layout_hash=layout_hash(columns)).first()
    return dict(saved.mapping) if saved else None


def mapping_problems(*, spec: SchemaSpec, columns: list[str], mapping: dict[str, str]) -> list[str]:
    """What is wrong with a mapping (field -> the file's column) a user chose: columns the
    file does not have, a column chosen twice, required fields left out."""
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
    return errors


def column_mapping_save(*, shop: Shop, columns: list[str], mapping: dict[str, str], user) -> ColumnMapping:
    """Remember `mapping` for the shop's files with these columns."""
    saved, _ = ColumnMapping.objects.update_or_create(
        shop=shop,
        layout_hash=layout_hash(columns),
        defaults={"columns": columns, "mapping": mapping, "confirmed_by": user},
    )
    return saved


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
