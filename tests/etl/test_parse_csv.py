"""CSV files as shops send them: encodings, delimiters, title lines, quoted newlines."""

import codecs
import logging
from datetime import datetime
from decimal import Decimal

import pytest

from tests.etl.stages import rows, run

HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,Country"
LINES = [
    "536365,85123A,WHITE HEART,6,19/04/2011 08:26,2.55,France",
    "536366,71053,CAFÉ LANTERN €,6,01/12/2010 08:28,3.39,France",
]


def _write(tmp_path, text: str, *, encoding="utf-8", name="sales.csv"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "cp1252"])
def test_every_common_encoding_reads_the_same_text(tmp_path, encoding):
    path = _write(tmp_path, "\r\n".join([HEADER, *LINES]) + "\r\n", encoding=encoding)

    result = run(path, tmp_path)

    con = result["con"]
    assert result["extracted"].rows_read == 2
    assert rows(con, "SELECT product_name FROM clean ORDER BY source_row") == [("WHITE HEART",), ("CAFÉ LANTERN €",)]


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiter_is_found_from_the_header(tmp_path, delimiter):
    text = "\n".join(line.replace(",", delimiter) for line in [HEADER, *LINES])
    result = run(_write(tmp_path, text), tmp_path)

    assert result["extracted"].details["delimiter"] == delimiter
    names = {",": "commas", ";": "semicolons", "\t": "tabs", "|": "bars (|)"}
    assert result["extracted"].details["delimiter_name"] == names[delimiter]
    assert result["checked"].rows_rejected == 0
    assert rows(result["con"], "SELECT count(*) FROM clean") == [(2,)]


def test_title_and_blank_lines_above_the_header_are_skipped_and_rows_keep_their_numbers(tmp_path):
    text = "Sales export, March\r\n\r\n" + HEADER + "\r\n" + "\r\n".join(LINES) + "\r\n"
    result = run(_write(tmp_path, text), tmp_path)

    assert result["extracted"].details["header_row"] == "3"
    assert rows(result["con"], "SELECT source_row FROM clean ORDER BY 1") == [(4,), (5,)]


def test_quoted_newlines_and_delimiters_stay_inside_their_cell(tmp_path):
    text = HEADER + '\n536365,85123A,"WHITE\nHEART, large",6,19/04/2011 08:26,2.55,France\n' + LINES[1] + "\n"
    result = run(_write(tmp_path, text), tmp_path)

    assert rows(result["con"], "SELECT source_row, product_name FROM clean ORDER BY 1") == [
        (2, "WHITE HEART, large"),
        (3, "CAFÉ LANTERN €"),
    ]


def _big_file(tmp_path, *, multiline_at: int | None, records: int = 200_000, bad_rows: bool = True):
    """A file of many read buffers with a short and a long row far apart (and maybe a
    quoted newline): each record's numbered line is its row number."""
    lines = [HEADER]
    for n in range(2, records + 2):
        lines.append(f"{n},85123A,ITEM {n},6,19/04/2011 08:26,2.55,France")
    if bad_rows:
        lines[50_000] = "50000,1,2,3"  # short
        lines[150_000] = lines[150_000] + ",extra"  # long
    if multiline_at:
        lines[multiline_at] = f'{multiline_at + 1},85123A,"TWO\nLINES",6,19/04/2011 08:26,2.55,France'
    return _write(tmp_path, "\n".join(lines) + "\n")


def _reads(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("CSV read")]


@pytest.mark.parametrize("on_disk", [False, True], ids=["in-memory", "on-disk"])
@pytest.mark.parametrize("multiline_at", [None, 180_000], ids=["parallel", "quoted-newline-late"])
def test_a_big_file_read_in_parallel_keeps_every_row_number(tmp_path, caplog, multiline_at, on_disk):
    """The reader runs in parallel (and serially again when a quoted newline turns up late
    in a file that also has rows of the wrong width): either way each record keeps its own
    row number (its rowid in `records`, in memory or in a database file), and short/long
    rows theirs."""
    caplog.set_level(logging.INFO, logger="apps.etl.pipeline.csv_reader")
    result = run(_big_file(tmp_path, multiline_at=multiline_at), tmp_path, on_disk=on_disk)

    expected = "serially (refused read in parallel, then in parallel, strictly)" if multiline_at else "in parallel"
    assert _reads(caplog) == [f"CSV read {expected}"]

    con = result["con"]
    assert [(b.source_row, b.reason[:8]) for b in result["extracted"].bad_records] == [
        (50_001, "has fewe"),
        (150_001, "has more"),
    ]
    # Every loaded row's order id is the line it was written on.
    assert rows(con, "SELECT count(*), count(*) FILTER (WHERE CAST(order_id AS BIGINT) <> source_row) FROM clean") == [
        (199_998, 0)
    ]
    if multiline_at:
        assert rows(con, f"SELECT product_name FROM clean WHERE source_row = {multiline_at + 1}") == [("TWO LINES",)]


