"""Workbooks: the data sheet is found by its header, summaries ignored, no phantom rows."""

from datetime import datetime

import openpyxl
import pytest
from openpyxl.styles import Font

from apps.etl.pipeline.extracted import ExtractError
from tests.etl.stages import rows, run

HEADER = ["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "Country"]


def _workbook(tmp_path, *, huge_dimension=False):
    wb = openpyxl.Workbook()
    summary = wb.active
    summary.title = "Pivot"
    summary.append(["Country", "Total"])
    summary.append(["France", 123.4])
    data = wb.create_sheet("Orders 2011")
    data.append(["Orders exported from the till"])
    data.append([])
    data.append(HEADER)
    data.append(["536365", "85123A", "WHITE HEART", 6, datetime(2010, 12, 1, 8, 26), 2.55, "France"])
    data.append(["536366", "71053", "LANTERN", 2, 40513.5, 3.39, "France"])  # a serial, not a date cell
    data.append(["", "", "Total", "=SUM(D4:D5)", None, None, None])  # a formula row
    if huge_dimension:
        # A formatted cell on the last row makes the sheet claim 1,048,576 rows.
        data.cell(row=1048576, column=1).font = Font(bold=True)
    other = wb.create_sheet("Notes")
    other.append(["Nothing here"])
    path = tmp_path / "book.xlsx"
    wb.save(path)
    return path


def test_the_data_sheet_is_found_by_its_header_and_the_choice_reported(tmp_path):
    result = run(_workbook(tmp_path), tmp_path)

    details = result["extracted"].details
    assert details["sheet"] == "Orders 2011"
    assert details["header_row"] == "3"
    assert details["sheets_ignored"] == "Pivot, Notes"
    assert rows(result["con"], "SELECT source_row, order_date FROM clean ORDER BY 1") == [
        (4, datetime(2010, 12, 1, 8, 26)),
        (5, datetime(2010, 12, 1, 12, 0)),
    ]


def test_a_totals_row_is_dropped_and_counted_not_refused_nor_loaded(tmp_path):
    result = run(_workbook(tmp_path), tmp_path)

    assert result["run"].totals_dropped == 1
    assert result["checked"].rows_rejected == 0
    assert rows(result["con"], "SELECT source_row FROM clean ORDER BY 1") == [(4,), (5,)]


def test_a_sheet_claiming_a_million_rows_reads_only_its_real_rows(tmp_path):
    result = run(_workbook(tmp_path, huge_dimension=True), tmp_path)

    assert result["extracted"].rows_read == 3


def test_a_named_sheet_is_read_even_when_another_matches_better(tmp_path):
    result = run(_workbook(tmp_path), tmp_path, sheet="Orders 2011")
    assert result["extracted"].details["sheet"] == "Orders 2011"

    with pytest.raises(ExtractError, match="no sheet 'Sales'"):
        run(_workbook(tmp_path), tmp_path, sheet="Sales")


def test_a_workbook_without_a_data_sheet_is_refused_with_its_sheet_names(tmp_path):
    wb = openpyxl.Workbook()
    wb.active.append(["Country", "Total"])
    path = tmp_path / "pivot.xlsx"
    wb.save(path)

    with pytest.raises(ExtractError, match="No sheet has a header row"):
        run(path, tmp_path)


def test_the_real_sfc_workbook_reads_excel_dates_and_float_noise(tmp_path, sample):
    result = run(sample("online_retail_sample_sfc.xlsx"), tmp_path)

    con = result["con"]
    assert result["extracted"].rows_read == 232
    assert result["checked"].rows_rejected == 0
    assert rows(con, "SELECT order_date, unit_price FROM clean WHERE source_row = 2") == [
        (datetime(2010, 12, 1, 8, 26), __import__("decimal").Decimal("2.55"))
    ]


def test_rows_keep_their_sheet_numbers_when_the_sheet_starts_lower_down(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    for col, value in enumerate(HEADER, start=2):  # from column B, row 4
        ws.cell(row=4, column=col, value=value)
    row = ["536365", "85123A", "WHITE HEART", 6, datetime(2010, 12, 1, 8, 26), 2.55, "France"]
    for col, value in enumerate(row, start=2):
        ws.cell(row=5, column=col, value=value)
        ws.cell(row=7, column=col, value=value if col != 4 else "OTHER")
    path = tmp_path / "low.xlsx"
    wb.save(path)

    result = run(path, tmp_path)

    assert result["extracted"].details["header_row"] == "4"
    assert rows(result["con"], "SELECT source_row, product_name FROM clean ORDER BY 1") == [
        (5, "WHITE HEART"),
        (7, "OTHER"),
    ]


def test_a_text_cell_past_the_first_thousand_rows_of_a_number_column_is_read_as_written(tmp_path):
    # fastexcel guesses column types from the first 1,000 rows; a later cell of another
    # type would come back empty from a typed read.
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(HEADER)
    for i in range(1500):
        quantity = "N/A" if i == 1400 else i % 9 + 1
        when = "2011-02-03 10:00" if i == 1401 else datetime(2010, 12, 1, 8, 26)
        ws.append([str(536365 + i), "85123A", "WHITE HEART", quantity, when, 2.55, "France"])
    path = tmp_path / "late.xlsx"
    wb.save(path)

    result = run(path, tmp_path)

    con = result["con"]
    assert rows(con, 'SELECT "Quantity", "InvoiceDate" FROM raw WHERE source_row IN (1402, 1403) ORDER BY 1') == [
        ("7", "2011-02-03 10:00"),
        ("N/A", "2010-12-01 08:26:00"),
    ]


def test_numbers_and_dates_are_read_as_the_text_the_sheet_shows(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append([*HEADER, "Tiny"])
    ws.append(["536365", 4006381333931, "A", 6.0, datetime(2010, 12, 1, 8, 26), 2.5499999999999998, "France", 1e-7])
    ws.append(["536366", 85123, "B", -2, datetime(2010, 12, 1, 8, 26, 1, 500000), 0.3, "France", 0.5])
    path = tmp_path / "cells.xlsx"
    wb.save(path)

    result = run(path, tmp_path)

    assert rows(result["con"], 'SELECT "StockCode", "Quantity", "InvoiceDate", "UnitPrice", "Tiny" FROM raw') == [
        ("4006381333931", "6", "2010-12-01 08:26:00", "2.55", "0.0000001"),
        ("85123", "-2", "2010-12-01 08:26:01.500", "0.3", "0.5"),
    ]


def test_a_column_empty_in_the_first_thousand_rows_is_read_without_a_warning_in_the_log(tmp_path, caplog):
    # fastexcel guesses types from the first 1,000 rows and logged a warning for such a
    # column ("Could not determine dtype"); the column is read right, so the log says nothing.
    wb = openpyxl.Workbook()
    sheet = wb.active
    sheet.append([*HEADER, "CustomerID"])
    for i in range(1200):
        customer = 17000 + i if i >= 1100 else None
        sheet.append([str(536365 + i), "85123A", "MUG", 1, datetime(2011, 4, 1, 9, 0), 2.55, "France", customer])
    path = tmp_path / "late.xlsx"
    wb.save(path)

    result = run(path, tmp_path)

    customers = rows(result["con"], "SELECT customer_id FROM clean WHERE customer_id IS NOT NULL ORDER BY 1")
    assert customers[0] == ("18100",) and len(customers) == 100
    assert not [r for r in caplog.records if r.name.startswith("fastexcel")], caplog.records
