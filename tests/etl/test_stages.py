"""Each pure ETL stage on the real sample files, plus the small cases the samples lack."""

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest

from apps.etl.pipeline.clean import drop_duplicates, normalise
from apps.etl.pipeline.extract import ExtractError, extract
from apps.etl.pipeline.mapping import map_columns
from apps.etl.pipeline.spec import UploadContext
from apps.etl.pipeline.transform import MissingFxRate, to_fact
from apps.etl.pipeline.validate import validate
from apps.uploads.models import Upload
from apps.warehouse.fact import FACT_SCHEMA
from apps.warehouse.services import warehouse
from tests.factories import upload_loaded

HEADER = "InvoiceNo,Description,Quantity,InvoiceDate,UnitPrice,Country"


def _extract(path: Path):
    return extract(path, file_name=path.name)


def _write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def _file_lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


# -- extract ------------------------------------------------------------------------------


def test_header_is_found_below_the_blank_first_line(sample):
    extracted = _extract(sample("sales_data_sample_head.csv"))

    assert extracted.details["header_row"] == "2"
    assert extracted.headers[:3] == ["ORDERNUMBER", "QUANTITYORDERED", "PRICEEACH"]
    assert extracted.rows_read == 60
    assert extracted.bad_records == []


@pytest.mark.parametrize(
    ("name", "first_row", "key_columns"),
    [
        ("sales_data_sample_head.csv", 3, ["ORDERNUMBER", "QUANTITYORDERED", "PRICEEACH"]),
        ("bernasiakk_usa.csv", 2, ["InvoiceNo", "StockCode"]),
        ("online_retail_sample_sfc.csv", 2, ["INVOICE", "STOCKCODE"]),
    ],
)
def test_source_row_is_the_line_the_record_is_on_in_the_file(sample, name, first_row, key_columns):
    path = sample(name)
    lines = _file_lines(path)
    rows = _extract(path).table.to_pylist()

    assert [r["source_row"] for r in rows] == list(range(first_row, len(lines) + 1))
    for row in rows:
        line = lines[row["source_row"] - 1]
        assert line.startswith(",".join(row[c] for c in key_columns) + ","), (row["source_row"], line)


def test_excel_workbook_is_read_with_fastexcel_like_its_csv_twin(sample):
    from_excel = _extract(sample("online_retail_sample_sfc.xlsx"))
    from_csv = _extract(sample("online_retail_sample_sfc.csv"))

    assert from_excel.details == {"sheet": "Year 2010-2011"}
    assert from_excel.headers == from_csv.headers
    assert from_excel.rows_read == from_csv.rows_read == 232
    assert from_excel.table["source_row"].to_pylist() == list(range(2, 234))
    assert from_excel.table["INVOICE"].to_pylist() == from_csv.table["INVOICE"].to_pylist()
    assert from_excel.table["QUANTITY"].to_pylist() == from_csv.table["QUANTITY"].to_pylist()
    # Excel keeps real dates; they come out as ISO text for the validate stage to read.
    assert from_excel.table["INVOICEDATE"][0].as_py() == "2010-12-01 08:26:00"
    assert {type(v) for v in from_excel.table["CUSTOMERID"].to_pylist()} == {str}


@pytest.mark.parametrize(
    ("encoding", "detected"),
    [("utf-8", "utf-8"), ("cp1252", "cp1252"), ("utf-8-sig", "utf-8-sig"), ("utf-16", "utf-16")],
)
def test_csv_text_is_decoded_in_its_own_encoding(tmp_path, encoding, detected):
    text = f"{HEADER}\n536365,Café crème £5 jug,6,1/12/2010 8:26,2.55,France\n"
    extracted = _extract(_write(tmp_path, "sales.csv", text, encoding))

    assert extracted.details["encoding"] == detected
    assert extracted.headers == HEADER.split(",")  # no byte-order mark left on the first header
    assert extracted.table["Description"].to_pylist() == ["Café crème £5 jug"]
    assert extracted.table["source_row"].to_pylist() == [2]


