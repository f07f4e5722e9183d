"""Validate: text cells -> typed values, and every refused row as data with its reasons.

One SQL pass over the rows (one statement of stacked SELECTs): each text cell tidied
(text_normalisation.py), each field typed (dates.py, numbers.py; a field the CSV reader
typed, typed_read.py, is its value already), the country looked up in the aliases, and the
row's problems listed ({column, value, reason}; a row with several problems has several):
the admin's constraints (constraints.py) and the business rules that refuse a row
(rules.py). No Python loop over rows: every check is an SQL expression.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

import duckdb
import pyarrow as pa

from apps.etl.pipeline.constraints import Check, field_checks
from apps.etl.pipeline.dates import AMBIGUOUS, decide_date_order, fast_date_expression, order_note, typed_date_votes
from apps.etl.pipeline.engine import enum_type, ident, literal
from apps.etl.pipeline.extracted import SOURCE_ROW
from apps.etl.pipeline.numbers import decide_decimal_marks, decimal_expression
from apps.etl.pipeline.rules import UNKNOWN_COUNTRY, rejections
from apps.etl.pipeline.spec import DataType, FieldSpec, SchemaSpec
from apps.etl.pipeline.text_normalisation import cells_trimmed, raw, text_value, tidy_cells
from apps.etl.pipeline.typed_read import TypedField, as_text

TYPED = "typed"
ERRORS = "errors"
FIRST_ERRORS = 50
UNKNOWN_COUNTRIES = 50  # the most frequent country values no alias names, for the page to map
ERRORS_SCHEMA = pa.schema(
    [("source_row", pa.int64()), ("column", pa.string()), ("value", pa.string()), ("reason", pa.string())]
)


@dataclass
class Validated:
    table: str  # TYPED: source_row, typed fields (country as country_code, when the file has it), problems
    rows_rejected: int
    errors_by_reason: dict[str, int]
    first_errors: list[dict]
    date_order: str = ""  # the order used for ambiguous dates: "MDY" or "DMY"
    date_order_note: str = ""
    number_notes: dict[str, str] = field(default_factory=dict)
    cells_trimmed: int = 0
    country_type: str = "VARCHAR"  # the SQL type of country_code: clean.finish casts the default to it
    unknown_countries: dict[str, int] = field(default_factory=dict)  # value as in the file -> rows

    @property
    def date_order_open(self) -> bool:
        """No date of the file decided the order: the one used may be chosen on the upload."""
        return self.date_order_note.startswith(AMBIGUOUS)


def validate(
    con: duckdb.DuckDBPyConnection,
    source: str,
    spec: SchemaSpec,
    *,
    present: list[str],
    default_date_order: str,
    date_order_chosen: bool = False,
    typed: dict[str, TypedField] | None = None,
    cell_texts: Callable[[duckdb.DuckDBPyConnection], str] | None = None,
    default_country: str | None = None,
    band: Callable[[float, float], None] = lambda start, end: None,
) -> Validated:
    """One pass: trim each cell once; type it; check it.

    `typed`: the fields the CSV reader already typed (typed_read.py); their cells are
    neither trimmed nor parsed again, only checked. `cell_texts(con)` gives a table of the
    file's cells as text, for the problems on those cells to show them as the file has them.
    A file the reader typed was read in parallel, and that reader refuses a CR or LF in a
    cell: its rows are not searched for one. `default_country`: the code the valid rows
    without a country get (clean.finish); it is one of country_code's values.

    `band(start, end)` is told which part of the work each step is (for a progress bar):
    the decisions a tenth, the typing and checks the rest."""
    fields = [f for f in spec.fields if f.name in present]
    line_breaks = not typed  # a typed read always types some field
    typed = {name: t for name, t in (typed or {}).items() if name in present}
    out = Validated(TYPED, 0, {}, [])
    band(0.0, 0.1)
    typed_exprs = _typed_expressions(
        con,
        source,
        fields,
        out,
        default_date_order=default_date_order,
        date_order_chosen=date_order_chosen,
        typed=typed,
    )
    band(0.1, 1.0)
    out.country_type = _register_countries(con, spec, default_country)
    tidied = tidy_cells(source, fields, typed=typed, line_breaks=line_breaks)
    con.execute(_typing_statement(tidied, typed_exprs, fields, present=present, typed=typed))
    _summarise(con, out, typed, cell_texts)
    return out


def _typing_statement(
    tidied: str, typed_exprs: list[str], fields: list[FieldSpec], *, present: list[str], typed: dict[str, TypedField]
) -> str:
    """The statement that makes TYPED from the tidied rows (text_normalisation.tidy_cells):
    each field's value, the country's code, the row's problems, its cells trimmed."""
    has_country = "country" in present
    # The country looked up as it is loaded (trimmed, white space collapsed: "United  Kingdom").
    join = "LEFT JOIN country_aliases a ON a.alias = upper(t.country)" if has_country else ""
    typed_src = (
        f"SELECT t.*{', a.code AS country_code' if has_country else ''} "
        f"FROM (SELECT *, {', '.join(typed_exprs)} FROM ({tidied})) t {join}"
    )
    texts = [f for f in fields if f.data_type == DataType.STRING]
    return f"""CREATE OR REPLACE TABLE {TYPED} AS
            SELECT {SOURCE_ROW}, {", ".join(_output(f) for f in fields if f.name != "country")}
                   {", country_code" if has_country else ""},
                   {_problems(fields, present, typed)} AS problems, {cells_trimmed(texts)} AS trimmed
            FROM ({typed_src})"""


