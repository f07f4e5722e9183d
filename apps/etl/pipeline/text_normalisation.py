"""Text normalisation: each text cell trimmed, its inner runs of white space made one space
(a run of spaces, tabs, vertical tabs, form feeds or line breaks; one at either end goes),
and '' read as missing. SQL only, in validate's one pass over the rows.

Most cells need none of it, so the work is done only where it changes something
(docs/performance.md). `tidy_cells` stacks three SELECTs over the rows:

0. the row: its non-empty cells joined by single spaces (ROW) and searched once. A cell that
   starts or ends with a space, or holds white space to collapse, shows in the joined text as
   a leading or trailing space, two spaces in a row, or a tab (...): the row is then "untidy"
   (UNTIDY), and only an untidy row's cells are looked at one by one (DuckDB runs a CASE
   branch on its rows only). CONTROLS: the row holds white space other than spaces;
1. each cell of an untidy row tested for padding once (`pad$<field>`), trimmed if it is
   (`raw$<field>`: the cell's trimmed text, which the checks and the problems read), and
   the trimmed text cells counted (`trimmed`);
2. each text cell with white space to collapse (`ws$<field>`); a tab (...) is looked for
   only in the cells of a row that has one.

The typing layer above them makes each text field's value with `text_value`.
"""

from collections.abc import Collection

from apps.etl.pipeline.engine import ident, starts_with_space
from apps.etl.pipeline.extracted import SOURCE_ROW
from apps.etl.pipeline.spec import DataType, FieldSpec

ROW, UNTIDY, CONTROLS = "row$cells", "row$untidy", "row$controls"


def pad(name: str) -> str:
    return ident(f"pad${name}")


def ws(name: str) -> str:
    return ident(f"ws${name}")


def raw(name: str) -> str:
    """The column of a field's cell as trimmed text (a typed field's: its value as read)."""
    return ident(f"raw${name}")


def tidy_cells(source: str, fields: list[FieldSpec], *, typed: Collection[str], line_breaks: bool) -> str:
    """SQL: the rows of `source` with each field's trimmed cell as `raw$<field>`, the row's
    flags, the count of its trimmed text cells, and which text cells have white space to
    collapse. `typed`: the fields the reader typed (passed through: not text). `line_breaks`:
    cells may hold a CR or LF (a typed read's reader refused them)."""
    texts = [f for f in fields if f.data_type == DataType.STRING]
    loose = [f for f in fields if f.name not in typed]  # cells as text, to trim
    row_src = _row_flags(source, loose, line_breaks=line_breaks)
    trimmed_src = _trimmed(row_src, fields, loose, texts, typed=typed)
    # Layer 2: which text cells have white space to collapse (read twice: for the value and
    # the count); a tab (...) is looked for only in the cells of a row that has one.
    spaced = "".join(
        f", CASE WHEN {UNTIDY} THEN {spacing(raw(f.name), line_breaks=line_breaks, controls=CONTROLS)} "
        f"ELSE false END AS {ws(f.name)}"
        for f in texts
    )
    return f"SELECT *{spaced} FROM ({trimmed_src})"


def _row_flags(source: str, loose: list[FieldSpec], *, line_breaks: bool) -> str:
    """Layer 0: a row's cells joined, to tell in a few searches whether any of them needs
    trimming or has white space to collapse. An empty cell is left out of the join (it
    would make two spaces in a row)."""
    cells = ", ".join(f"NULLIF(s.{ident(f.name)}, '')" for f in loose)
    joined = f"SELECT s.*, concat_ws(' ', {cells or "''"}) AS {ROW} FROM {source} s"
    controls = " OR ".join(f"contains({ROW}, chr({code}))" for code in _controls(line_breaks))
    flagged = f"SELECT s.*, ({controls}) AS {CONTROLS} FROM ({joined}) s"
    ends = f"{starts_with_space(ROW)} OR ends_with({ROW}, ' ')"
    return f"SELECT s.*, ({ends} OR contains({ROW}, '  ') OR {CONTROLS}) AS {UNTIDY} FROM ({flagged}) s"