@pytest.mark.parametrize(("delimiter", "name"), [(";", "sales.csv"), ("\t", "sales.tsv"), ("\t", "sales.txt")])
def test_csv_delimiter_is_detected_and_commas_inside_cells_survive(tmp_path, delimiter, name):
    text = (
        "\n".join(
            delimiter.join(cells)
            for cells in [
                HEADER.split(","),
                ["536365", "Lantern, white", "6", "1/12/2010 8:26", "3,39", "France"],
                ["536366", "Hand warmer", "2", "1/12/2010 8:28", "1,85", "France"],
            ]
        )
        + "\n"
    )
    extracted = _extract(_write(tmp_path, name, text))

    assert extracted.details["delimiter"] == delimiter
    assert extracted.table["Description"].to_pylist() == ["Lantern, white", "Hand warmer"]
    assert extracted.table["UnitPrice"].to_pylist() == ["3,39", "1,85"]


def test_quoted_newline_stays_in_its_cell_and_rows_are_numbered_as_a_spreadsheet_shows_them(tmp_path):
    text = (
        f"{HEADER}\n"
        '536365,"Heart holder\nwith a second line",6,1/12/2010 8:26,2.55,France\n'
        "536366,Hand warmer,2,1/12/2010 8:28,1.85,France\n"
    )
    extracted = _extract(_write(tmp_path, "sales.csv", text))

    assert extracted.rows_read == 2
    assert extracted.table["Description"].to_pylist() == ["Heart holder\nwith a second line", "Hand warmer"]
    assert extracted.table["source_row"].to_pylist() == [2, 3]


def test_blank_lines_between_records_are_not_records_and_keep_later_numbers(tmp_path):
    # An empty line, and the empty row a spreadsheet exports as bare delimiters.
    text = f"{HEADER}\n536365,Jug,6,1/12/2010 8:26,2.55,France\n\n, ,,,,\n536366,Mug,2,1/12/2010 8:28,1.85,France\n"
    extracted = _extract(_write(tmp_path, "sales.csv", text))

    assert extracted.rows_read == 2
    assert extracted.bad_records == []
    assert extracted.table["source_row"].to_pylist() == [2, 5]


def test_row_with_too_few_fields_is_a_bad_record_and_later_rows_keep_their_own_numbers(tmp_path):
    text = (
        f"{HEADER}\n"
        "536365,Jug,6,1/12/2010 8:26,2.55,France\n"
        "536366,Mug,2\n"
        "536367,Tin,3,1/12/2010 8:30,4.25,France\n"
        "536368,Box,1,1/12/2010 8:31,1.00,France\n"
    )
    extracted = _extract(_write(tmp_path, "sales.csv", text))

    assert extracted.rows_read == 4
    assert [(b.source_row, b.text) for b in extracted.bad_records] == [(3, "536366,Mug,2")]
    assert "has 3 fields where the header has 6" in extracted.bad_records[0].reason
    rows = extracted.table.to_pylist()
    assert [(r["InvoiceNo"], r["source_row"]) for r in rows] == [("536365", 2), ("536367", 4), ("536368", 5)]


def test_repeated_and_empty_headers_get_unique_column_names(tmp_path):
    extracted = _extract(_write(tmp_path, "sales.csv", "Qty,Qty,,Price\n1,2,3,4\n"))

    assert extracted.headers == ["Qty", "Qty", "", "Price"]
    assert extracted.table.column_names == ["Qty", "Qty_2", "column_3", "Price", "source_row"]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.csv", b"  \n\n", "empty"),
        ("single.csv", b"just one column\nstill one\n", "No header row"),
        ("sales.pdf", b"%PDF-1.4", "Unsupported file type '.pdf'"),
        ("fake.xlsx", b"not a workbook", "could not be read"),
    ],
)
def test_unreadable_file_is_an_extract_error_with_a_reason(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)

    with pytest.raises(ExtractError, match=message):
        _extract(path)


# -- map ----------------------------------------------------------------------------------


def test_online_retail_upper_case_headers_map_through_the_aliases(sample, spec):
    mapped = map_columns(_extract(sample("online_retail_sample_sfc.csv")).table, spec)

    assert mapped.mapping == {
        "order_id": "INVOICE",
        "product_id": "STOCKCODE",
        "product_name": "DESCRIPTION",
        "quantity": "QUANTITY",
        "order_date": "INVOICEDATE",
        "unit_price": "PRICE",
        "customer_id": "CUSTOMERID",
        "country": "COUNTRY",
    }
    assert mapped.missing_required == ()
    assert mapped.unmapped == ()
    assert mapped.table.column_names == [*mapped.mapping, "source_row"]


