"""The CSV fast path: DuckDB's reader types numbers and dates as it reads them.

Read as text, every number and date cell is later parsed by SQL (a cast, a strptime), and
every cell is scanned again for that; typed by the reader, the cell is parsed once, while
the file is split into cells, and the later passes have fewer text cells to look at. On
the bench's million rows that is a fifth of the whole ETL.

The reader must be told each column's type and form before it reads: they are decided on a
sample of the file's rows (its head and chunks spread through it), by the same decisions
the text path takes over the whole column (decimal mark, day/month order, date format).
A column is typed only when every sampled value reads that way. A cell further down that
does not (a date the other way round, an empty cell, a thousands separator) makes the reader
stop; the file is then read again as text and takes the text path (extract.py), so that
cell becomes a reasoned rejection as before. The two paths give the same rows: a typed cell
reads as `plain_number` and `try_strptime` read its text (tests/etl/test_typed_read.py).

Only the file's inner columns are typed: the first and the last stay text, because blank
and short records are told by them.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import duckdb

from apps.etl.pipeline.dates import date_order_votes, is_day_month, lead_date_format, order_note
from apps.etl.pipeline.engine import ident, literal
from apps.etl.pipeline.numbers import MONEY_SQL, decide_decimal_mark, decide_decimal_marks, plain_number
from apps.etl.pipeline.spec import DataType, SchemaSpec

TIMESTAMP = "TIMESTAMP"


@dataclass(frozen=True)
class TypedField:
    """How the reader reads one field's column."""

    column: str  # the file's column
    sql_type: str  # MONEY_SQL or TIMESTAMP
    mark: str = ""  # numbers: the decimal mark
    mark_note: str = ""  # numbers: how the mark was decided
    mark_decided: bool = False  # numbers: by the column's own values (else it followed others)
    date_format: str = ""  # dates: the strptime format
    date_order: str = ""  # dates: "MDY" or "DMY"
    # How the file writes the cells, from the sample, to give a typed cell back as the file
    # has it (the rejected rows; the file is not read again): a number's decimals when every
    # sampled value has as many, a date's format with the leading zeros the file leaves out.
    decimals: int | None = None
    text_format: str = ""


@dataclass(frozen=True)
class TypedRead:
    """The columns the reader types, and the options that say how."""

    fields: dict[str, TypedField] = field(default_factory=dict)  # field name -> its column
    # The file's columns matched to fields: each record's hash over them is taken as it is
    # read, and the search for duplicate rows (clean.drop_duplicates) groups by that.
    key_columns: tuple[str, ...] = ()

    @property
    def types(self) -> dict[str, str]:
        return {f.column: f.sql_type for f in self.fields.values()}

    def options(self) -> str:
        """read_csv's options for the typed columns."""
        marks = {f.mark for f in self.fields.values() if f.mark}
        formats = {f.date_format for f in self.fields.values() if f.date_format}
        out = f", decimal_separator = {literal(marks.pop())}" if marks else ""
        return out + (f", timestampformat = {literal(formats.pop())}" if formats else "")

    def describe(self) -> str:
        return ", ".join(self.fields)


# Given the work connection, the sample table (the file's columns, as text) and the file's
# columns: the typed read to try, or None to read as text.
Planner = Callable[[duckdb.DuckDBPyConnection, str, list[str]], TypedRead | None]


def as_text(value: str, typed: TypedField) -> str:
    """SQL giving a typed cell back as text, for the problems list (`0.5000` -> `0.5`; a date
    in the file's format)."""
    if typed.sql_type == TIMESTAMP:
        return f"strftime({value}, {literal(typed.date_format)})"
    return f"rtrim(rtrim(CAST({value} AS VARCHAR), '0'), '.')"


def planner(
    spec: SchemaSpec,
    match: Callable[[list[str]], dict[str, str]],
    *,
    date_order: str,
    date_order_chosen: bool = False,
) -> Planner:
    """The planner of a run; `match(columns)` maps the file's columns to fields (field ->
    column) as the run will map them."""

    def plan(con: duckdb.DuckDBPyConnection, sample: str, columns: list[str]) -> TypedRead | None:
        return plan_typed_read(
            con,
            sample,
            columns,
            mapping=match(columns),
            spec=spec,
            date_order=date_order,
            date_order_chosen=date_order_chosen,
        )

    return plan


def plan_typed_read(
    con: duckdb.DuckDBPyConnection,
    sample: str,
    columns: list[str],
    *,
    mapping: dict[str, str],
    spec: SchemaSpec,
    date_order: str,
    date_order_chosen: bool = False,
) -> TypedRead | None:
    """The number and date fields whose sampled values all read one way (`mapping`: field ->
    the file's column); None when there is none."""
    inner = set(columns[1:-1])
    candidates = [f for f in spec.fields if mapping.get(f.name) in inner]
    rows = con.execute(f"SELECT count(*) FROM {sample}").fetchall()[0][0]
    if not rows:
        return None
    numbers = [f for f in candidates if f.data_type in (DataType.INTEGER, DataType.DECIMAL)]
    dates = [f for f in candidates if f.data_type == DataType.DATETIME]
    planned = _numbers(con, sample, numbers, mapping)
    planned |= _dates(con, sample, dates, mapping, default=date_order, chosen=date_order_chosen)
    fields = _every_value_reads(con, sample, planned)
    if len({t.date_format for t in fields.values() if t.date_format}) > 1:
        # One timestamp format for the whole file: date columns in different ones stay text.
        fields = {name: t for name, t in fields.items() if not t.date_format}
    return TypedRead(_text_forms(con, sample, fields), tuple(mapping.values())) if fields else None


