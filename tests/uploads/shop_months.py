"""Real shop histories for the plausibility tests: a real file of tests/data split by month into
one CSV per month (the uploads a shop would make), and the faults injected into a month's file.

Rows are parsed with the csv module and written back with the same header, so every value is
the real file's except the ones a fault changes."""

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from tests.conftest import TEST_DATA


@dataclass(frozen=True)
class ShopFile:
    """A real file and how to read its columns (the headers the demo schema maps)."""

    path: Path
    shop: str
    order: str  # order id column
    date: str
    date_format: str
    price: str
    quantity: str
    currency: str  # a currency that is not the shop's, for the "another currency" fault
    keep: Callable[[dict], bool] = lambda row: True


# Three real shops: the UK rows of a 1,500-line slice of the Online Retail sample (about 100
# lines a month), the first 300 lines of the same sample (about 20 lines a month, all
# countries), and 900 lines of sales_data_sample (29 months of 10 to 130 lines, with its
# real November peaks).
SHOPS = {
    "UK-LON": ShopFile(
        TEST_DATA / "online_retail_sample_vikash_1500.csv", "UK-LON", "InvoiceNo", "InvoiceDate", "%d-%m-%Y %H:%M",
        "UnitPrice", "Quantity", "EUR", keep=lambda row: row["Country"] == "United Kingdom",
    ),
    "UK-MAN": ShopFile(
        TEST_DATA / "online_retail_sample_vikash_head.csv", "UK-MAN", "InvoiceNo", "InvoiceDate", "%d-%m-%Y %H:%M",
        "UnitPrice", "Quantity", "USD",
    ),
    "US-NYC": ShopFile(
        TEST_DATA / "sales_data_sample_900.csv", "US-NYC", "ORDERNUMBER", "ORDERDATE", "%m/%d/%Y %H:%M",
        "PRICEEACH", "QUANTITYORDERED", "EUR",
    ),
}  # fmt: skip


@dataclass(frozen=True)
class Month:
    year: int
    month: int
    header: list[str]
    rows: list[dict]

    @property
    def label(self) -> str:
        return f"{self.year}-{self.month:02d}"


def months_of(shop: ShopFile) -> list[Month]:
    """The shop file's rows split by the month of their date, oldest first."""
    text = shop.path.read_text(encoding="utf-8-sig").lstrip("\r\n")
    reader = csv.DictReader(io.StringIO(text))
    by_month: dict[tuple[int, int], list[dict]] = {}
    for row in reader:
        if shop.keep(row):
            when = datetime.strptime(row[shop.date], shop.date_format)
            by_month.setdefault((when.year, when.month), []).append(row)
    return [Month(y, m, list(reader.fieldnames), by_month[(y, m)]) for y, m in sorted(by_month)]


def csv_bytes(header: list[str], rows: list[dict]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def _scaled(rows: list[dict], column: str, factor: Decimal) -> list[dict]:
    return [{**row, column: str((Decimal(row[column]) * factor).normalize())} for row in rows]


def _years_shifted(shop: ShopFile, rows: list[dict], years: int) -> list[dict]:
    def shift(text: str) -> str:
        when = datetime.strptime(text, shop.date_format)
        try:
            moved = when.replace(year=when.year + years)
        except ValueError:  # 29 February
            moved = when.replace(year=when.year + years, day=28)
        return moved.strftime(shop.date_format)

    return [{**row, shop.date: shift(row[shop.date])} for row in rows]


def fault(kind: str, shop: ShopFile, month: Month) -> bytes:
    """The month's file with one fault injected."""
    rows, header = month.rows, month.header
    if kind == "file_repeated_10x":  # the export appended ten times over
        return csv_bytes(header, rows * 10)
    if kind == "lines_10x":  # ten times the lines, each a distinct order line
        return csv_bytes(header, [{**r, shop.order: f"{r[shop.order]}{k}"} for k in range(10) for r in rows])
    if kind == "prices_x100":  # cents read as units
        return csv_bytes(header, _scaled(rows, shop.price, Decimal(100)))
    if kind == "prices_div100":
        return csv_bytes(header, _scaled(rows, shop.price, Decimal("0.01")))
    if kind == "quantities_x10":  # totals ten times the usual
        return csv_bytes(header, [{**r, shop.quantity: str(int(r[shop.quantity]) * 10)} for r in rows])
    if kind == "dates_plus_1_year":
        return csv_bytes(header, _years_shifted(shop, rows, 1))
    if kind == "dates_minus_1_year":
        return csv_bytes(header, _years_shifted(shop, rows, -1))
    if kind == "another_currency":  # a currency column that says another currency
        return csv_bytes([*header, "Currency"], [{**r, "Currency": shop.currency} for r in rows])
    raise ValueError(kind)


FAULTS = (
    "file_repeated_10x",
    "lines_10x",
    "prices_x100",
    "prices_div100",
    "quantities_x10",
    "dates_plus_1_year",
    "dates_minus_1_year",
    "another_currency",
)
