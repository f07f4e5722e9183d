"""One run of the stages over one file: extract -> map -> totals rows and duplicates dropped
-> validate -> clean, then the fact rows written to a parquet file (transform).

Pure: no ORM, no settings, no storage, no warehouse; what it needs comes as arguments (the
frozen SchemaSpec, the UploadContext, the shop's saved mappings as a function). The real run
(apps/uploads/run.py), the schema preview (apps/uploads/preview.py) and the tests all call
`stages_run`, so a preview rejects exactly the rows a real run would.
"""

import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import partial
from pathlib import Path
from typing import Protocol

import duckdb
import pyarrow as pa

from apps.etl.pipeline.clean import Cleaned, drop_duplicates, finish
from apps.etl.pipeline.extract import extract
from apps.etl.pipeline.extracted import Extracted
from apps.etl.pipeline.mapping import Mapping, create_mapped, map_columns
from apps.etl.pipeline.report import build_report, mapping_needed_report
from apps.etl.pipeline.spec import SchemaSpec, UploadContext, with_shop_countries
from apps.etl.pipeline.totals import drop_totals
from apps.etl.pipeline.transform import (
    extra_fields,
    fact_schema,
    fact_sql,
    fact_write,
    line_parts_repeat,
    rate_currencies,
    rate_months,
)
from apps.etl.pipeline.typed_read import planner
from apps.etl.pipeline.validate import Validated, country_codes, validate

# Given a stage's statements' band of the progress bar: band(start, end).
Band = Callable[[float, float], None]
# The shop's confirmed mapping (field -> column) for a header layout, if it has one.
SavedMapping = Callable[[list[str]], dict[str, str] | None]


class PipelineStop(Exception):
    """The file cannot be loaded, for a reason the user can act on."""

    def __init__(self, message: str, *, report: dict | None = None) -> None:
        super().__init__(message)
        self.report = report or {}


class MappingNeeded(PipelineStop):
    """A required field has no column: the shop matches them on the mapping step."""


class Observer(Protocol):
    """What the caller learns while the stages run (the real run records it on the upload)."""

    def stage(self, name: str, **rows: int) -> None:
        """The run entered stage `name` (rows_read, rows_processed: how many rows so far)."""

    def watching(self, con: duckdb.DuckDBPyConnection) -> AbstractContextManager[Band]:
        """While the block runs, follow the progress of `con`'s statements."""

    def pause(self, point: str) -> None:
        """The run reached `point` (reading, validating): tests may stop it there."""


class Quiet:
    """An observer that is told nothing (previews, tests)."""

    def stage(self, name: str, **rows: int) -> None:
        pass

    def watching(self, con: duckdb.DuckDBPyConnection) -> AbstractContextManager[Band]:
        return nullcontext(lambda start, end: None)

    def pause(self, point: str) -> None:
        pass


QUIET = Quiet()


@dataclass(frozen=True)
class FileToRun:
    path: Path  # a local copy of the raw file
    name: str  # the name the user gave it: its suffix says its format
    sheet: str | None = None  # the workbook sheet to read; None: found by its header row


@dataclass
class StagesRun:
    """The stages' results, with the work connection that still holds their tables (`raw`,
    the refused rows' problems, the clean rows) for the fact file and the rejected rows."""

    con: duckdb.DuckDBPyConnection
    extracted: Extracted
    mapped: Mapping
    checked: Validated
    cleaned: Cleaned
    rows_dropped: int
    timings: dict[str, float] = field(default_factory=dict)
    # A typed read's file as text (extracted.cell_texts), made at most once.
    cell_texts: "CellTexts | None" = None
    totals_dropped: int = 0  # a spreadsheet's totals rows (totals.py)

    @property
    def present(self) -> list[str]:
        return list(self.mapped.mapping)

    @property
    def rows_read(self) -> int:
        return self.extracted.rows_read

    @property
    def rows_rejected(self) -> int:
        return self.checked.rows_rejected + self.extracted.bad_count

    @property
    def rows_valid(self) -> int:
        return self.rows_read - self.rows_rejected - self.rows_dropped - self.totals_dropped

    def refused_whole(self, spec: SchemaSpec) -> bool:
        """More bad rows than the schema allows, or none good: nothing of the file loads."""
        read, bad = self.rows_read, self.rows_rejected
        return bool(read) and (bad * 100.0 / read > spec.max_bad_row_pct or bad == read)

    def report(self) -> dict:
        """How the file was read, each rule's count and the first refused rows."""
        dropped, totals = self.rows_dropped, self.totals_dropped
        return build_report(self.extracted, self.mapped, self.checked, self.cleaned, dropped=dropped, totals=totals)