def _problems(fields: list[FieldSpec], present: list[str], typed: dict[str, TypedField]) -> str:
    """SQL: the row's problems, a list of {column, value, reason}: each field's type and the
    admin's constraints (constraints.py), then the business rules that refuse rows on its
    cells (rules.py). A problem shows the cell as the file has it (a typed one, as read:
    `0.5`, a date in the file's format)."""
    checks = [c for f in fields for c in (*field_checks(f, typed.get(f.name)), *rejections(f, present))]
    if not checks:
        return "[]"
    values = {f.name: as_text(raw(f.name), typed[f.name]) if f.name in typed else raw(f.name) for f in fields}
    # Most rows pass: test the conditions first, build the list only for rows that fail.
    failing = " OR ".join(f"coalesce({check.condition}, false)" for check in checks)
    problems = ", ".join(_problem(check, values) for check in checks)
    return f"CASE WHEN {failing} THEN list_filter([{problems}], lambda x: x IS NOT NULL) ELSE [] END"


def _typed_expressions(
    con: duckdb.DuckDBPyConnection,
    source: str,
    fields: list[FieldSpec],
    out: Validated,
    *,
    default_date_order: str,
    date_order_chosen: bool = False,
    typed: dict[str, TypedField],
) -> list[str]:
    """Each field's typed value from its trimmed text; the decisions taken from the file's
    values (date order, decimal marks) are noted on `out` for the report. A field the reader
    typed is its value already; its decisions were taken on a sample, and its date order is
    counted over the typed dates."""
    numeric = [f.name for f in fields if f.data_type in (DataType.INTEGER, DataType.DECIMAL) and f.name not in typed]
    marks = decide_decimal_marks(con, source, numeric, others=[t.mark for t in typed.values() if t.mark_decided])
    typed_exprs = []
    for f in fields:
        col, value = ident(f.name), raw(f.name)
        if f.name in typed:
            t = typed[f.name]
            if t.date_format:
                votes = typed_date_votes(con, source, col, fmt=t.date_format, order=t.date_order)
                out.date_order, out.date_order_note = order_note(*votes, default_date_order, chosen=date_order_chosen)
            else:
                out.number_notes[f.name] = t.mark_note
            expr = value
        elif f.data_type == DataType.DATETIME:
            out.date_order, out.date_order_note = decide_date_order(
                con, source, col, default_date_order, chosen=date_order_chosen
            )
            expr = fast_date_expression(con, source, col, out.date_order, value=value)
        elif f.data_type in (DataType.INTEGER, DataType.DECIMAL):
            mark, out.number_notes[f.name] = marks[f.name]
            expr = decimal_expression(value, mark)
        else:
            expr = text_value(f.name)
        typed_exprs.append(f"{expr} AS {col}")
    return typed_exprs


def country_codes(spec: SchemaSpec, default_country: str | None) -> list[str]:
    """Every code a row's country_code can hold: the aliases', and the default country's."""
    return [*spec.country_aliases.values(), *([default_country] if default_country else [])]