def _trimmed(
    row_src: str, fields: list[FieldSpec], loose: list[FieldSpec], texts: list[FieldSpec], *, typed: Collection[str]
) -> str:
    """Layer 1: each cell of an untidy row tested for padding once, trimmed if it is, and
    counted (text cells)."""
    pads = "".join(f", CASE WHEN {UNTIDY} THEN {padded(ident(f.name))} ELSE false END AS {pad(f.name)}" for f in loose)
    padded_src = f"SELECT *{pads} FROM ({row_src})"
    trimmed = " + ".join(f"CAST({pad(f.name)} AS INT)" for f in texts)
    return (
        f"SELECT {SOURCE_ROW}, {UNTIDY}, {CONTROLS}, "
        + ", ".join(
            f"{ident(f.name)} AS {raw(f.name)}"
            if f.name in typed
            else f"CASE WHEN {pad(f.name)} THEN trim({ident(f.name)}) ELSE {ident(f.name)} END AS {raw(f.name)}"
            for f in fields
        )
        + f", {f'CASE WHEN {UNTIDY} THEN {trimmed} ELSE 0 END' if trimmed else '0'} AS trimmed FROM ({padded_src})"
    )


def text_value(name: str) -> str:
    """SQL: a text field's value, from its trimmed cell in `tidy_cells`' rows."""
    return text_expression(raw(name), ws(name), CONTROLS)


def cells_trimmed(texts: list[FieldSpec]) -> str:
    """SQL: how many of a row's text cells changed (padding trimmed, or inner white space
    collapsed, which also counts as trimmed), over `tidy_cells`' rows."""
    collapsed = " + ".join(f"CAST(coalesce({ws(f.name)}, false) AS INT)" for f in texts)
    return f"trimmed + {collapsed or '0'}"


def text_expression(v: str, spaced: str, controls: str) -> str:
    """Trimmed text `v` with inner runs of white space made one space; '' becomes NULL.

    `spaced` says whether `v` holds white space to collapse (`spacing(v)`): the work is done
    only on those cells. `controls` says whether its row holds white space other than spaces
    (a tab...): only then the regex; in the other rows (most) runs of spaces are made one by
    `collapse_spaces`, a twelfth of the regex's cost.
    """
    # RE2's \\s leaves out the vertical tab; a run at either end (a tab) is trimmed with it.
    regex = f"trim(regexp_replace({v}, '[\\s\\v]+', ' ', 'g'))"
    collapsed = f"CASE WHEN {controls} THEN {regex} ELSE {collapse_spaces(v)} END"
    return f"NULLIF(CASE WHEN {spaced} THEN {collapsed} ELSE {v} END, '')"


def collapse_spaces(v: str) -> str:
    """`v` (trimmed, its white space spaces only) with each run of spaces made one space. Two
    `replace`s of two spaces by one halve a run twice, which makes a run of up to four spaces
    one; a longer run (rare) takes the regex."""
    replaced = f"replace(replace({v}, '  ', ' '), '  ', ' ')"
    return f"CASE WHEN contains({v}, '     ') THEN regexp_replace({v}, ' {{2,}}', ' ', 'g') ELSE {replaced} END"


def spacing(v: str, *, line_breaks: bool = True, controls: str | None = None) -> str:
    """Whether text `v` has white space other than single spaces: memchr-speed searches,
    a third of the CPU of one regex. True means collapsing changes the text.
    `line_breaks=False`: `v` is known to hold no CR or LF. `controls`: whether `v` may hold
    a tab, CR (...) at all; the searches for them are made only where it does."""
    found = " OR ".join(f"contains({v}, chr({code}))" for code in _controls(line_breaks))
    if controls is not None:
        found = f"({controls} AND ({found}))"
    return f"(contains({v}, '  ') OR {found})"


def _controls(line_breaks: bool) -> list[int]:
    """The white space characters other than the space that a cell may hold: tab, vertical
    tab and form feed, and CR and LF unless the reader refused them."""
    return [code for code in (9, 10, 11, 12, 13) if line_breaks or code not in (10, 13)]


def padded(v: str) -> str:
    """Whether `v` starts or ends with a space (what trim() removes): most cells do not, and
    testing is cheaper than trimming every one."""
    return f"coalesce({starts_with_space(v)} OR ends_with({v}, ' '), false)"
