"""Map: the file's headers -> the schema's canonical fields, through the admin's aliases."""

from dataclasses import dataclass

import pyarrow as pa

from apps.etl.pipeline.extract import SOURCE_ROW
from apps.etl.pipeline.spec import SchemaSpec


@dataclass(frozen=True)
class Mapped:
    table: pa.Table  # canonical field names (those found) + source_row
    mapping: dict[str, str]  # canonical field -> the file's header
    unmapped: tuple[str, ...]  # headers kept aside
    missing_required: tuple[str, ...]


def map_columns(table: pa.Table, spec: SchemaSpec) -> Mapped:
    mapping: dict[str, str] = {}
    for column in table.column_names:
        if column == SOURCE_ROW:
            continue
        for field in spec.fields:
            if field.name not in mapping and field.matches(column):
                mapping[field.name] = column
                break
    unmapped = tuple(c for c in table.column_names if c != SOURCE_ROW and c not in mapping.values())
    missing = tuple(f.name for f in spec.fields if f.required and f.name not in mapping)
    columns = {name: table[header] for name, header in mapping.items()}
    columns[SOURCE_ROW] = table[SOURCE_ROW]
    return Mapped(pa.table(columns), mapping, unmapped, missing)
