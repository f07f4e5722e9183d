"""Copies of one real file that hold the same sales in other bytes: a byte-order mark,
two-digit years, ISO dates, a workbook (typed cells, as a spreadsheet saves them), and
slices of it (a week's file and its days' files)."""

import csv
import io
import re
from datetime import datetime
from pathlib import Path

from openpyxl import Workbook

BOM = b"\xef\xbb\xbf"
DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4}) (\d{1,2}):(\d{2})$")


def rows_of(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(newline="", encoding="utf-8-sig") as fh:
        found = list(csv.reader(fh))
    return found[0], found[1:]


def csv_bytes(header: list[str], rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([header, *rows])
    return out.getvalue().encode()


def with_dates(header: list[str], rows: list[list[str]], style) -> list[list[str]]:
    col = header.index("InvoiceDate")
    changed = []
    for row in rows:
        month, day, year, hour, minute = map(int, DATE.match(row[col]).groups())
        row = list(row)
        row[col] = style(datetime(year, month, day, hour, minute))
        changed.append(row)
    return changed


def two_digit_years(when: datetime) -> str:
    return f"{when.month}/{when.day}/{when:%y} {when.hour}:{when:%M}"


def iso(when: datetime) -> str:
    return f"{when:%Y-%m-%d %H:%M:%S}"


def workbook(header: list[str], rows: list[list[str]], path: Path) -> Path:
    """The rows saved as a spreadsheet would save them: numbers as numbers, dates as dates."""
    book = Workbook()
    sheet = book.active
    sheet.title = "Sales"
    sheet.append(header)
    date_col = header.index("InvoiceDate")
    for row in rows:
        cells: list = []
        for i, value in enumerate(row):
            if i == date_col:
                month, day, year, hour, minute = map(int, DATE.match(value).groups())
                cells.append(datetime(year, month, day, hour, minute))
            elif re.fullmatch(r"-?\d+", value):
                cells.append(int(value))
            elif re.fullmatch(r"-?\d+\.\d+", value):
                cells.append(float(value))
            else:
                cells.append(value)
        sheet.append(cells)
    book.save(path)
    return path


def by_day(header: list[str], rows: list[list[str]]) -> dict[str, list[list[str]]]:
    """The rows grouped by their order day (as a shop's daily exports would hold them)."""
    col = header.index("InvoiceDate")
    days: dict[str, list[list[str]]] = {}
    for row in rows:
        days.setdefault(row[col].split(" ")[0], []).append(row)
    return days
