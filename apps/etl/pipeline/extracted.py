"""What the extract stage hands on, whatever the file's format: the work table `raw` of text
cells (typed numbers and dates where a CSV's reader typed them), one row per record, each
with `source_row`, its 1-based row number in the file as a spreadsheet would show it; the
records that could not be split into cells; and what was learnt of the file on the way.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

import duckdb

from apps.etl.pipeline.typed_read import TypedRead

SOURCE_ROW = "source_row"
RAW = "raw"
BAD_RECORDS = "bad_records"
ROW_HASH = "__row_hash"  # a typed read's hash of each record's mapped cells

# How many schema fields a header row names: used to find the header and the data sheet.
HeaderScore = Callable[[list[str]], int]


class ExtractError(Exception):
    """The file cannot be read at all (as opposed to bad rows, which are data)."""


@dataclass(frozen=True)
class BadRecord:
    source_row: int | None
    text: str
    reason: str


@dataclass
class Extracted:
    headers: list[str]  # as in the file; the columns of `raw` are these made unique
    columns: list[str]
    rows_read: int
    bad_records: list[BadRecord] = field(default_factory=list)  # the first few
    bad_count: int = 0
    details: dict[str, str] = field(default_factory=dict)
    typed: TypedRead | None = None  # the number and date columns the CSV reader typed
    # With `typed`: makes a table of the file's cells as text, rows numbered as `raw`'s, and
    # returns it (a subquery); read again only when a problem on a typed cell needs its text.
    cell_texts: Callable[[duckdb.DuckDBPyConnection], str] | None = None
    # A workbook's rows holding a formula over a column (totals.formula_total_rows).
    formula_totals: frozenset[int] = frozenset()


def bad_records_table(con: duckdb.DuckDBPyConnection) -> None:
    """The (empty) table of records with more or fewer fields than the header."""
    con.execute(f"CREATE OR REPLACE TABLE {BAD_RECORDS} ({SOURCE_ROW} BIGINT, text VARCHAR, reason VARCHAR)")


def unique_names(headers: list[str]) -> list[str]:
    """Column names as given, made unique and non-empty so SQL can address them."""
    seen: dict[str, int] = {}
    names = []
    for index, header in enumerate(headers):
        name = str(header).strip() or f"column_{index + 1}"
        if name == SOURCE_ROW:
            name = f"{name}_in_file"
        # SQL identifiers ignore case, so `Country` and `COUNTRY` must differ by more.
        count = seen.get(name.lower(), 0)
        seen[name.lower()] = count + 1
        names.append(name if count == 0 else f"{name}_{count + 1}")
    return names
