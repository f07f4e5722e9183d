"""Map: the file's headers -> the schema's canonical fields.

A field is matched by the shop's saved mapping for this header layout first, then by the
admin's aliases (exact after normalising case, spaces and punctuation), then suggested by
similarity with a confidence, for the mapping step to confirm. Only exact and saved matches
are applied by the pipeline; suggestions wait for a person.
"""

from dataclasses import dataclass
from difflib import SequenceMatcher

import duckdb

from apps.etl.pipeline.engine import ident
from apps.etl.pipeline.extracted import RAW, ROW_HASH, SOURCE_ROW
from apps.etl.pipeline.spec import SchemaSpec, normalise_header

MAPPED = "mapped"
SUGGEST_AT = 0.6


@dataclass(frozen=True)
class Mapping:
    mapping: dict[str, str]  # canonical field -> the file's column
    unmapped: tuple[str, ...]  # columns kept aside
    missing_required: tuple[str, ...]
    suggestions: dict[str, tuple[str, float]]  # unmatched field -> (column, confidence 0..1)
    saved: bool = False  # the shop's confirmed mapping for this header layout was applied


def layout_key(headers: list[str]) -> str:
    """The same header layout gives the same key, whatever case or spacing the file uses."""
    return "|".join(normalise_header(h) for h in headers)


def map_columns(columns: list[str], spec: SchemaSpec, *, saved: dict[str, str] | None = None) -> Mapping:
    mapping: dict[str, str] = {}
    for field_name, column in (saved or {}).items():
        if spec.field(field_name) and column in columns:
            mapping[field_name] = column
    for column in columns:
        if column in mapping.values():
            continue
        for field in spec.fields:
            if field.name not in mapping and field.matches(column):
                mapping[field.name] = column
                break
    unmapped = tuple(c for c in columns if c not in mapping.values())
    missing = tuple(f.name for f in spec.fields if f.required and f.name not in mapping)
    return Mapping(mapping, unmapped, missing, _suggest(spec, mapping, unmapped), saved=bool(saved))


def _suggest(spec: SchemaSpec, mapping: dict[str, str], unmapped: tuple[str, ...]) -> dict[str, tuple[str, float]]:
    """The likeliest column for each unmatched field, each column suggested once: the most
    alike pairs go first (`Invoice Ref` is order_id's, not order_date's as well, since a
    page that preselects one column twice cannot be confirmed as it stands)."""
    scored = []
    for field in spec.fields:
        if field.name in mapping:
            continue
        names = [normalise_header(a) for a in (field.name, *field.aliases)]
        for column in unmapped:
            confidence = max(SequenceMatcher(None, normalise_header(column), n).ratio() for n in names)
            if confidence >= SUGGEST_AT:
                scored.append((confidence, field.name, column))
    suggestions: dict[str, tuple[str, float]] = {}
    taken: set[str] = set()
    for confidence, name, column in sorted(scored, key=lambda s: -s[0]):
        if name not in suggestions and column not in taken:
            suggestions[name] = (column, round(confidence, 2))
            taken.add(column)
    return {f.name: suggestions[f.name] for f in spec.fields if f.name in suggestions}


def create_mapped(con: duckdb.DuckDBPyConnection, mapped: Mapping, *, hashed: tuple[str, ...] = ()) -> str:
    """A view of `raw` with canonical names: nothing is copied. `hashed`: the columns `raw`'s
    row hash was taken over (a typed read's); the view carries it when they are the mapped
    columns."""
    cols = ", ".join(f"{ident(column)} AS {ident(name)}" for name, column in mapped.mapping.items())
    if hashed and sorted(hashed) == sorted(mapped.mapping.values()):
        cols += f", {ROW_HASH}"
    con.execute(f"CREATE OR REPLACE VIEW {MAPPED} AS SELECT {cols}, {SOURCE_ROW} FROM {RAW}")
    return MAPPED