@pytest.mark.parametrize(
    ("multiline_at", "expected"),
    [(180_000, "in parallel, strictly (refused read in parallel)"), (100, "in parallel, strictly")],
    ids=["late", "in-the-first-64kb"],
)
def test_a_file_with_quoted_newlines_and_rows_of_the_right_width_is_still_read_in_parallel(
    tmp_path, caplog, multiline_at, expected
):
    """Quoted newlines alone do not make the read serial: without padding, DuckDB's parallel
    reader allows them. When the file's first bytes show one, the padded read is not tried."""
    caplog.set_level(logging.INFO, logger="apps.etl.pipeline.csv_reader")
    result = run(_big_file(tmp_path, multiline_at=multiline_at, bad_rows=False), tmp_path)

    con = result["con"]
    assert _reads(caplog) == [f"CSV read {expected}"]
    assert result["extracted"].bad_count == 0
    assert rows(con, "SELECT count(*), count(*) FILTER (WHERE CAST(order_id AS BIGINT) <> source_row) FROM clean") == [
        (200_000, 0)
    ]
    assert rows(con, f"SELECT product_name FROM clean WHERE source_row = {multiline_at + 1}") == [("TWO LINES",)]


def test_an_unclosed_quote_beside_a_quoted_newline_is_read_as_before(tmp_path, caplog):
    """The strict reader refuses a quote that never closes; the serial reader reads the rest
    of the file into that cell, and the record, short of fields, is refused as before."""
    caplog.set_level(logging.INFO, logger="apps.etl.pipeline.csv_reader")
    text = HEADER + '\n1,A,"TWO\nLINES",6,19/04/2011 08:26,2.55,France\n2,B,"OPEN,6,19/04/2011 08:26,2.55,France\n'
    result = run(_write(tmp_path, text), tmp_path)

    assert _reads(caplog) == ["CSV read serially (refused read in parallel, strictly)"]
    assert [(b.source_row, b.reason) for b in result["extracted"].bad_records] == [
        (3, "has fewer fields than the header's 7")
    ]
    assert rows(result["con"], "SELECT source_row, product_name FROM clean") == [(2, "TWO LINES")]


def test_rows_with_too_many_or_too_few_fields_are_refused_with_the_reason(tmp_path):
    text = "\n".join([HEADER, LINES[0], "536367,1,2,3", LINES[1] + ",extra"]) + "\n"
    result = run(_write(tmp_path, text), tmp_path)

    extracted = result["extracted"]
    assert extracted.rows_read == 3
    assert extracted.bad_count == 2
    assert [(b.source_row, b.reason) for b in extracted.bad_records] == [
        (3, "has fewer fields than the header's 7"),
        (4, "has more fields than the header's 7"),
    ]


def test_decimal_commas_and_thousands_separators_are_decided_per_column(tmp_path):
    text = (
        "InvoiceNo;StockCode;Quantity;InvoiceDate;UnitPrice\n"
        "1;A;1 200;2011-04-19;1 234,56\n"
        "2;B;3;2011-04-19;1.234,5\n"
        "3;C;4;2011-04-19;2,55\n"
    )
    result = run(_write(tmp_path, text), tmp_path)

    assert result["checked"].number_notes["unit_price"].startswith("decimal comma")
    assert rows(result["con"], "SELECT quantity, unit_price FROM clean ORDER BY source_row") == [
        (1200, Decimal("1234.56")),
        (3, Decimal("1234.5")),
        (4, Decimal("2.55")),
    ]


def test_thousands_commas_with_a_decimal_point_read_as_english_numbers(tmp_path):
    text = 'InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice\n1,A,2,2011-04-19,"1,234.56"\n2,B,3,2011-04-19,0.5\n'
    result = run(_write(tmp_path, text), tmp_path)

    assert rows(result["con"], "SELECT unit_price FROM clean ORDER BY source_row") == [
        (Decimal("1234.56"),),
        (Decimal("0.5"),),
    ]


def test_a_fraction_in_a_whole_number_column_is_refused_not_rounded(tmp_path):
    text = "InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice\n1,A,2.5,2011-04-19,1\n2,B,3.0,2011-04-19,1\n"
    result = run(_write(tmp_path, text), tmp_path)

    assert result["checked"].errors_by_reason == {"cannot be read as a whole number": 1}
    assert rows(result["con"], "SELECT quantity FROM clean") == [(3,)]


def test_bom_alone_is_recognised(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes(codecs.BOM_UTF8 + ("\n".join([HEADER, LINES[0]])).encode())
    result = run(path, tmp_path)

    assert result["mapped"].mapping["order_id"] == "InvoiceNo"
    assert rows(result["con"], "SELECT order_date FROM clean") == [(datetime(2011, 4, 19, 8, 26),)]


def test_a_column_its_values_leave_open_follows_the_files_other_numbers(tmp_path):
    text = "InvoiceNo;StockCode;Quantity;InvoiceDate;UnitPrice\n1;A;1.200;2011-04-19;2,55\n2;B;3;2011-04-19;1,5\n"
    result = run(_write(tmp_path, text), tmp_path)

    assert result["checked"].number_notes["quantity"].startswith("decimal comma, as the file's other numbers")
    assert rows(result["con"], "SELECT quantity, unit_price FROM clean ORDER BY source_row") == [
        (1200, Decimal("2.55")),
        (3, Decimal("1.5")),
    ]
