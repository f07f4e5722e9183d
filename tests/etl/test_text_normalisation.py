"""Text normalisation (apps/etl/pipeline/text_normalisation.py) on its own: each kind of white
space a cell may hold, trimmed or collapsed to one space, and counted once per change."""

import duckdb
import pyarrow as pa
import pytest

from apps.etl.pipeline.spec import DataType, FieldSpec
from apps.etl.pipeline.text_normalisation import cells_trimmed, text_value, tidy_cells

FIELDS = [FieldSpec("product_id", DataType.STRING), FieldSpec("product_name", DataType.STRING)]
CELLS = [
    # (cell, its value, how many changes are counted: padding trimmed, white space collapsed)
    ("WHITE HEART", "WHITE HEART", 0),
    (" WHITE HEART", "WHITE HEART", 1),
    ("WHITE HEART ", "WHITE HEART", 1),
    ("WHITE  HEART", "WHITE HEART", 1),
    (" WHITE  HEART ", "WHITE HEART", 2),
    ("WHITE" + " " * 7 + "HEART", "WHITE HEART", 1),
    ("WHITE\tHEART", "WHITE HEART", 1),
    ("\tWHITE HEART\t", "WHITE HEART", 1),
    ("WHITE\x0bHEART", "WHITE HEART", 1),
    ("WHITE\x0cHEART", "WHITE HEART", 1),
    ("WHITE \t  HEART", "WHITE HEART", 1),
    ("   ", None, 1),
    ("", None, 0),
]
LINE_BREAKS = [("WHITE\nHEART", "WHITE HEART", 1), ("WHITE\r\nHEART", "WHITE HEART", 1)]


def _tidied(rows: list[str], *, line_breaks: bool) -> list[tuple]:
    """(value, changes counted) of each cell of `rows`, each beside a tidy cell."""
    con = duckdb.connect()
    con.register(
        "cells", pa.table({"product_id": ["85123A"] * len(rows), "product_name": rows, "source_row": range(len(rows))})
    )
    sql = tidy_cells("cells", FIELDS, typed=(), line_breaks=line_breaks)
    return con.execute(
        f"SELECT {text_value('product_name')}, {cells_trimmed(FIELDS)} FROM ({sql}) ORDER BY source_row"
    ).fetchall()


@pytest.mark.parametrize(("cell", "value", "changes"), CELLS, ids=[repr(c[0]) for c in CELLS])
def test_a_cells_white_space_is_trimmed_and_collapsed_and_counted(cell, value, changes):
    assert _tidied(["WHITE HEART", cell], line_breaks=True) == [("WHITE HEART", 0), (value, changes)]


@pytest.mark.parametrize(("cell", "value", "changes"), LINE_BREAKS, ids=[repr(c[0]) for c in LINE_BREAKS])
def test_line_breaks_are_collapsed_unless_the_reader_refused_them(cell, value, changes):
    assert _tidied([cell], line_breaks=True) == [(value, changes)]
    # A typed read's reader refuses a CR or LF in a cell: they are not looked for.
    assert _tidied([cell], line_breaks=False) == [(cell, 0)]
