"""The CSV fast path (apps/etl/pipeline/typed_read.py): numbers and dates typed by DuckDB's
reader as planned on a sample, and the text path whenever a cell further down does not read
as planned. Either way a file gives the same rows, counts, rejections and decisions as the
text path alone."""

import logging
from pathlib import Path

import pytest

from tests.etl.stages import run

REAL_FILES = [
    "bernasiakk_france_slice.csv",  # month-first dates, 2 duplicate rows
    "bernasiakk_usa.csv",
    "online_retail_sample_sfc.csv",  # day-first dates, decided by the values
    "online_retail_sample_vikash_head.csv",  # CRLF, day-first with dashes, ids `16764.0`, unknown countries
    "sales_data_sample_head.csv",  # blank first line, another schema
]
HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"


def outcome(result) -> dict:
    """Everything a run decides that a user sees: counts, rejections, decisions, clean rows."""
    con, checked, cleaned = result["con"], result["checked"], result["cleaned"]
    rows = con.execute(f"SELECT * EXCLUDE (country_from_file) FROM {cleaned.table} ORDER BY source_row").fetchall()
    return {
        "read": result["extracted"].rows_read,
        "bad records": result["extracted"].bad_count,
        "dropped": result["dropped"],
        "rejected": checked.rows_rejected,
        "reasons": checked.errors_by_reason,
        "problems": sorted((e["source_row"], e["column"], e["value"], e["reason"]) for e in checked.first_errors),
        "trimmed": checked.cells_trimmed,
        "date order": (checked.date_order, checked.date_order_note),
        # A column whose sampled values leave its decimal mark open says that only the sample
        # is known to (the mark and the values are the same: another mark stops the reader).
        "marks": {n: note.replace("no sampled value", "no value") for n, note in checked.number_notes.items()},
        "returns": cleaned.returns,
        "rows": rows,
    }


def both(path: Path, tmp_path: Path, **kwargs) -> tuple[dict, dict, object]:
    """(text path, fast path, the fast run's TypedRead or None)."""
    text = run(path, tmp_path, work_name="text", **kwargs)
    fast = run(path, tmp_path, work_name="fast", typed_read=True, **kwargs)
    try:
        return outcome(text), outcome(fast), fast["extracted"].typed
    finally:
        text["con"].close()
        fast["con"].close()


def both_on_lines(tmp_path: Path, name: str, rows: list[str], *, header: str = HEADER, **kwargs):
    """`both` on a file of `header` and `rows`."""
    path = tmp_path / name
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return both(path, tmp_path, **kwargs)


@pytest.mark.parametrize("name", REAL_FILES)
@pytest.mark.parametrize("region_order", ["DMY", "MDY"])
def test_the_real_files_give_the_same_rows_whether_the_reader_types_cells_or_not(sample, tmp_path, name, region_order):
    text, fast, typed = both(sample(name), tmp_path, region_order=region_order)

    assert typed is not None, "every real file's numbers and dates read one way: the reader types them"
    assert fast == text


def test_the_reader_types_the_number_and_date_columns_of_an_online_retail_file(sample, tmp_path):
    result = run(sample("bernasiakk_usa.csv"), tmp_path, typed_read=True)

    typed = result["extracted"].typed
    assert set(typed.fields) == {"quantity", "unit_price", "order_date"}
    assert typed.fields["order_date"].date_format == "%m/%d/%Y %H:%M"
    assert result["extracted"].details["typed_by_reader"] == "quantity, unit_price, order_date"
    # The column types in the work table are the reader's.
    types = dict(
        result["con"]
        .execute("SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = 'records'")
        .fetchall()
    )
    assert types["Quantity"] == "DECIMAL(18,4)" and types["InvoiceDate"] == "TIMESTAMP"
    assert types["InvoiceNo"] == types["Country"] == "VARCHAR"


def _big_file(tmp_path: Path, last_line: str, *, rows: int = 30_000) -> Path:
    """An Online Retail file of ~2 MB whose dates all read both ways (day and month up to 12),
    then `last_line`: past the head and beyond the last sampled chunk, so the plan cannot see it."""
    lines = [HEADER]
    for i in range(rows):
        day, month = i % 12 + 1, (i // 12) % 12 + 1
        lines.append(
            f"{536365 + i},85123A,WHITE HANGING HEART,{i % 7 + 1},{day}/{month}/2011 8:26,2.55,17850,United Kingdom"
        )
    lines.append(last_line)
    path = tmp_path / "orders.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("last_line", "why"),
    [
        ("600000,22722,TINS,7,4/19/2011 16:19,3.95,12733,United Kingdom", "a date that reads only month first"),
        ("600000,22722,TINS,,4/1/2011 16:19,3.95,12733,United Kingdom", "an empty quantity"),
        ('600000,22722,TINS,7,4/1/2011 16:19,"1,234.50",12733,United Kingdom', "a thousands separator"),
        ("600000,22722,TINS,7,4/1/11 16:19,3.95,12733,United Kingdom", "a two-digit year"),
        ("600000,22722,TINS,7,4/1/2011 16:19,n/a,12733,United Kingdom", "a price that is no number"),
    ],
)
def test_a_cell_the_sample_did_not_show_sends_the_file_down_the_text_path(tmp_path, caplog, last_line, why):
    path = _big_file(tmp_path, last_line)

    with caplog.at_level(logging.INFO, logger="apps.etl.pipeline.csv_reader"):
        text, fast, typed = both(path, tmp_path, region_order="DMY")

    assert typed is None, why
    assert any(m.startswith("CSV read as text:") for m in caplog.messages), why
    assert fast == text


