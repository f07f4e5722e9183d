"""Synthetic sales files shaped like UCI Online Retail, for the ETL benchmark.

Vectorised with numpy + pyarrow so that 5M rows take seconds, not minutes. Generated files
are cached under the given folder (never committed).
"""

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

HEADER = ["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID", "Country"]
COUNTRIES = ["United Kingdom", "France", "Germany", "EIRE", "Spain", "Netherlands", "Australia", "USA"]
WORDS = ["WHITE", "HANGING", "HEART", "T-LIGHT", "HOLDER", "LUNCH", "BAG", "RED", "RETROSPOT", "JUMBO", "SET", "OF"]


def sales_table(rows: int, *, seed: int = 7, stray_spaces: bool = False) -> pa.Table:
    """Online Retail's columns and value shapes: month-first dates, ~2% cancellations.

    `stray_spaces`: also its untidy text, as in the UCI file (and the samples in ../shared):
    a fifth of the descriptions end with a space, one in 25 has two spaces inside."""
    rng = np.random.default_rng(seed)
    invoice = 536365 + np.arange(rows) // 20
    cancelled = rng.random(rows) < 0.02
    invoice_text = pc.binary_join_element_wise(
        pa.array(np.where(cancelled, "C", "")), pa.array(invoice.astype(str)), ""
    )
    stock = rng.integers(10000, 23999, rows)
    words = np.array(WORDS)
    description = pc.binary_join_element_wise(
        pa.array(words[rng.integers(0, len(WORDS), rows)]), pa.array(words[rng.integers(0, len(WORDS), rows)]), " "
    )
    if stray_spaces:
        untidy = np.random.default_rng(seed + 1).random(rows)  # the other columns as without
        description = pc.if_else(pa.array(untidy < 0.04), pc.replace_substring(description, " ", "  "), description)
        trailing = pa.array((untidy >= 0.04) & (untidy < 0.24))
        description = pc.if_else(trailing, pc.binary_join_element_wise(description, pa.scalar(" "), ""), description)
    quantity = rng.integers(1, 48, rows) * np.where(cancelled, -1, 1)
    minutes = np.datetime64("2010-12-01T08:00") + (np.arange(rows) * 373_000 // max(rows, 1)).astype("timedelta64[m]")
    days = minutes.astype("datetime64[D]")
    month = (days.astype("datetime64[M]").astype(int) % 12) + 1
    day = (days - days.astype("datetime64[M]")).astype(int) + 1
    year = days.astype("datetime64[Y]").astype(int) + 1970
    hm = (minutes - days).astype(int)
    date_text = pa.array(
        np.char.add(
            np.char.add(np.char.add(month.astype(str), "/"), np.char.add(day.astype(str), "/")),
            np.char.add(np.char.add(year.astype(str), " "), np.char.add((hm // 60).astype(str), ":")),
        )
    )
    date_text = pc.binary_join_element_wise(date_text, pa.array(np.char.zfill((hm % 60).astype(str), 2)), "")
    price = np.round(rng.integers(29, 1995, rows) / 100, 2)
    customer = rng.integers(12346, 18287, rows).astype(float)
    customer[rng.random(rows) < 0.2] = np.nan
    country = np.array(COUNTRIES)[np.minimum(rng.geometric(0.6, rows) - 1, len(COUNTRIES) - 1)]
    return pa.table(
        [
            invoice_text,
            pa.array(stock.astype(str)),
            description,
            pa.array(quantity),
            date_text,
            pa.array(price),
            pa.array(customer, from_pandas=True).cast(pa.int64()),
            pa.array(country),
        ],
        names=HEADER,
    )


def sales_csv(folder: Path, rows: int, *, stray_spaces: bool = False) -> Path:
    path = Path(folder) / f"online_retail_{rows}{'_stray_spaces' if stray_spaces else ''}.csv"
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        table = sales_table(rows, stray_spaces=stray_spaces)
        pacsv.write_csv(table, tmp, write_options=pacsv.WriteOptions(quoting_style="none"))
        tmp.replace(path)
    return path


def sales_xlsx(folder: Path, rows: int) -> Path:
    """The same shape as a workbook with real date cells, written by xlsxwriter in
    constant-memory mode (one row in memory at a time)."""
    import xlsxwriter

    path = Path(folder) / f"online_retail_{rows}.xlsx"
    if path.exists():
        return path
    table = sales_table(rows)
    tmp = path.with_suffix(".tmp.xlsx")
    book = xlsxwriter.Workbook(tmp, {"constant_memory": True})
    sheet = book.add_worksheet("Online Retail")
    date_format = book.add_format({"num_format": "yyyy-mm-dd hh:mm"})
    sheet.write_row(0, 0, HEADER)
    serials = _excel_serials(rows)
    columns = [c.to_pylist() for c in table.columns]
    for index in range(rows):
        row = index + 1
        for col, values in enumerate(columns):
            value = values[index]
            if col == 4:
                sheet.write_number(row, col, serials[index], date_format)
            elif value is not None:
                sheet.write(row, col, value)
    book.close()
    tmp.replace(path)
    return path


def _excel_serials(rows: int) -> list[float]:
    minutes = np.arange(rows) * 373_000 // max(rows, 1)
    start = (np.datetime64("2010-12-01T08:00") - np.datetime64("1899-12-30T00:00")).astype("timedelta64[m]").astype(int)
    return ((start + minutes) / 1440.0).tolist()


def sales_csv_with_rejects(folder: Path, rows: int, *, seed: int = 11) -> Path:
    """The generated file with a tenth of its rows refused, as real exports have them: an
    unknown country (4%), a zero quantity (3%), no product code (3%)."""
    path = Path(folder) / f"online_retail_{rows}_10pct_rejects.csv"
    if path.exists():
        return path
    table = sales_table(rows)
    draw = np.random.default_rng(seed).random(rows)
    changes = {
        "Country": pc.if_else(pa.array(draw < 0.04), pa.scalar("Narnia"), table["Country"]),
        "Quantity": pc.if_else(pa.array((draw >= 0.04) & (draw < 0.07)), pa.scalar(0, pa.int64()), table["Quantity"]),
        "StockCode": pc.if_else(pa.array((draw >= 0.07) & (draw < 0.10)), pa.scalar(""), table["StockCode"]),
    }
    for name, column in changes.items():
        table = table.set_column(table.column_names.index(name), name, column)
    tmp = path.with_suffix(".tmp")
    pacsv.write_csv(table, tmp, write_options=pacsv.WriteOptions(quoting_style="none"))
    tmp.replace(path)
    return path
