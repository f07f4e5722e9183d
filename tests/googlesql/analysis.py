"""Captured statements analysed by Google's ZetaSQL analyzer (PyPI `zetasql`, the WebAssembly
build), as BigQuery's front end analyses GoogleSQL, and their order_date bounds read from the
resolved tree.

The catalog: the fact table `project.sales.orders-cleaned` (apps/warehouse/fact.py's schema,
BigQuery types from bigquery_dialect.column_type; columns an admin added, as the table had
them when the statement ran), the views (the same columns) under their full and their
unqualified names (report reads name them in the job's default dataset), and the staging
tables each statement names, as they were loaded. Query parameters are named parameters of
their BigQuery types (arrays too). Language: every released feature (ZetaSQL's "maximum"
set) in PRODUCT_EXTERNAL mode (BigQuery's: no INT32, FLOAT, PROTO ...). A script
(BEGIN TRANSACTION; ...; COMMIT TRANSACTION;) is analysed statement by statement.

What this cannot see: BigQuery's own functions and DDL options that ZetaSQL lacks (listed in
ALLOWED, with the reason), whether a table exists on the server, quotas, and permissions.
"""

import dataclasses
import re
from collections.abc import Iterator
from functools import cache

import wasmtime
from zetasql.api import CatalogBuilder, TableBuilder
from zetasql.api.type_factory import TypeFactory
from zetasql.core import wasm_client
from zetasql.core.local_service import ZetaSqlLocalService
from zetasql.types import (
    AnalyzerOptions,
    LanguageOptions,
    ParseResumeLocation,
    ProductMode,
    ResolvedCast,
    ResolvedColumnRef,
    ResolvedCreateViewStmt,
    ResolvedDeleteStmt,
    ResolvedFilterScan,
    ResolvedFunctionCallBase,
    ResolvedInsertStmt,
    ResolvedLiteral,
    ResolvedMergeStmt,
    ResolvedNode,
    ResolvedParameter,
    ResolvedTableScan,
    ResolvedUpdateStmt,
    TypeKind,
    ZetaSQLBuiltinFunctionOptions,
)

from apps.warehouse.bigquery_dialect import column_type
from apps.warehouse.fact import FACT_SCHEMA, FACT_TABLE, MASTER_VIEW
from tests.googlesql.capture import DATASET, PROJECT, Statement

FACT_NAME = f"{PROJECT}.{DATASET}.{FACT_TABLE}"
PARTITION_COLUMN = "order_date"
CREATE_VIEW = re.compile(r"CREATE OR REPLACE VIEW `(?:[^`.]+\.[^`.]+\.)?([^`]+)`")
# BigQuery's type names (REST schemas say INTEGER, FLOAT, BOOLEAN) -> ZetaSQL's.
KINDS = {
    "STRING": TypeKind.TYPE_STRING,
    "INT64": TypeKind.TYPE_INT64,
    "INTEGER": TypeKind.TYPE_INT64,
    "FLOAT64": TypeKind.TYPE_DOUBLE,
    "FLOAT": TypeKind.TYPE_DOUBLE,
    "NUMERIC": TypeKind.TYPE_NUMERIC,
    "BIGNUMERIC": TypeKind.TYPE_BIGNUMERIC,
    "BOOL": TypeKind.TYPE_BOOL,
    "BOOLEAN": TypeKind.TYPE_BOOL,
    "DATE": TypeKind.TYPE_DATE,
    "DATETIME": TypeKind.TYPE_DATETIME,
    "TIMESTAMP": TypeKind.TYPE_TIMESTAMP,
    "TIME": TypeKind.TYPE_TIME,
    "BYTES": TypeKind.TYPE_BYTES,
    "JSON": TypeKind.TYPE_JSON,
}
# What ZetaSQL refuses though BigQuery runs it: error text pattern -> why it is fine on BigQuery.
# Keep each entry narrow (the exact function or option), so that nothing else hides behind it.
ALLOWED: dict[str, str] = {}
# Comparisons BigQuery prunes partitions with when the other side is a constant expression.
BOUNDING = {"$equal", "$less", "$less_or_equal", "$greater", "$greater_or_equal", "$between", "$in", "$in_array"}