def test_the_date_order_one_late_date_decides_is_the_text_paths(tmp_path):
    # Every date reads both ways until the last, which reads only month first: the whole
    # file is then read month first, as the text path decides; the region's order is not used.
    path = _big_file(tmp_path, "600000,22722,TINS,7,4/19/2011 16:19,3.95,12733,United Kingdom")

    result = run(path, tmp_path, typed_read=True, region_order="DMY")

    assert result["checked"].date_order == "MDY"
    assert result["checked"].date_order_note.startswith("decided by the file's values: 1 of 30,001 dates")


def test_padded_and_spaced_cells_are_found_on_both_paths_among_tidy_rows(tmp_path):
    # A row is first searched whole, its non-empty cells joined by spaces (on the fast path
    # without looking for line breaks, which its reader refuses): a padded or spaced cell
    # must be found first, last, beside an empty cell, and as a cell of spaces only.
    tidy = "536365,85123A,WHITE HEART,6,12/1/2010 8:26,2.55,17850,United Kingdom"
    rows = [
        tidy,
        " 536366,85123A,WHITE HEART,6,12/1/2010 8:26,2.55,17850,United Kingdom",  # first cell
        "536367,85123A,WHITE HEART,6,12/1/2010 8:26,2.55,17850,France ",  # last cell
        "536368,85123A,WHITE HEART ,6,12/1/2010 8:26,2.55,,United Kingdom",  # beside an empty cell
        "536369,85123A,WHITE HEART,6,12/1/2010 8:26,2.55,   ,United Kingdom",  # spaces only
        '536370,85123A,"WHITE\tHEART",6,12/1/2010 8:26,2.55,17850,United Kingdom',  # a tab
        "536371,85123A,WHITE\x0bHEART,6,12/1/2010 8:26,2.55,17850,United Kingdom",  # a vertical tab
        "536372,85123A,WHITE  HEART,6,12/1/2010 8:26,2.55,17850,United Kingdom",  # two spaces
        "536373,85123A,WHITE HEART,6,12/1/2010 8:26,2.55,,United Kingdom",  # an empty cell only: tidy
        '536374,85123A,"\tWHITE HEART",6,12/1/2010 8:26,2.55,17850,United Kingdom',  # a tab first
        tidy.replace("536365", "536375"),
    ]
    text, fast, typed = both_on_lines(tmp_path, "spaces.csv", rows)

    assert typed is not None
    assert fast == text
    assert text["trimmed"] == 8  # 4 padded cells (one of spaces only), 4 with white space collapsed
    names = {row[0]: row for row in text["rows"]}
    assert {names[n][4] for n in range(2, 13)} == {"WHITE HEART"}
    assert [names[n][-2] for n in (4, 5)] == ["FR", "GB"]  # "France " found its code


def test_runs_of_spaces_of_any_length_become_one_space_on_both_paths(tmp_path):
    # Runs of spaces alone are made one by two replaces of two spaces by one (up to four
    # spaces) or by the regex (longer runs); a row that also holds a tab takes the regex.
    runs = range(2, 10)
    rows = [
        f"5363{n:02},85123A,WHITE{' ' * n}HEART{' ' * n}T-LIGHT,6,12/1/2010 8:26,2.55,,United Kingdom" for n in runs
    ]
    rows.append('536399,85123A,"WHITE   HEART\tT-LIGHT",6,12/1/2010 8:26,2.55,17850,United  Kingdom')
    text, fast, typed = both_on_lines(tmp_path, "runs.csv", rows)

    assert typed is not None
    assert fast == text
    names = [row[4] for row in text["rows"]]  # in line order: the runs of 2 to 9 spaces, then the tab
    assert names == ["WHITE HEART T-LIGHT"] * (len(runs) + 1)
    assert text["rows"][-1][-2] == "GB"  # "United  Kingdom" found its code once collapsed
    assert text["trimmed"] == len(runs) + 2


def test_rows_after_an_empty_line_keep_their_line_numbers_on_the_fast_path(tmp_path):
    # The typed read starts before the search for empty lines ends; a file that has one is
    # read again with the empty line kept as a row, so a problem's row is the file's line.
    rows = [
        "536365,85123A,WHITE HEART,6,12/1/2010 8:26,2.55,17850,United Kingdom",
        "",
        "536366,85123B,WHITE HEART,6,12/1/2010 8:26,2.55,17850,United Kingdom",
        "",
        "",
        "536367,85123C,WHITE HEART,0,12/1/2010 8:26,2.55,17850,United Kingdom",
    ]
    text, fast, typed = both_on_lines(tmp_path, "gaps.csv", rows)

    assert typed is not None
    assert fast == text
    assert [row[0] for row in fast["rows"]] == [2, 4]
    assert fast["problems"] == [(7, "quantity", "0", "quantity is zero")]