def test_sales_data_sample_headers_map_and_the_rest_is_kept_aside(sample, spec):
    mapped = map_columns(_extract(sample("sales_data_sample_head.csv")).table, spec)

    assert mapped.mapping == {
        "order_id": "ORDERNUMBER",
        "quantity": "QUANTITYORDERED",
        "unit_price": "PRICEEACH",
        "order_date": "ORDERDATE",
        "category": "PRODUCTLINE",
        "product_id": "PRODUCTCODE",
        "country": "COUNTRY",
    }
    assert mapped.missing_required == ()
    assert {"SALES", "STATUS", "CUSTOMERNAME", "DEALSIZE"} <= set(mapped.unmapped)
    assert mapped.table["order_id"][0].as_py() == "10107"


def test_headers_match_ignoring_case_spaces_and_punctuation(text_table, spec):
    table = text_table(**{"Invoice No.": ["1"], "order_date": ["x"], "sku": ["A"], "QTY": ["1"], "Unit  Price": ["1"]})

    mapped = map_columns(table, spec)

    assert mapped.mapping == {
        "order_id": "Invoice No.",
        "order_date": "order_date",
        "product_id": "sku",
        "quantity": "QTY",
        "unit_price": "Unit  Price",
    }


def test_second_header_meaning_the_same_field_is_kept_aside(text_table, spec):
    mapped = map_columns(text_table(InvoiceNo=["1"], Invoice=["2"]), spec)

    assert mapped.mapping == {"order_id": "InvoiceNo"}
    assert mapped.unmapped == ("Invoice",)


def test_missing_required_columns_are_named(text_table, spec):
    mapped = map_columns(text_table(Description=["Jug"], Country=["France"]), spec)

    assert mapped.missing_required == ("order_id", "order_date", "product_id", "quantity", "unit_price")


# -- validate -----------------------------------------------------------------------------


def _mapped(sample, spec, name: str) -> pa.Table:
    return map_columns(_extract(sample(name)).table, spec).table


def test_usa_dates_are_read_month_first_because_the_values_say_so(sample, spec):
    checked = validate(_mapped(sample, spec, "bernasiakk_usa.csv"), spec, default_date_order="DMY")

    assert checked.date_order == "MDY"
    assert checked.date_order_note.startswith("decided by the file's values (291 of 291")
    assert checked.errors.num_rows == 0
    assert checked.rows["order_date"][0].as_py() == datetime(2011, 4, 19, 16, 19)


@pytest.mark.parametrize(("default", "first_date"), [("DMY", date(2010, 12, 1)), ("MDY", date(2010, 1, 12))])
def test_ambiguous_dates_fall_back_to_the_region_order_with_a_note(sample, spec, default, first_date):
    checked = validate(_mapped(sample, spec, "online_retail_sample_sfc.csv"), spec, default_date_order=default)

    assert checked.date_order == default
    assert checked.date_order_note == (
        f"ambiguous: every date reads both ways; used the region's usual order ({default})"
    )
    assert checked.rows["order_date"][0].as_py().date() == first_date


def test_iso_dates_from_excel_need_no_order(sample, spec):
    checked = validate(_mapped(sample, spec, "online_retail_sample_sfc.xlsx"), spec, default_date_order="MDY")

    assert checked.date_order_note == "dates are in ISO order (year first)"
    assert checked.rows["order_date"][0].as_py() == datetime(2010, 12, 1, 8, 26)


def _row(**overrides: str) -> dict[str, str]:
    good = {
        "order_id": "536365",
        "order_date": "12/1/2010 8:26",
        "product_id": "85123A",
        "quantity": "6",
        "unit_price": "2.55",
        "country": "United Kingdom",
    }
    return good | overrides


def _rows_table(text_table, rows: list[dict[str, str]]) -> pa.Table:
    return text_table(**{name: [r[name] for r in rows] for name in rows[0]})


BAD_ROWS = [
    # (cells that differ from a good row, column, reason)
    ({"quantity": "two"}, "quantity", "cannot be read as a whole number"),
    ({"unit_price": "2,55"}, "unit_price", "cannot be read as a number"),
    ({"order_date": "not a date"}, "order_date", "cannot be read as a date"),
    ({"order_date": "13/13/2010"}, "order_date", "cannot be read as a date"),
    ({"order_date": "1/1/1800"}, "order_date", "date out of range (1900-2100)"),
    ({"unit_price": "0"}, "unit_price", "price must be above 0 on a sale"),
    ({"unit_price": "-1.50"}, "unit_price", "price must be above 0 on a sale"),
    ({"quantity": "0"}, "quantity", "quantity is zero"),
    ({"country": "Atlantis"}, "country", "unknown country"),
    ({"order_id": "  "}, "order_id", "required value is missing"),
]