class Refused(Exception):
    """A statement the analyzer refuses: the statement, where it came from, and why."""


def zeta_type(bigquery_type: str):
    if bigquery_type.startswith("ARRAY<"):
        return TypeFactory.create_array_type(zeta_type(bigquery_type[6:-1]))
    return TypeFactory.create_simple_type(KINDS[bigquery_type])


def _compilation_cached() -> None:
    """Compiling ZetaSQL's 28 MB WebAssembly module takes 10-35 s on this machine; wasmtime's
    own compilation cache (~/.cache/wasmtime, keyed by the module and the compiler) makes
    every later run load it in well under a second. zetasql builds its wasmtime Config
    itself, so the cache is switched on in the Config it makes."""

    def cached_config() -> wasmtime.Config:
        config = wasmtime.Config()
        config.shared_memory = True  # as zetasql sets it
        config.cache = True
        return config

    wasm_client.Config = cached_config


_compilation_cached()  # before anything starts zetasql's service


@cache
def language() -> LanguageOptions:
    options = LanguageOptions.maximum_features()
    options.product_mode = ProductMode.PRODUCT_EXTERNAL
    return options


def fact_columns(statement: Statement) -> list[tuple[str, str]]:
    """The canonical columns with their BigQuery types, then those an admin added (as the
    table had them when the statement ran)."""
    canonical = [(f.name, column_type(f.type)) for f in FACT_SCHEMA]
    live = dict(statement.tables).get(FACT_NAME, ())
    return canonical + [(name, kind) for name, kind in live if name not in FACT_SCHEMA.names]


def view_names(statements: list[Statement]) -> frozenset[str]:
    """The views the app makes (one per region and the master view)."""
    return frozenset({MASTER_VIEW} | {m for s in statements for m in CREATE_VIEW.findall(s.sql)})


def catalog_for(statement: Statement, views: frozenset[str]) -> int:
    """The id of the catalog the statement is analysed in, registered with the analyzer
    once per distinct set of tables (sending the catalog with each statement costs more)."""
    tables = [(name, tuple(fact_columns(statement))) for name in [FACT_TABLE, *sorted(views)]]
    tables = [(full, columns) for name, columns in tables for full in (name, f"{PROJECT}.{DATASET}.{name}")]
    tables += [(name, columns) for name, columns in statement.tables if name != FACT_NAME]
    return _registered(tuple(tables))


@cache
def _registered(tables: tuple) -> int:
    builder = CatalogBuilder("bigquery")
    for name, columns in tables:
        table = TableBuilder(name)
        for column, kind in columns:
            table.add_column(column, zeta_type(kind))
        builder.add_table(table.build())
    catalog = builder.with_builtin_functions(ZetaSQLBuiltinFunctionOptions(language_options=language())).build()
    return ZetaSqlLocalService.get_instance().register_catalog(simple_catalog=catalog).registered_id


def options_for(statement: Statement) -> AnalyzerOptions:
    parameters = [AnalyzerOptions.QueryParameter(name=p.name, type=zeta_type(p.type)) for p in statement.params]
    return AnalyzerOptions(language_options=language(), query_parameters=parameters, prune_unused_columns=True)


