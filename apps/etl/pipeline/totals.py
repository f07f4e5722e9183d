"""Totals rows: a spreadsheet's sum at the bottom of its columns is no sale.

A row is a totals row when it has no order id (its order id cell is blank, or is itself the
label, as Excel's Data > Subtotal writes `536365 Total`) and either
- one of its text cells is a totals label, the whole cell ("Total", "Grand total", "Totals",
  "Subtotal", and the words of the product's other languages: "Total général", "Summe",
  "Gesamtergebnis"...; case and a trailing colon ignored), or
- it holds a formula over a column of the sheet (`=SUM(E2:E1048575)`, `=SUBTOTAL(9,E2:E300)`):
  an aggregate of a one-column range of several rows starting above it. calamine hands over
  formulas' cached values only, so a workbook's sheet XML is searched for them here.

Such rows are dropped before the duplicates are looked for, and counted (the report's
`totals_dropped`): not rejected, not in the rejected rows, not emailed. A row with an order id
is never one: a product named "Total Eclipse" on an order loads.
"""

import re
import zipfile
from collections.abc import Collection, Iterator
from pathlib import Path

import duckdb
from isal import isal_zlib

from apps.etl.pipeline.engine import ident, literal
from apps.etl.pipeline.extracted import SOURCE_ROW
from apps.etl.pipeline.sheet_pieces import STEP, inflated, part_data_offset, sheet_part
from apps.etl.pipeline.spec import DataType, FieldSpec

TOTALS = "without_totals"
# A whole cell, lower-cased and trimmed (a trailing colon or full stop allowed).
LABELS = (
    "total|totals|grand total|sub ?total|sub-total|subtotals|total result|overall total|sum"  # English
    "|total g[ée]n[ée]ral|totaux|sous-total|sous total|somme|montant total"  # French
    "|summe|gesamt|gesamtsumme|gesamtergebnis|zwischensumme|ergebnis"  # German
    "|totale|totale complessivo|total general|suma|totaal|eindtotaal"  # Italian, Spanish, Dutch
)
LABEL_PATTERN = f"({LABELS})[:.]?"
# Excel's subtotals write the group's value and a word in the grouped column: `536365 Total`.
SUBTOTAL_PATTERN = f".+ (total|ergebnis|totaal|totale)[:.]?|{LABEL_PATTERN}"
# An aggregate of a one-column range: SUM(E2:E1048575), SUBTOTAL(9,$E$2:$E$300), _xlfn.AGGREGATE(...).
AGGREGATE = re.compile(
    r"\s*=?\s*(?:_xlfn\.)?(?:SUM|SUBTOTAL|AGGREGATE|AVERAGE|COUNTA?|MIN|MAX)\s*\(\s*(?:\d+\s*,\s*)*"
    r"\$?([A-Z]{1,3})\$?(\d+)\s*:\s*\$?([A-Z]{1,3})\$?(\d+)\s*\)\s*",
    re.IGNORECASE,
)
# A formula cell of the sheet's XML: its reference and its formula's text (a shared formula's
# followers, `<f t="shared" si="0"/>`, carry none: the first of them, with the text, counts).
FORMULA_CELL = re.compile(rb'<(?:\w+:)?c\b[^>]*?\sr="[A-Z]{1,3}(\d+)"[^>]*>\s*<(?:\w+:)?f\b[^>/]*>([^<]+)</(?:\w+:)?f>')
# An aggregate's name right before a `(` (its cell is then read).
AGGREGATE_NAME = re.compile(rb"(?:SUM|SUBTOTAL|AGGREGATE|AVERAGE|COUNTA?|MIN|MAX)\s*$", re.IGNORECASE)
CELL_REACH = 512  # bytes either side of the `(` that hold its cell's tag and formula
TAIL = 4096  # a cell's XML is not looked for across two chunks past this length


def formula_total_rows(path: Path, sheet: str, *, parts_with_formulas: Collection[str] | None = None) -> frozenset[int]:
    """The rows of the workbook's sheet holding a formula over a column; empty for anything
    but an .xlsx/.xlsm package. The sheet's XML is streamed once, unless
    `parts_with_formulas` (the package's parts whose XML shows a formula: excel.check_package
    notes them as it unpacks every part anyway) says it holds none, as most exports do."""
    if path.suffix.lower() not in (".xlsx", ".xlsm") or not zipfile.is_zipfile(path):
        return frozenset()
    found: set[int] = set()
    with zipfile.ZipFile(path) as package:
        part = sheet_part(package, sheet)
        if part is None or (parts_with_formulas is not None and part not in parts_with_formulas):
            return frozenset()
        info = package.getinfo(part)
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            return frozenset()
    carry = b""
    for chunk in _unpacked(path, info):
        data = carry + chunk
        if b"(" in data:  # memchr: most chunks, even of a sheet of formulas (=D2*F2), have none
            found.update(_totals_in(data))
        carry = data[-TAIL:]
    return frozenset(found)