@pytest.mark.parametrize(("cells", "column", "reason"), BAD_ROWS, ids=[r[2] + ":" + r[1] for r in BAD_ROWS])
def test_bad_cell_becomes_an_error_row_with_its_file_row_column_value_and_reason(
    text_table, spec, cells, column, reason
):
    table = _rows_table(text_table, [_row(), _row(**cells), _row(order_id="536366")])

    checked = validate(table, spec, default_date_order="MDY")

    assert checked.errors.to_pylist() == [{"source_row": 3, "column": column, "value": cells[column], "reason": reason}]
    assert checked.rows["source_row"].to_pylist() == [2, 4]


def test_a_return_may_carry_a_negative_price_without_error(text_table, spec):
    checked = validate(_rows_table(text_table, [_row(quantity="-3", unit_price="0")]), spec, default_date_order="MDY")

    assert checked.errors.num_rows == 0


def test_a_row_with_two_problems_gets_two_errors_and_is_refused_once(text_table, spec):
    table = _rows_table(text_table, [_row(quantity="x", country="Narnia"), _row()])

    checked = validate(table, spec, default_date_order="MDY")

    assert sorted(checked.errors["column"].to_pylist()) == ["country", "quantity"]
    assert set(checked.errors["source_row"].to_pylist()) == {2}
    assert checked.rows["source_row"].to_pylist() == [3]


def test_fractional_quantity_is_refused_not_rounded(text_table, spec):
    table = _rows_table(text_table, [_row(quantity="2.7"), _row(quantity="6.0")])

    checked = validate(table, spec, default_date_order="MDY")

    assert checked.errors.to_pylist() == [
        {"source_row": 2, "column": "quantity", "value": "2.7", "reason": "cannot be read as a whole number"}
    ]
    assert checked.rows["quantity"].to_pylist() == [6]


def test_text_cells_are_trimmed_and_inner_spaces_collapsed(text_table, spec):
    table = text_table(**{k: [v] for k, v in _row(product_id="  85123A ").items()}, product_name=["WHITE   HEART "])

    checked = validate(table, spec, default_date_order="MDY")

    assert checked.rows["product_name"].to_pylist() == ["WHITE HEART"]
    assert checked.rows["product_id"].to_pylist() == ["85123A"]


# -- clean --------------------------------------------------------------------------------


def test_exact_duplicate_rows_are_dropped_and_counted_keeping_the_first(text_table):
    table = text_table(order_id=["1", "1", "1", "2"], quantity=["5", "5", "6", "5"])

    kept, dropped = drop_duplicates(table)

    assert dropped == 1
    assert kept.to_pylist() == [
        {"order_id": "1", "quantity": "5", "source_row": 2},
        {"order_id": "1", "quantity": "6", "source_row": 4},
        {"order_id": "2", "quantity": "5", "source_row": 5},
    ]


def test_sample_files_have_no_duplicates_to_drop(sample, spec):
    for name in ("bernasiakk_usa.csv", "online_retail_sample_sfc.csv", "sales_data_sample_head.csv"):
        assert drop_duplicates(_mapped(sample, spec, name))[1] == 0, name


def _clean(text_table, spec, rows: list[dict[str, str]], *, default_country: str = "US") -> list[dict]:
    checked = validate(_rows_table(text_table, rows), spec, default_date_order="MDY")
    assert checked.errors.num_rows == 0, checked.errors.to_pylist()
    return normalise(checked.rows, spec, default_country=default_country).to_pylist()


@pytest.mark.parametrize(
    ("written", "code"),
    [("UK", "GB"), ("United Kingdom", "GB"), ("EIRE", "IE"), ("eire", "IE"), ("USA", "US"), ("FR", "FR"), ("", "AU")],
)
def test_country_is_normalised_through_the_aliases_else_the_shop_country(text_table, spec, written, code):
    (row,) = _clean(text_table, spec, [_row(country=written)], default_country="AU")

    assert row["country_code"] == code
    assert "country" not in row