def _register_countries(con: duckdb.DuckDBPyConnection, spec: SchemaSpec, default_country: str | None) -> str:
    """The aliases as a table of the work database (joined to a registered Arrow table, the
    typing statement had no progress estimate: DuckDB reported 0% until it ended); returns
    the type of its codes. The codes are an ENUM (with the default country's): the join
    then hands out one-byte codes, and the fact file's ENUM of the same codes takes them
    as they are (-0.02 s per million rows against text codes)."""
    codes = country_codes(spec, default_country)
    code_type = enum_type(codes) if codes else "VARCHAR"
    aliases = pa.table({"alias": list(spec.country_aliases), "code": list(spec.country_aliases.values())})
    con.register("_country_aliases", aliases)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE country_aliases AS SELECT alias, CAST(code AS {code_type}) AS code "
        "FROM _country_aliases"
    )
    con.unregister("_country_aliases")
    return code_type


def _output(f: FieldSpec) -> str:
    col = ident(f.name)
    if f.data_type == DataType.INTEGER:
        return f"CASE WHEN {col} = trunc({col}) THEN CAST({col} AS BIGINT) END AS {col}"
    return col


def _problem(check: Check, values: dict[str, str]) -> str:
    column, condition, reason = check
    value = values[column] if column else "NULL"
    return (
        f"CASE WHEN {condition} THEN {{'column': {literal(column)}, 'value': {value}, 'reason': {literal(reason)}}} END"
    )


def _summarise(
    con: duckdb.DuckDBPyConnection,
    out: Validated,
    typed: dict[str, TypedField],
    cell_texts: Callable[[duckdb.DuckDBPyConnection], str] | None,
) -> None:
    problems = f"""SELECT {SOURCE_ROW}, p."column" AS "column", p.value AS value, p.reason AS reason
                   FROM (SELECT {SOURCE_ROW}, unnest(problems) AS p FROM {TYPED} WHERE len(problems) > 0)"""
    con.execute(f"CREATE OR REPLACE VIEW {ERRORS} AS {problems}")
    out.rows_rejected, out.cells_trimmed = con.execute(
        f"SELECT count(*) FILTER (WHERE len(problems) > 0), coalesce(sum(trimmed), 0) FROM {TYPED}"
    ).fetchall()[0]
    if typed and cell_texts is not None and out.rows_rejected:
        on_typed = f'SELECT count(*) FROM {ERRORS} WHERE "column" IN (SELECT unnest($names))'
        if con.execute(on_typed, {"names": list(typed)}).fetchall()[0][0]:
            _values_as_in_file(con, problems, typed, cell_texts(con))
    if not out.rows_rejected:
        return  # no problem to count or list (each would be a scan of every row)
    reasons = con.execute(f"SELECT reason, count(*) FROM {ERRORS} GROUP BY 1 ORDER BY 2 DESC, 1").fetchall()
    out.errors_by_reason = dict(reasons)
    first = con.sql(f"SELECT * FROM {ERRORS} ORDER BY {SOURCE_ROW} LIMIT {FIRST_ERRORS}").to_arrow_table()
    out.first_errors = first.to_pylist()
    if UNKNOWN_COUNTRY in out.errors_by_reason:
        unknown = con.execute(
            f"""SELECT value, count(*) FROM {ERRORS} WHERE reason = $reason
                GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT {UNKNOWN_COUNTRIES}""",
            {"reason": UNKNOWN_COUNTRY},
        ).fetchall()
        out.unknown_countries = dict(unknown)


def _values_as_in_file(con: duckdb.DuckDBPyConnection, problems: str, typed: dict[str, TypedField], texts: str) -> None:
    """A problem on a cell the reader typed shows the cell as the file has it (`0.0`, not the
    `0` read), as the text path shows it: `texts` holds the file's cells as text (source_row,
    the file's columns), read again only when such a problem exists."""
    picks = " ".join(f"WHEN {literal(name)} THEN trim(t.{ident(t_field.column)})" for name, t_field in typed.items())
    con.execute(
        f"""CREATE OR REPLACE VIEW {ERRORS} AS
            SELECT e.{SOURCE_ROW}, e."column", coalesce(CASE e."column" {picks} END, e.value) AS value, e.reason
            FROM ({problems}) e LEFT JOIN {texts} t ON t.{SOURCE_ROW} = e.{SOURCE_ROW}"""
    )