def stages_run(
    con: duckdb.DuckDBPyConnection,
    file: FileToRun,
    spec: SchemaSpec,
    ctx: UploadContext,
    *,
    work_dir: Path,
    saved_mapping: SavedMapping = lambda columns: None,
    typed_read: bool = True,
    observer: Observer = QUIET,
) -> StagesRun:
    """Every stage up to the clean rows. Raises MappingNeeded when a required field has no
    column, PipelineStop for a file with no data rows, ExtractError for one that cannot be
    read; refused rows are data (`checked`), never exceptions."""
    spec = with_shop_countries(spec, ctx)
    timings: dict[str, float] = {}
    observer.pause("reading")
    with _timed(timings, "read"), observer.watching(con):
        extracted, mapped = _read_and_map(con, file, spec, ctx, work_dir, saved_mapping, typed_read)
    observer.stage("validating", rows_read=extracted.rows_read, rows_processed=0)
    observer.pause("validating")
    present = list(mapped.mapping)
    texts = CellTexts(extracted.cell_texts) if extracted.cell_texts else None
    with _timed(timings, "validate"), observer.watching(con) as band:
        # Of a million rows' validating, finding duplicates takes about a fifth.
        band(0.0, 0.2)
        hashed = extracted.typed.key_columns if extracted.typed else ()
        formulas = extracted.formula_totals
        rows, totals = drop_totals(
            con, create_mapped(con, mapped, hashed=hashed), spec.fields, present=present, formula_rows=formulas
        )
        unique, dropped = drop_duplicates(con, rows, columns=present)
        checked = validate(
            con,
            unique,
            spec,
            present=present,
            default_date_order=ctx.date_order,
            date_order_chosen=ctx.date_order_chosen,
            typed=extracted.typed.fields if extracted.typed else None,
            cell_texts=texts,
            default_country=ctx.country_code,
            band=lambda start, end: band(0.2 + 0.8 * start, 0.2 + 0.8 * end),
        )
        cleaned = finish(
            con, checked.table, present=present, default_country=ctx.country_code, country_type=checked.country_type
        )
    return StagesRun(con, extracted, mapped, checked, cleaned, dropped, timings, texts, totals)


class CellTexts:
    """A typed read's file read again as text, at most once: validate asks for it when a
    problem is on a typed cell, and the rejected rows then take their cells from the same
    table. `table` is '' until then."""

    def __init__(self, make: Callable[[duckdb.DuckDBPyConnection], str]) -> None:
        self.make, self.table = make, ""

    def __call__(self, con: duckdb.DuckDBPyConnection) -> str:
        if not self.table:
            self.table = self.make(con)
        return self.table