def _numbers(con, sample: str, numbers: list, mapping: dict[str, str]) -> dict[str, TypedField]:
    if not numbers:
        return {}
    own = {mapping[f.name]: decide_decimal_mark(con, sample, ident(mapping[f.name])) for f in numbers}
    decided = decide_decimal_marks(con, sample, list(own), own=own)
    marks = [mark for mark, _ in decided.values()]
    # The reader takes one decimal mark for the whole file: the commoner one's columns are typed.
    mark = max(set(marks), key=marks.count)
    typed = {}
    for f in numbers:
        column = mapping[f.name]
        column_mark, note = decided[column]
        if column_mark == mark:
            if own[column][0] is None:
                # Only the sampled rows are known to leave it open; a value further down might
                # decide it (the mark and the values read are the same either way: a value
                # with the other mark stops the reader).
                note = note.replace("(no value decided it)", "(no sampled value decided it)")
            typed[f.name] = TypedField(
                column, MONEY_SQL, mark=mark, mark_note=note, mark_decided=own[column][0] is not None
            )
    return typed


def _dates(con, sample: str, dates: list, mapping: dict[str, str], *, default: str, chosen: bool) -> dict:
    typed = {}
    for f in dates:
        column = ident(mapping[f.name])
        dmy, mdy, slashed = date_order_votes(con, sample, column)
        if dmy and mdy:
            continue  # the sample holds dates of both orders: the reader would stop at one
        order, _ = order_note(dmy, mdy, slashed, default, chosen=chosen)
        fmt = lead_date_format(con, sample, column, order)
        if fmt is None:
            continue
        if not is_day_month(fmt):
            order = default  # ISO dates: the order is not used, as on the text path
        typed[f.name] = TypedField(mapping[f.name], TIMESTAMP, date_format=fmt, date_order=order)
    return typed


def _every_value_reads(con, sample: str, planned: dict[str, TypedField]) -> dict[str, TypedField]:
    """The planned fields every sampled value of which reads as planned, with no empty cell
    (the reader stops at an empty typed cell), in one scan. Dates must fall in years from
    1000 (`%Y` reads `19/4/11` as the year 11, which the text path reads as 2011)."""
    if not planned:
        return {}

    def failing(t: TypedField) -> str:
        v = f"trim({ident(t.column)})"
        if t.date_format:
            reads = f"year(try_strptime({v}, {literal(t.date_format)})) >= 1000"
        else:
            reads = f"{plain_number(v, t.mark)} IS NOT NULL"
        return f"count(*) FILTER (WHERE {v} = '' OR NOT coalesce({reads}, false))"

    counts = con.execute(f"SELECT {', '.join(failing(t) for t in planned.values())} FROM {sample}").fetchall()[0]
    return {name: t for (name, t), bad in zip(planned.items(), counts, strict=True) if bad == 0}


# Date parts a file may write with or without a leading zero (4/9/2011 6:05).
UNPADDED = {"%m": "%-m", "%d": "%-d", "%H": "%-H"}


def _text_forms(con, sample: str, fields: dict[str, TypedField]) -> dict[str, TypedField]:
    """Each field with how its sampled cells are written (TypedField.decimals, text_format),
    in one scan of the sample."""
    if not fields:
        return fields
    asked = {name: _date_form_sql(t) if t.date_format else _decimals_sql(t) for name, t in fields.items()}
    columns = [sql for sqls in asked.values() for sql in sqls]
    found = iter(con.execute(f"SELECT {', '.join(columns)} FROM {sample}").fetchall()[0])
    out = {}
    for name, t in fields.items():
        answers = [next(found) for _ in asked[name]]
        if t.date_format:
            text_format = t.date_format
            for part, unpadded, padded in zip(_padding_parts(t), answers[::2], answers[1::2], strict=True):
                if unpadded and not padded:
                    text_format = text_format.replace(part, UNPADDED[part], 1)
            out[name] = replace(t, text_format=text_format)
        else:
            fewest, most = answers
            out[name] = replace(t, decimals=fewest if fewest is not None and fewest == most else None)
    return out


def _padding_parts(t: TypedField) -> list[str]:
    return [part for part in re.findall(r"%[a-zA-Z]", t.date_format) if part in UNPADDED]


def _date_form_sql(t: TypedField) -> list[str]:
    """Per month, day and hour of the format: whether a sampled value writes it with one
    digit, and whether one writes it with a leading zero (every part of a format is a number)."""
    parts = re.findall(r"%[a-zA-Z]", t.date_format)
    groups = f"regexp_extract_all(trim({ident(t.column)}), '\\d+')"
    aligned = f"len({groups}) = {len(parts)}"
    out = []
    for i, part in enumerate(parts, start=1):
        if part in UNPADDED:
            out.append(f"coalesce(bool_or({aligned} AND length({groups}[{i}]) = 1), false)")
            out.append(f"coalesce(bool_or({aligned} AND {groups}[{i}] LIKE '0_'), false)")
    return out


def _decimals_sql(t: TypedField) -> list[str]:
    """The fewest and the most decimals of the sampled values."""
    v, mark = f"trim({ident(t.column)})", literal(t.mark)
    places = f"CASE WHEN instr({v}, {mark}) > 0 THEN length({v}) - instr({v}, {mark}) ELSE 0 END"
    return [f"min({places}) FILTER (WHERE {v} <> '')", f"max({places}) FILTER (WHERE {v} <> '')"]