@pytest.mark.parametrize(
    ("order_id", "quantity", "is_return"),
    [("C536379", "-1", True), ("c536380", "-2", True), ("536381", "-4", True), ("536382", "4", False)],
)
def test_cancelled_invoices_and_negative_quantities_are_flagged_as_returns(
    text_table, spec, order_id, quantity, is_return
):
    (row,) = _clean(text_table, spec, [_row(order_id=order_id, quantity=quantity)])

    assert row["is_return"] is is_return


def test_an_order_id_that_merely_starts_with_c_is_not_a_return(text_table, spec):
    (row,) = _clean(text_table, spec, [_row(order_id="CH-1001", quantity="3")])

    assert row["is_return"] is False


def test_the_usa_sample_has_its_returns_flagged(sample, spec):
    checked = validate(_mapped(sample, spec, "bernasiakk_usa.csv"), spec, default_date_order="MDY")

    rows = normalise(checked.rows, spec, default_country="US")

    flagged = [r for r in rows.to_pylist() if r["is_return"]]
    assert len(flagged) == 112
    assert all(r["quantity"] < 0 and r["order_id"].startswith("C") for r in flagged)


@pytest.mark.parametrize(("written", "clean"), [("16764.0", "16764"), ("16764.00", "16764"), ("16764", "16764")])
def test_spreadsheet_customer_ids_lose_their_trailing_zero_decimals(text_table, spec, written, clean):
    (row,) = _clean(text_table, spec, [_row(customer_id=written)])

    assert row["customer_id"] == clean


# -- transform ----------------------------------------------------------------------------

LOADED_AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
UPLOAD_ID = str(uuid.uuid4())


def _context(**changes) -> UploadContext:
    base = {
        "upload_id": UPLOAD_ID,
        "store_id": "UK-LON",
        "country_code": "GB",
        "currency": "GBP",
        "date_order": "DMY",
        "reporting_currency": "USD",
        "fx_rates": (
            ("GBP", date(2000, 1, 1), Decimal("1.27")),
            ("GBP", date(2011, 1, 1), Decimal("1.30")),
            ("EUR", date(2000, 1, 1), Decimal("1.08")),
        ),
    }
    return UploadContext(**(base | changes))


def _fact(text_table, spec, rows: list[dict[str, str]], ctx: UploadContext | None = None) -> pa.Table:
    checked = validate(_rows_table(text_table, rows), spec, default_date_order="MDY")
    assert checked.errors.num_rows == 0, checked.errors.to_pylist()
    clean = normalise(checked.rows, spec, default_country="GB")
    return to_fact(clean, ctx or _context(), loaded_at=LOADED_AT)


def test_revenue_is_quantity_times_price_converted_at_the_rate_in_force_for_the_month(text_table, spec):
    rows = [
        _row(order_date="12/31/2010 10:00", quantity="2", unit_price="2.50", currency="GBP"),
        _row(order_date="3/1/2011 0:00", quantity="2", unit_price="2.50", currency="gbp"),
        _row(order_date="3/1/2011 0:00", quantity="-1", unit_price="4.00", currency="EUR"),
        _row(order_date="3/1/2011 0:00", quantity="3", unit_price="1.10", currency="USD"),
    ]

    fact = _fact(text_table, spec, rows).to_pylist()

    assert [(r["currency"], r["revenue"], r["revenue_reporting"]) for r in fact] == [
        ("GBP", Decimal("5.0000"), Decimal("6.3500")),  # December 2010: the 2000 rate
        ("GBP", Decimal("5.0000"), Decimal("6.5000")),  # March 2011: the January 2011 rate
        ("EUR", Decimal("-4.0000"), Decimal("-4.3200")),
        ("USD", Decimal("3.3000"), Decimal("3.3000")),  # the reporting currency needs no rate
    ]


def test_rows_without_a_currency_take_the_shop_region_currency(text_table, spec):
    (row,) = _fact(text_table, spec, [_row(quantity="1", unit_price="10")]).to_pylist()

    assert row["currency"] == "GBP"
    assert row["revenue_reporting"] == Decimal("12.7000")


def test_missing_rate_stops_the_load_with_a_message_naming_currency_and_month(text_table, spec):
    rows = [
        _row(order_date="12/1/2010 8:26", currency="AUD"),
        _row(order_date="2/1/2011 8:26", currency="AUD"),
        _row(order_date="12/1/2010 8:26", currency="GBP"),
    ]

    with pytest.raises(MissingFxRate) as raised:
        _fact(text_table, spec, rows)

    assert str(raised.value) == (
        "No exchange rate to USD for AUD from 2010-12. An admin can add it under FX rates; then reprocess this upload."
    )


