"""The one place report SQL is written: a read described as data, and its SQL.

A `Read` names the view, the viewer's scope, the filter's predicates, its order_date bound
(always: the fact table is partitioned by order_date, and BigQuery refuses a read of a
table with require_partition_filter that does not bound it), the measures, the grouping
(or grouping sets) and the order. `read_sql` writes it in the portable subset of
apps/warehouse/base.py; the backend spells only what has no common spelling, through its
own methods (`sql_date_trunc`). `read_table`/`read_tables` run reads on the configured
warehouse through the result cache, several at once (apps/reports/results.py);
`read_page` reads a page of a listing; `read_batches` streams one. Identifiers come from
code and are checked against the fact table's columns; every value is a bound `$name`
parameter.

The scope's predicate (which rows a viewer sees) is apps/warehouse/row_access.py's, the
same text BigQuery's row access policies carry: the accounts app knows people, regions and
shops, not the fact table.
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import pyarrow as pa

from apps.accounts.access import Scope
from apps.reports.filters import ReportFilter
from apps.reports.results import cached_page, cached_tables
from apps.warehouse.base import ResultPage, Warehouse
from apps.warehouse.fact import FACT_SCHEMA
from apps.warehouse.row_access import scope_predicate
from apps.warehouse.services import warehouse, warehouse_identity, warehouse_version

# The derived dimension: order_date cut to the read's grain (day, week or month).
PERIOD = "period"
COLUMNS = frozenset(FACT_SCHEMA.names)
AGGREGATES = {
    "sum": "sum({})",
    "min": "min({})",
    "max": "max({})",
    "count": "count({})",
    "count_distinct": "count(DISTINCT {})",
}
# The report filter's fields and the fact columns they narrow.
FILTER_COLUMNS = {"country": "country_code", "shop": "store_id", "product": "product_id", "category": "category"}
_VIEW = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")


@dataclass(frozen=True)
class Measure:
    """An aggregate of a fact column, named in the result (`count` of no column counts rows)."""

    name: str
    aggregate: str
    column: str = ""
    only_if: str = ""  # a BOOL column: only the rows where it is true are counted

    def __post_init__(self) -> None:
        _check(self.name, "measure name", allowed=re.fullmatch(r"[a-z][a-z0-9_]*", self.name) is not None)
        _check(self.aggregate, "aggregate", allowed=self.aggregate in AGGREGATES)
        _check(self.column, "column", allowed=self.column in COLUMNS or (not self.column and self.aggregate == "count"))
        _check(self.only_if, "column", allowed=not self.only_if or self.only_if in COLUMNS)


@dataclass(frozen=True)
class Read:
    """One report read, of the order days `dates` (both included). It either aggregates
    (`measures`, grouped by `group_by`, or by `grouping_sets` of those keys) or lists rows
    (`columns`, in `order_by`; a page of them through `read_page`). `order_by` names columns;
    "-column" descends; NULLs come last."""

    view: str
    scope: Scope
    equals: tuple[tuple[str, str], ...] = ()  # the filter's predicates: column = value
    dates: tuple[date, date] | None = None  # order_date between the two, both included: required
    measures: tuple[Measure, ...] = ()
    group_by: tuple[str, ...] = ()
    grouping_sets: tuple[tuple[str, ...], ...] = ()
    grain: str = "day"  # of PERIOD, when a key
    split_at: date | None = None  # each measure twice: cur_<name> from this day, prev_<name> before it
    columns: tuple[str, ...] = ()
    order_by: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check(self.view, "view", allowed=_VIEW.fullmatch(self.view) is not None)
        _check(self.dates, "order_date bound", allowed=self.dates is not None and self.dates[0] <= self.dates[1])
        _check(self, "read", allowed=bool(self.measures) != bool(self.columns))
        keys = (*self.group_by, *(c for s in self.grouping_sets for c in s))
        ordered = (c.removeprefix("-") for c in self.order_by)
        for column in (*(c for c, _ in self.equals), *self.columns, *ordered):
            _check(column, "column", allowed=column in COLUMNS)
        for column in keys:
            _check(column, "key", allowed=column in COLUMNS or column == PERIOD)
        _check(self.grouping_sets, "grouping sets", allowed=set(keys) <= set(self.group_by))
        # One bound parameter per filtered column, named after it.
        _check(self.equals, "filter", allowed=len({c for c, _ in self.equals}) == len(self.equals))


def _check(value: object, what: str, *, allowed: bool) -> None:
    # Everything checked here is written into SQL text: only names from code pass.
    if not allowed:
        raise ValueError(f"Not a valid {what} for a report read: {value!r}")


def report_read(*, scope: Scope, report: ReportFilter, **shape: Any) -> Read:
    """A read of the report's view within the scope and the filter (its period unless
    `dates` says otherwise); `shape` gives the rest of the Read."""
    values = {column: getattr(report, name) for name, column in FILTER_COLUMNS.items()}
    equals = tuple((column, value) for column, value in values.items() if value)
    fields: dict[str, Any] = {"view": report.view, "scope": scope, "equals": equals}
    return Read(**(fields | {"dates": (report.start, report.end)} | shape))


def read_sql(read: Read, *, backend: Warehouse) -> tuple[str, dict[str, Any]]:
    """The read's SQL for this backend, and its parameters."""
    where, params = _where(read)
    if read.columns:
        sql = f'SELECT {", ".join(read.columns)} FROM "{read.view}" WHERE {where}'
    else:
        sql = f"SELECT {_selects(read)} FROM {_source(read, where, backend)}{_grouping(read)}"
        if read.split_at is not None:
            params["split_at"] = read.split_at
    if read.order_by:
        terms = [f"{c[1:]} DESC NULLS LAST" if c.startswith("-") else f"{c} NULLS LAST" for c in read.order_by]
        sql += " ORDER BY " + ", ".join(terms)
    return sql, params