def analysed(statement: Statement, views: frozenset[str]) -> list[tuple[str, ResolvedNode]]:
    """Each statement of `statement.sql` (one, or a script's several): its text and its
    resolved tree. Refused with the statement and the analyzer's reason, unless ALLOWED
    says why BigQuery runs it all the same."""
    service, options, catalog = (
        ZetaSqlLocalService.get_instance(),
        options_for(statement),
        catalog_for(statement, views),
    )
    text = statement.sql.encode()
    location, found = ParseResumeLocation(input=statement.sql, byte_position=0), []
    while text[location.byte_position :].strip(b" \n\t;"):
        start = location.byte_position
        try:
            answer = service.analyze(parse_resume_location=location, options=options, registered_catalog_id=catalog)
        except Exception as exc:
            reason = str(exc)
            if any(re.search(pattern, reason) for pattern in ALLOWED):
                break
            raise Refused(f"{statement.path}\n{reason}\n--- statement (from byte {start}):\n{statement.sql}") from exc
        location.byte_position = answer.resume_byte_position or len(text)
        found.append((text[start : location.byte_position].decode().strip(" \n\t;"), answer.resolved_statement))
    return found


# -- order_date bounds ----------------------------------------------------------------------
def nodes(node) -> Iterator[ResolvedNode]:
    """The node and every resolved node below it."""
    yield node
    for f in dataclasses.fields(node):
        value = getattr(node, f.name)
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, ResolvedNode):
                yield from nodes(item)


def _function(expr) -> str:
    name = expr.function.name if isinstance(expr, ResolvedFunctionCallBase) and expr.function else ""
    return name.split(":")[-1]


def is_constant(expr) -> bool:
    """A value known before the scan: literals, parameters and functions of them (no column,
    no subquery: BigQuery prunes with constant expressions only)."""
    if isinstance(expr, ResolvedLiteral | ResolvedParameter):
        return True
    if isinstance(expr, ResolvedCast):
        return is_constant(expr.expr)
    if isinstance(expr, ResolvedFunctionCallBase) and type(expr).__name__ == "ResolvedFunctionCall":
        return all(is_constant(a) for a in expr.argument_list)
    return False


def _column(expr) -> int | None:
    if isinstance(expr, ResolvedCast):
        return _column(expr.expr)
    return expr.column.column_id if isinstance(expr, ResolvedColumnRef) else None


def bounded_columns(expr) -> set[int]:
    """The columns `expr` (a filter) bounds with constants: in any conjunct of an AND, in
    every branch of an OR."""
    name = _function(expr)
    if name == "$and":
        return set().union(*(bounded_columns(a) for a in expr.argument_list))
    if name == "$or":
        branches = [bounded_columns(a) for a in expr.argument_list]
        return set.intersection(*branches) if branches else set()
    if name in BOUNDING:
        args = expr.argument_list
        for i, arg in enumerate(args):
            column = _column(arg)
            if column is not None and all(is_constant(a) for j, a in enumerate(args) if j != i):
                return {column}
    return set()


def _filters(statement) -> Iterator:
    for node in nodes(statement):
        if isinstance(node, ResolvedFilterScan):
            yield node.filter_expr
        elif isinstance(node, ResolvedDeleteStmt | ResolvedUpdateStmt):
            yield node.where_expr
        elif isinstance(node, ResolvedMergeStmt):
            yield node.merge_expr
            yield from (w.match_expr for w in node.when_clause_list)


def unbounded_scans(statement, views: frozenset[str]) -> list[str]:
    """The scans of the fact table or a view with no order_date bound BigQuery can prune
    with, each as 'table: why'. An INSERT's target is written, not scanned; a view's
    definition is bounded by the queries over it."""
    if isinstance(statement, ResolvedCreateViewStmt):
        return []
    target = statement.table_scan if isinstance(statement, ResolvedInsertStmt) else None
    bounded = set().union(*(bounded_columns(f) for f in _filters(statement) if f is not None))
    found = []
    for scan in nodes(statement):
        if (
            not isinstance(scan, ResolvedTableScan)
            or scan is target
            or scan.table.name.rsplit(".", 1)[-1] not in {FACT_TABLE, *views}
        ):
            continue
        dates = {c.column_id for c in scan.column_list if c.name == PARTITION_COLUMN}
        if not dates:
            found.append(f"{scan.table.name}: order_date not filtered")
        elif not dates & bounded:
            found.append(f"{scan.table.name}: order_date not compared with a constant or parameter")
    return found