def _read_and_map(
    con: duckdb.DuckDBPyConnection,
    file: FileToRun,
    spec: SchemaSpec,
    ctx: UploadContext,
    work_dir: Path,
    saved_mapping: SavedMapping,
    typed_read: bool,
) -> tuple[Extracted, Mapping]:
    """The file's rows (a CSV's numbers and dates typed by the reader where a sample says
    they read one way), and its columns matched to the schema."""
    matched: dict[tuple[str, ...], Mapping] = {}

    def match_columns(columns: list[str]) -> Mapping:
        # The typed read's plan and the run match the same columns: the saved mapping is
        # looked up once.
        if tuple(columns) not in matched:
            matched[tuple(columns)] = map_columns(columns, spec, saved=saved_mapping(columns))
        return matched[tuple(columns)]

    plan = planner(
        spec,
        lambda columns: match_columns(columns).mapping,
        date_order=ctx.date_order,
        date_order_chosen=ctx.date_order_chosen,
    )
    extracted = extract(
        con,
        file.path,
        file_name=file.name,
        work_dir=work_dir,
        header_score=spec.header_score,
        sheet=file.sheet,
        plan=plan if typed_read else None,
    )
    mapped = match_columns(extracted.columns)
    if mapped.missing_required:
        raise MappingNeeded(
            f"Required columns not found: {', '.join(mapped.missing_required)}. The file's headers are: "
            f"{', '.join(extracted.headers)}. Match them in the mapping step, or an admin can add aliases.",
            report=mapping_needed_report(extracted, mapped),
        )
    if extracted.rows_read == 0:
        # Loading nothing and calling it "loaded" would hide a file cut off after its header.
        raise PipelineStop("The file has a header row but no data rows: nothing to load.")
    return extracted, mapped


def fact_file(
    run: StagesRun,
    spec: SchemaSpec,
    ctx: UploadContext,
    *,
    path: Path,
    parquet_version: str,
    loaded_at: datetime,
    skip_keys: pa.Table | None = None,
) -> int:
    """The clean rows as fact rows (currency, revenue at the month's FX rate, lineage, line
    key) in one parquet file at `path`; how many. Raises MissingFxRate when a rate is missing.
    `skip_keys` (a line_key column): lines left out (those the shop has loaded already, when
    the uploader chose to load only the new ones)."""
    con = run.con
    spec = with_shop_countries(spec, ctx)
    rate_months(con, run.cleaned.months, ctx)
    extras = extra_fields(spec)
    repeat = partial(line_parts_repeat, con)
    sql, params = fact_sql(
        run.cleaned.table, ctx, present=run.present, extras=extras, loaded_at=loaded_at, keyed=repeat
    )
    if skip_keys is not None:
        con.register("_skip_keys", skip_keys)
        sql = f"SELECT * FROM ({sql}) f WHERE NOT EXISTS (SELECT 1 FROM _skip_keys s WHERE s.line_key = f.line_key)"
    # Text columns known to hold few values are written from ENUMs (transform.fact_write).
    few = {
        "upload_id": [str(ctx.upload_id)],
        "store_id": [str(ctx.store_id)],
        "country_code": country_codes(spec, ctx.country_code),
        "currency": rate_currencies(con),
    }
    return fact_write(
        con, sql, params, schema=fact_schema(extras), path=path, few_values=few, parquet_version=parquet_version
    )


def fact_countries(run: StagesRun, path: Path) -> dict[str, int]:
    """The rows of the fact file at `path` per country code: one column of the file just
    written, read once (the upload's page names the countries no region covers)."""
    sql = "SELECT country_code, count(*) FROM read_parquet($path) GROUP BY ALL ORDER BY ALL"
    rows = run.con.execute(sql, {"path": str(path)}).fetchall()
    return {str(code): int(lines) for code, lines in rows if code is not None}


def fact_days(run: StagesRun, path: Path) -> list[tuple[date, str, str, int]]:
    """The rows of the fact file at `path` per order day, country code and shop (store_id):
    what the report pages read from the app database instead of the warehouse (a few rows a
    day, read once from the file just written)."""
    sql = (
        "SELECT order_date, coalesce(country_code, ''), coalesce(store_id, ''), count(*) FROM read_parquet($path) "
        "WHERE order_date IS NOT NULL GROUP BY ALL ORDER BY ALL"
    )
    rows = run.con.execute(sql, {"path": str(path)}).fetchall()
    return [(day, str(country), str(store), int(lines)) for day, country, store, lines in rows]


@contextmanager
def _timed(timings: dict[str, float], stage: str) -> Iterator[None]:
    start = time.perf_counter()
    yield
    timings[stage] = round(time.perf_counter() - start, 3)