def _where(read: Read) -> tuple[str, dict[str, Any]]:
    predicate, scope_params = scope_predicate(read.scope)
    clauses, params = [f"({predicate})"], dict(scope_params)
    clauses.append("order_date BETWEEN $f_start AND $f_end")
    params.update(f_start=read.dates[0], f_end=read.dates[1])
    for column, value in read.equals:
        clauses.append(f"{column} = $f_{column}")
        params[f"f_{column}"] = value
    return " AND ".join(clauses), params


def _aggregate(measure: Measure, when: str = "") -> str:
    # A conditional aggregate the portable way: the CASE is NULL outside the condition, and
    # every aggregate here skips NULLs (DuckDB's FILTER clause is not GoogleSQL).
    conditions = [c for c in (measure.only_if, when) if c]
    value = measure.column or ("1" if conditions else "*")
    if conditions:
        value = f"CASE WHEN {' AND '.join(conditions)} THEN {value} END"
    return AGGREGATES[measure.aggregate].format(value)


def _selects(read: Read) -> str:
    # One-argument grouping() per key: GoogleSQL has no multi-argument bitmask.
    flags = [f"grouping({key}) AS g_{key}" for key in read.group_by] if read.grouping_sets else []
    if read.split_at is None:
        measures = [f"{_aggregate(m)} AS {m.name}" for m in read.measures]
    else:
        measures = [
            f"{_aggregate(m, when)} AS {prefix}{m.name}"
            for m in read.measures
            for prefix, when in (("cur_", "order_date >= $split_at"), ("prev_", "order_date < $split_at"))
        ]
    return ", ".join([*flags, *read.group_by, *measures])


def _source(read: Read, where: str, backend: Warehouse) -> str:
    if PERIOD not in read.group_by:
        return f'"{read.view}" WHERE {where}'
    # The period is computed once per row below, so the grouping names it as a column.
    used = [k for k in read.group_by if k != PERIOD]
    used += [c for m in read.measures for c in (m.column, m.only_if) if c]
    used += ["order_date"] if read.split_at is not None else []
    period = f"{backend.sql_date_trunc('order_date', read.grain)} AS {PERIOD}"
    columns = ", ".join([period, *dict.fromkeys(used)])
    return f'(SELECT {columns} FROM "{read.view}" WHERE {where}) AS facts'


def _grouping(read: Read) -> str:
    if read.grouping_sets:
        return " GROUP BY GROUPING SETS (" + ", ".join(f"({', '.join(s)})" for s in read.grouping_sets) + ")"
    if read.group_by:
        return " GROUP BY " + ", ".join(read.group_by)
    return ""


def read_table(read: Read) -> pa.Table:
    """Run the read on the configured warehouse (or take its result from the cache)."""
    return read_tables(read)[0]


def read_tables(*reads: Read) -> list[pa.Table]:
    """Run the reads at once (those the cache does not hold), their results in order."""
    backend = warehouse()
    statements = [read_sql(read, backend=backend) for read in reads]
    return cached_tables(statements, version=_contents_version(), run=backend.query)


def read_page(read: Read, *, start: int, size: int) -> ResultPage:
    """Rows `start` to `start + size` of a listing read (in its order), and how many it has.
    The backend pages through the query's result (BigQuery: its result table, kept between
    pages, not the query run again per page); the page itself is cached as any result."""
    backend = warehouse()
    sql, params = read_sql(read, backend=backend)
    return cached_page(sql, params, start=start, size=size, version=_contents_version(), run=backend.query_page)


def _contents_version() -> str:
    """Which warehouse, and the version of its contents: what cached results are keyed by."""
    return f"{warehouse_identity()}#{warehouse_version()}"


def read_batches(read: Read, *, batch_rows: int = 50_000) -> Iterator[pa.RecordBatch]:
    """Run the read, its result in record batches (for streamed exports; never cached).
    Closing the iterator closes the backend's read."""
    backend = warehouse()
    sql, params = read_sql(read, backend=backend)
    batches = backend.query_batches(sql, params, batch_rows=batch_rows)
    try:
        yield from batches
    finally:
        batches.close()
