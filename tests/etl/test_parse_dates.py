"""Dates: ISO, month-first, day-first, 2- or 4-digit years, with or without time, serials."""

from datetime import datetime

import pytest

from tests.etl.stages import rows, run

HEADER = "InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice\n"


def _dates(tmp_path, values: list[str], *, region_order="DMY"):
    text = HEADER + "".join(f"{i},A{i},1,{v},1.5\n" for i, v in enumerate(values))
    path = tmp_path / "dates.csv"
    path.write_text(text)
    result = run(path, tmp_path, region_order=region_order)
    got = rows(result["con"], "SELECT order_date FROM clean ORDER BY source_row")
    return [g[0] for g in got], result["checked"]


def test_a_day_above_twelve_decides_day_first_whatever_the_region(tmp_path):
    dates, checked = _dates(tmp_path, ["19/4/2011 16:19", "1/12/2010 8:26"], region_order="MDY")

    assert checked.date_order == "DMY"
    assert "decided by the file's values" in checked.date_order_note
    assert dates == [datetime(2011, 4, 19, 16, 19), datetime(2010, 12, 1, 8, 26)]


def test_a_day_above_twelve_in_second_place_decides_month_first(tmp_path):
    dates, checked = _dates(tmp_path, ["4/19/2011 16:19", "12/1/2010 8:26"], region_order="DMY")

    assert checked.date_order == "MDY"
    assert dates == [datetime(2011, 4, 19, 16, 19), datetime(2010, 12, 1, 8, 26)]


def test_ambiguous_dates_follow_the_region_and_say_so(tmp_path):
    dates, checked = _dates(tmp_path, ["1/12/2010 8:26", "2/12/2010"], region_order="DMY")

    assert checked.date_order == "DMY"
    assert checked.date_order_note.startswith("ambiguous")
    assert dates == [datetime(2010, 12, 1, 8, 26), datetime(2010, 12, 2)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2011-04-19", datetime(2011, 4, 19)),
        ("2011-04-19 16:19:05", datetime(2011, 4, 19, 16, 19, 5)),
        ("2011-04-19T16:19:05", datetime(2011, 4, 19, 16, 19, 5)),
        ("19-04-2011 16:19", datetime(2011, 4, 19, 16, 19)),
        ("19.04.11", datetime(2011, 4, 19)),
        ("19/4/11 9:05", datetime(2011, 4, 19, 9, 5)),
        ("40513", datetime(2010, 12, 1)),
        ("40513.5", datetime(2010, 12, 1, 12, 0)),
    ],
)
def test_each_date_form_reads(tmp_path, text, expected):
    dates, checked = _dates(tmp_path, [text, "19/4/2011"])

    assert checked.rows_rejected == 0
    assert dates[0] == expected


def test_an_unreadable_date_is_refused_with_the_reason(tmp_path):
    dates, checked = _dates(tmp_path, ["19/4/2011", "someday", "31/02/2011"])

    assert dates == [datetime(2011, 4, 19)]
    assert checked.errors_by_reason == {"unreadable date": 2}


def test_the_lead_format_is_the_one_most_values_read_with_not_the_first_values(tmp_path):
    from apps.etl.pipeline.dates import lead_date_format

    values = ["2010-12-01", *[f"12/{d}/2010 8:26" for d in range(1, 29)]]
    dates, _ = _dates(tmp_path, values, region_order="MDY")
    con = run(tmp_path / "dates.csv", tmp_path, work_name="again")["con"]

    assert lead_date_format(con, "mapped", '"order_date"', "MDY") == "%m/%d/%Y %H:%M"
    # Day first, 12 of the values read (12/1 to 12/12), the ISO one alone reads the other way.
    assert lead_date_format(con, "mapped", '"order_date"', "DMY") == "%d/%m/%Y %H:%M"
    assert dates[0] == datetime(2010, 12, 1) and dates[-1] == datetime(2010, 12, 28, 8, 26)
