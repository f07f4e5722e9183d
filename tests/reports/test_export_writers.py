"""The export writers: CSV written column by column is byte for byte what Python's csv
module writes row by row, and the streamed workbook reads back the same in openpyxl and in
calamine (fastexcel, the upload path's own reader), with text that Excel would run or
cannot hold made safe."""

import csv
import io
import random
from datetime import UTC, date, datetime
from decimal import Decimal

import fastexcel
import pyarrow as pa
from openpyxl import load_workbook

from apps.reports.csv_batches import csv_batch
from apps.reports.exports import _text, neutralise
from apps.reports.xlsx_stream import MAX_TEXT, xlsx_stream

MONEY = [None, Decimal("2.5"), Decimal("-0.0001"), Decimal("12345678901234.1234")]
ALPHABET = ["a", "Z", " ", '"', ",", "\r", "\n", "\t", "=", "+", "-", "@", "'", "é", "€", ";", "\\", "0", "\u2028"]


def _table(rows: int) -> pa.Table:
    rng = random.Random(17)

    def text():
        return None if rng.random() < 0.1 else "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 6)))

    return pa.table(
        {
            "text": pa.array([text() for _ in range(rows)], pa.string()),
            "flag": pa.array([rng.choice([True, False, None]) for _ in range(rows)]),
            "number": pa.array([rng.choice([None, 0, -5, 2**40]) for _ in range(rows)], pa.int64()),
            "money": pa.array([rng.choice(MONEY) for _ in range(rows)], pa.decimal128(18, 4)),
            "day": pa.array([rng.choice([None, date(2011, 12, 9), date(1000, 1, 1)]) for _ in range(rows)]),
        }
    )


def test_csv_by_columns_is_byte_for_byte_what_the_csv_module_writes_by_rows():
    table = _table(20_000)
    expected = io.StringIO()
    writer = csv.writer(expected)
    for row in table.to_pylist():
        writer.writerow([_text(v) for v in row.values()])

    written = b"".join(csv_batch(batch) for batch in table.to_batches(max_chunksize=3_000))

    assert written == expected.getvalue().encode()


def test_the_streamed_workbook_reads_back_the_same_in_openpyxl_and_calamine():
    rows = [
        ['=HYPERLINK("http://evil.example","x")', 2.5, 3, True, date(2011, 12, 9)],
        ["<b>bold</b> & more", Decimal("-0.5000"), None, False, datetime(2011, 12, 9, 10, 30, tzinfo=UTC)],
        ["bell\x07 and nul\x00", 0, -1, None, date(1899, 1, 1)],
        ["x" * (MAX_TEXT + 10), None, 1e300, True, None],
    ]
    header = ["text", "value", "count", "flag", "when"]
    body = b"".join(xlsx_stream(header, [rows[:2], rows[2:]], title="A: test", neutralise=neutralise))

    sheet = load_workbook(io.BytesIO(body)).active
    assert sheet.title == "A  test"
    read = [[c.value for c in row] for row in sheet.iter_rows()]
    assert read[0] == ["text", "value", "count", "flag", "when"]
    assert read[1] == ['\'=HYPERLINK("http://evil.example","x")', 2.5, 3, True, datetime(2011, 12, 9)]
    assert read[2] == ["<b>bold</b> & more", -0.5, None, False, datetime(2011, 12, 9, 10, 30)]
    assert read[3] == ["bell\ufffd and nul\ufffd", 0, -1, None, "1899-01-01"]
    assert read[4][0] == "x" * MAX_TEXT and read[4][2] == 1e300
    assert [type(v) for v in read[1][1:3]] == [float, int]  # as openpyxl wrote them
    assert sheet["E2"].number_format == "yyyy-mm-dd" and sheet["E3"].number_format == "yyyy-mm-dd h:mm:ss"

    frame = fastexcel.read_excel(body).load_sheet(0).to_arrow()
    assert frame.num_rows == 4
    assert frame.column("text").to_pylist()[:2] == [read[1][0], read[2][0]]
    assert frame.column("count").to_pylist()[:2] == [3, None]