def _unpacked(path: Path, info: zipfile.ZipInfo) -> Iterator[bytes]:
    """The part's XML in steps of at most 1 MB (ISA-L; small steps unpack faster here than
    a few big ones: 0.1 s against 0.3 s for a 114 MB sheet)."""
    if info.compress_type == zipfile.ZIP_STORED:
        yield from inflated(path, info)
        return
    inflate = isal_zlib.decompressobj(-15)
    with open(path, "rb") as raw:
        raw.seek(part_data_offset(raw, info))
        left = info.compress_size
        while left > 0:
            chunk = raw.read(min(STEP, left))
            if not chunk:
                raise EOFError(f"{info.filename} is cut short")
            left -= len(chunk)
            yield inflate.decompress(chunk, STEP)
            while inflate.unconsumed_tail:
                yield inflate.decompress(inflate.unconsumed_tail, STEP)
        yield inflate.flush()


def _totals_in(data: bytes) -> set[int]:
    """The rows of `data`'s cells whose formula totals a column. Each `(` is looked at (a
    find, not a regex over every cell: a sheet may hold a function on every line, as
    =ROUND(D2*F2,2)); only one that follows an aggregate's name has its cell read."""
    rows: set[int] = set()
    position = data.find(b"(")
    while position >= 0:
        if AGGREGATE_NAME.search(data, max(0, position - 16), position):
            rows |= _cells_around(data, position)
        position = data.find(b"(", position + 1)
    return rows


def _cells_around(data: bytes, position: int) -> set[int]:
    rows = set()
    window = data[max(0, position - CELL_REACH) : position + CELL_REACH]
    for match in FORMULA_CELL.finditer(window):
        row = int(match.group(1))
        formula = AGGREGATE.fullmatch(match.group(2).decode("utf-8", "replace"))
        if formula is None:
            continue
        first_column, first, last_column, last = formula.groups()
        one_column = first_column.upper() == last_column.upper()
        if one_column and int(first) < int(last) and int(first) < row:
            rows.add(row)
    return rows


def drop_totals(
    con: duckdb.DuckDBPyConnection,
    source: str,
    fields: Collection[FieldSpec],
    *,
    present: Collection[str],
    formula_rows: Collection[int] = (),
) -> tuple[str, int]:
    """`source`'s rows without its totals rows (a view), and how many were dropped. A row
    with an order id is decided by that one comparison: no label is looked for."""
    texts = [f.name for f in fields if f.name in present and f.data_type == DataType.STRING and f.name != "order_id"]
    cells = [f"regexp_full_match(lower(trim({ident(name)})), {literal(LABEL_PATTERN)})" for name in texts]
    if "order_id" in present:
        o = ident("order_id")
        # Most ids start with a digit and hold no space: a comparison on the string's inlined
        # prefix and a memchr search decide those rows (o[1] would cut a string from each).
        label_like = f"(NOT ({o} >= '0' AND {o} < ':') OR contains({o}, ' '))"
        labelled_id = f"regexp_full_match(lower(trim({o})), {literal(SUBTOTAL_PATTERN)})"
        no_order = f"({o} IS NULL OR {o} = '' OR ({label_like} AND (trim({o}) = '' OR {labelled_id})))"
        cells.append(f"trim({o}) <> ''")  # the order id cell is the label itself
    else:
        no_order = "true"
    if formula_rows:
        con.execute("CREATE OR REPLACE TEMP TABLE formula_totals (row BIGINT)")
        con.executemany("INSERT INTO formula_totals VALUES (?)", [[r] for r in sorted(formula_rows)])
        cells.append(f"{SOURCE_ROW} IN (SELECT row FROM formula_totals)")
    if not cells:
        return source, 0
    labelled = " OR ".join(f"coalesce({c}, false)" for c in cells)
    con.execute(
        f"""CREATE OR REPLACE TABLE totals_rows AS
            SELECT {SOURCE_ROW} FROM {source} WHERE CASE WHEN {no_order} THEN {labelled} ELSE false END"""
    )
    dropped = con.execute("SELECT count(*) FROM totals_rows").fetchall()[0][0]
    if not dropped:
        return source, 0
    con.execute(
        f"""CREATE OR REPLACE VIEW {TOTALS} AS
            SELECT * FROM {source} WHERE {SOURCE_ROW} NOT IN (SELECT {SOURCE_ROW} FROM totals_rows)"""
    )
    return TOTALS, dropped