def test_numbers_the_reader_accepts_read_alike_on_both_paths(tmp_path):
    # `5.`, `1e1`, `+2` and a padded number: DuckDB's own number reading, on both paths.
    rows = [
        "536365,85123A,HEART,6,12/1/2010 8:26,2.55,17850,United Kingdom",
        "536366,85123B,HEART,5.,12/1/2010 8:26,1e1,17850,United Kingdom",
        "536367,85123C,HEART,+2,12/1/2010 8:26, 3.5 ,17850,United Kingdom",
        "536368,85123D,HEART,-1,12/1/2010 8:26,0.0001,17850,United Kingdom",
    ]
    text, fast, typed = both_on_lines(tmp_path, "numbers.csv", rows)

    assert typed is not None
    assert fast == text
    assert [(r[5], str(r[6])) for r in fast["rows"]] == [(6, "2.5500"), (5, "10.0000"), (2, "3.5000"), (-1, "0.0001")]


def test_a_problem_on_a_typed_cell_shows_the_cell_as_the_file_has_it(tmp_path):
    # The reader read `0.00` as 0; the problem (and the rejected-rows file) show `0.00`, as on
    # the text path: the file is read again as text for them.
    rows = [
        "536365,85123A,HEART,6,12/1/2010 8:26,2.55,17850,United Kingdom",
        "536366,85123B,HEART,0,12/1/2010 8:26,0.50,17850,United Kingdom",
        "536367,85123C,HEART,2,12/1/2010 8:26,0.00,17850,United Kingdom",
        "536368,85123D,HEART,2.50,12/1/1850 8:26,1,17850,United Kingdom",
    ]
    text, fast, typed = both_on_lines(tmp_path, "problems.csv", rows, region_order="MDY")

    assert typed is not None
    assert fast == text
    assert {(p[1], p[3]): p[2] for p in fast["problems"]} == {
        ("quantity", "quantity is zero"): "0",
        ("unit_price", "price must be above 0 on a sale"): "0.00",
        ("quantity", "cannot be read as a whole number"): "2.50",
        ("order_date", "date out of range (1900-2100)"): "12/1/1850 8:26",
    }


def test_a_file_whose_numbers_use_a_decimal_comma_is_typed_with_it(tmp_path):
    rows = [
        "536365;85123A;HEART;6;01.12.2010 08:26;2,55;17850;France",
        "536366;85123B;HEART;5;13.12.2010 08:26;10,5;17850;France",
    ]
    text, fast, typed = both_on_lines(tmp_path, "comma.csv", rows, header=HEADER.replace(",", ";"))

    assert typed is not None and typed.fields["unit_price"].mark == ","
    assert fast == text
    assert [str(r[6]) for r in fast["rows"]] == ["2.5500", "10.5000"]


def test_duplicates_are_found_by_the_hash_taken_as_the_file_was_read(tmp_path):
    # Two rows alike in every mapped column are duplicates even when a column the schema
    # does not know (Note) differs: the hash is over the mapped columns only.
    rows = [
        "536365,85123A,HEART,6,12/1/2010 8:26,2.55,17850,United Kingdom,first",
        "536365,85123A,HEART,6,12/1/2010 8:26,2.55,17850,United Kingdom,second",
        "536366,85123A,HEART,6,12/1/2010 8:26,2.55,17850,United Kingdom,third",
    ]
    text, fast, typed = both_on_lines(tmp_path, "dupes.csv", rows, header=HEADER + ",Note")
    result = run(tmp_path / "dupes.csv", tmp_path, typed_read=True, work_name="again")

    assert typed is not None
    assert "__row_hash" in [d[0] for d in result["con"].execute("SELECT * FROM mapped LIMIT 0").description]
    assert fast["dropped"] == text["dropped"] == 1
    assert fast == text


def test_the_sample_counts_no_row_twice_in_a_file_smaller_than_its_chunks(tmp_path):
    from apps.etl.pipeline.csv_reader import SAMPLE_CHUNK_BYTES, SAMPLE_CHUNKS, SNIFF_BYTES, _spread_lines

    # ~200 KB past the head: 16 chunks of 32 KB spread over it would overlap.
    path = _big_file(tmp_path, "600000,22722,TINS,7,4/1/2011 16:19,3.95,12733,United Kingdom", rows=4_000)
    assert path.stat().st_size - SNIFF_BYTES < SAMPLE_CHUNKS * SAMPLE_CHUNK_BYTES

    lines = _spread_lines(path, skip_bytes=SNIFF_BYTES)

    assert len(lines) == len(set(lines))
    whole = path.read_bytes()[SNIFF_BYTES:].decode().splitlines()
    assert lines == whole[1:-1]  # all of them but the cut first and the last