def test_a_rate_set_after_the_order_month_does_not_apply(text_table, spec):
    ctx = _context(fx_rates=(("GBP", date(2011, 1, 1), Decimal("1.30")),))

    with pytest.raises(MissingFxRate, match="GBP from 2010-12"):
        _fact(text_table, spec, [_row(order_date="12/1/2010 8:26")], ctx)


def test_fact_rows_carry_lineage_and_the_fact_table_schema(text_table, spec):
    rows = [
        _row(order_date="12/1/2010 8:26", customer_id="17850.0"),
        _row(order_id="9", order_date="12/2/2010", customer_id=""),
    ]

    fact = _fact(text_table, spec, rows)

    assert fact.schema == FACT_SCHEMA
    first, second = fact.to_pylist()
    assert first["upload_id"] == second["upload_id"] == UPLOAD_ID
    assert (first["source_row"], second["source_row"]) == (2, 3)
    assert first["store_id"] == "UK-LON"
    assert first["loaded_at"] == LOADED_AT
    assert first["order_date"] == date(2010, 12, 1)
    assert first["order_ts"] == datetime(2010, 12, 1, 8, 26)
    assert second["order_ts"] is None  # a date without a time has no timestamp
    assert first["customer_id"] == "17850"
    assert first["category"] is None  # a field the file lacks is NULL, not an error


# -- the whole pipeline: no row is lost or counted twice -------------------------------------


def _crafted_file(tmp_path: Path, sample) -> Path:
    """The USA sample plus one exact duplicate, one row with a bad price and one short row."""
    lines = _file_lines(sample("bernasiakk_usa.csv"))
    extra = [
        lines[5],
        "550644,22722,SET OF 6 SPICE TINS PANTRY DESIGN,7,4/19/2011 16:19,free,12733,USA",
        "550644,22722",
    ]
    path = tmp_path / "usa_with_problems.csv"
    path.write_text("\n".join([*lines, *extra]) + "\n")
    return path


@pytest.mark.parametrize(
    ("name", "shop", "counts"),
    [
        ("bernasiakk_usa.csv", "US-NYC", (291, 291, 0, 0)),
        ("online_retail_sample_sfc.csv", "UK-LON", (232, 232, 0, 0)),
        ("online_retail_sample_sfc.xlsx", "UK-LON", (232, 232, 0, 0)),
        ("sales_data_sample_head.csv", "US-NYC", (60, 60, 0, 0)),
        ("usa_with_problems.csv", "US-NYC", (294, 291, 2, 1)),
    ],
)
def test_every_row_read_is_loaded_rejected_or_dropped(cast, sample, tmp_path, name, shop, counts):
    path = _crafted_file(tmp_path, sample) if name.startswith("usa_with") else sample(name)
    manager = {"US-NYC": "mgr_us_nyc", "UK-LON": "mgr_uk_lon"}[shop]

    upload = upload_loaded(cast[manager], shop, path)

    assert upload.rows_read == upload.rows_loaded + upload.rows_rejected + upload.rows_dropped
    assert (upload.rows_read, upload.rows_loaded, upload.rows_rejected, upload.rows_dropped) == counts
    in_warehouse = warehouse().query(
        'SELECT count(*) AS n FROM "orders-cleaned" WHERE upload_id = $id', {"id": str(upload.id)}
    )
    assert in_warehouse["n"][0].as_py() == upload.rows_loaded
    expected = Upload.Status.LOADED_WITH_ERRORS if upload.rows_rejected else Upload.Status.LOADED
    assert upload.status == expected


def test_rejected_rows_are_reported_with_the_line_they_are_on(cast, sample, tmp_path):
    path = _crafted_file(tmp_path, sample)
    lines = _file_lines(path)

    upload = upload_loaded(cast["mgr_us_nyc"], "US-NYC", path)

    errors = [(e["source_row"], e["column"], e["reason"]) for e in upload.report["first_errors"]]
    assert errors == [
        (294, "unit_price", "cannot be read as a number"),
        (295, "", "has 2 fields where the header has 8"),
    ]
    assert ",free," in lines[294 - 1]
    assert lines[295 - 1] == "550644,22722"
