"""The admin's schema constraints as SQL checks over validate's typed rows: a cell reads as
its field's type, a required one is there, and the allowed values, minimum, maximum and
pattern the admin set hold. Each broken one is a problem of the row, with its own reason.

A check's SQL reads a field's typed value by its name and its trimmed text as `raw$<field>`
(text_normalisation.raw).
"""

from typing import NamedTuple

from apps.etl.pipeline.engine import ident, literal, sql_list
from apps.etl.pipeline.spec import DataType, FieldSpec
from apps.etl.pipeline.text_normalisation import raw
from apps.etl.pipeline.typed_read import TypedField

KINDS = {DataType.INTEGER: "a whole number", DataType.DECIMAL: "a number", DataType.DATETIME: "a date"}
MISSING = "required value is missing"


class Check(NamedTuple):
    """One way a row is refused: the cell its problem shows, the SQL that is true when the
    row breaks it, and the reason users read."""

    column: str
    condition: str
    reason: str


def field_checks(f: FieldSpec, typed: TypedField | None = None) -> list[Check]:
    """The checks of one field, in this order: present when required, readable as its type,
    then the admin's allowed values, minimum, maximum and pattern. `typed`: how the reader
    typed the field, when it did."""
    return [*_present_and_readable(f, typed), *_admin_limits(f)]


def _present_and_readable(f: FieldSpec, typed: TypedField | None) -> list[Check]:
    col, r = ident(f.name), raw(f.name)
    if typed is not None:
        # A cell the reader typed was read (or the file would have been read as text): it is
        # missing only when NULL, and only a whole number's fraction is left to refuse.
        checks = [Check(f.name, f"{r} IS NULL", MISSING)] if f.required else []
        if f.data_type == DataType.INTEGER:
            checks.append(Check(f.name, f"{col} <> trunc({col})", f"cannot be read as {KINDS[f.data_type]}"))
        return checks
    checks = [Check(f.name, f"{r} = ''", MISSING)] if f.required else []
    if f.data_type in KINDS:
        unreadable = f"{r} <> '' AND {col} IS NULL"
        if f.data_type == DataType.INTEGER:
            unreadable = f"{r} <> '' AND ({col} IS NULL OR {col} <> trunc({col}))"
        reason = "unreadable date" if f.data_type == DataType.DATETIME else f"cannot be read as {KINDS[f.data_type]}"
        checks.append(Check(f.name, unreadable, reason))
    return checks


def _admin_limits(f: FieldSpec) -> list[Check]:
    col = ident(f.name)
    checks = []
    if f.allowed_values:
        allowed = sql_list([v.upper() for v in f.allowed_values])
        checks.append(Check(f.name, f"upper({col}) NOT IN (SELECT unnest({allowed}))", "not an allowed value"))
    if f.min_value is not None:
        checks.append(Check(f.name, f"{_number(f, col)} < {f.min_value}", f"below the minimum {f.min_value}"))
    if f.max_value is not None:
        checks.append(Check(f.name, f"{_number(f, col)} > {f.max_value}", f"above the maximum {f.max_value}"))
    if f.pattern:
        unmatched = f"NOT regexp_full_match(CAST({col} AS VARCHAR), {literal(f.pattern)})"
        checks.append(Check(f.name, unmatched, "does not match the pattern"))
    return checks


def _number(f: FieldSpec, col: str) -> str:
    # For text fields a min/max limits the length; for dates, the year.
    if f.data_type == DataType.STRING:
        return f"length({col})"
    if f.data_type == DataType.DATETIME:
        return f"year({col})"
    return col
