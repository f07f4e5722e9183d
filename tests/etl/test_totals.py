"""A spreadsheet's totals row (a formula over a column at the bottom, or a "Total" line with no
order id) is dropped and counted as a totals row: not rejected, not loaded. Real files from
tests/data, as a workbook with a SUM row and as a CSV export with a "Grand Total" line, on
both read paths (the typed CSV read and the text one)."""

import csv
from pathlib import Path

import pytest

from apps.etl.pipeline.report import build_report
from apps.etl.pipeline.totals import formula_total_rows
from tests.etl.stages import run, workbook_of

USA = "bernasiakk_usa.csv"  # 291 order lines, all valid
VIKASH = "online_retail_sample_vikash_head.csv"  # 300 lines, day-first dates, a few unknown countries


def _report(result) -> dict:
    return build_report(
        result["extracted"],
        result["mapped"],
        result["checked"],
        result["cleaned"],
        dropped=result["dropped"],
        totals=result["run"].totals_dropped,
    )


def _outcome(path: Path, tmp_path: Path, *, typed_read: bool = False, name: str = "work") -> dict:
    result = run(path, tmp_path, typed_read=typed_read, work_name=name)
    try:
        report = _report(result)
        clean = result["con"].execute("SELECT * EXCLUDE (source_row) FROM clean ORDER BY source_row").fetchall()
        return {
            "read": result["extracted"].rows_read,
            "totals": report["rules"]["totals_dropped"],
            "rejected": report["rules"]["rows_rejected"],
            "reasons": report["errors_by_reason"],
            "valid": result["run"].rows_valid,
            "clean": clean,
        }
    finally:
        result["con"].close()


@pytest.mark.parametrize(
    "formula",
    ["=SUM(D2:D1048575)", "=SUBTOTAL(9,$D$2:$D$292)", "=sum(D2:D292)"],  # the first as the issue saw it
)
def test_a_sum_row_at_the_bottom_of_a_real_workbook_is_dropped_as_a_totals_row(sample, tmp_path, formula):
    # The column's quantities totalled, no label, no order id.
    path, _ = workbook_of(sample(USA), tmp_path / "usa.xlsx", bottom=[(3, formula, "sum"), (5, "=SUM(F2:F292)", 1.0)])
    assert formula_total_rows(path, "Orders") == {293}

    got = _outcome(path, tmp_path)

    assert (got["read"], got["totals"], got["rejected"], got["valid"]) == (292, 1, 0, 291)
    assert got["reasons"] == {}


def test_the_workbook_loads_the_same_rows_as_the_file_without_its_totals_row(sample, tmp_path):
    with_total, _ = workbook_of(sample(USA), tmp_path / "with.xlsx", bottom=[(3, "=SUM(D2:D292)", "sum")])
    without, _ = workbook_of(sample(USA), tmp_path / "without.xlsx", bottom=[])

    assert _outcome(with_total, tmp_path, name="a")["clean"] == _outcome(without, tmp_path, name="b")["clean"]


def test_a_formula_that_totals_no_column_leaves_its_row_as_it_is(sample, tmp_path):
    # A line's own arithmetic (=D2*F2) or a sum along the row is no column's total: the row,
    # with no order id, is rejected with its reasons as before.
    path, _ = workbook_of(sample(USA), tmp_path / "usa.xlsx", bottom=[(3, "=D2*F2", 27.65), (5, "=SUM(A2:F2)", 1.0)])
    assert formula_total_rows(path, "Orders") == frozenset()

    got = _outcome(path, tmp_path)

    assert (got["totals"], got["rejected"]) == (0, 1)


@pytest.mark.parametrize("typed_read", [False, True], ids=["text", "typed read"])
@pytest.mark.parametrize(
    "line",
    [
        ",,Grand Total,{qty},,,,",  # the label in a text column, no order id
        "Grand Total,,,{qty},,,,",  # the label where the order id goes
        "TOTAL:,,,{qty},,,,",
        ",,Total général,{qty},,,,",
        ",,Summe,{qty},,,,",
        "581587 Total,,,{qty},,,,",  # Excel's Data > Subtotal line of one order
    ],
)
def test_a_grand_total_line_of_a_real_csv_export_is_dropped_on_both_read_paths(sample, tmp_path, line, typed_read):
    original = sample(VIKASH).read_bytes()
    with sample(VIKASH).open(newline="", encoding="utf-8") as fh:
        qty = sum(int(r["Quantity"]) for r in csv.DictReader(fh) if r["Quantity"].lstrip("-").isdigit())
    path = tmp_path / "export.csv"
    path.write_bytes(original + line.format(qty=qty).encode() + b"\r\n")
    plain = tmp_path / "plain.csv"
    plain.write_bytes(original)

    got = _outcome(path, tmp_path, typed_read=typed_read, name="with")
    before = _outcome(plain, tmp_path, typed_read=typed_read, name="without")

    assert got["totals"] == 1 and before["totals"] == 0
    assert got["read"] == before["read"] + 1
    # Not rejected: the same rejections, the same rows loaded, as without the line.
    assert (got["rejected"], got["reasons"], got["clean"]) == (before["rejected"], before["reasons"], before["clean"])


@pytest.mark.parametrize("typed_read", [False, True], ids=["text", "typed read"])
def test_an_order_line_of_a_product_named_total_still_loads(sample, tmp_path, typed_read):
    lines = sample(USA).read_text(encoding="utf-8").splitlines()
    extra = [
        "550645,TOTAL,Total,2,4/19/2011 16:20,3.95,12733,USA",
        "550645,90001,Total Eclipse Mug,1,4/19/2011 16:20,4.25,12733,USA",
    ]
    path = tmp_path / "usa.csv"
    path.write_text("\n".join([*lines, *extra]) + "\n", encoding="utf-8")

    got = _outcome(path, tmp_path, typed_read=typed_read)

    assert (got["read"], got["totals"], got["rejected"], got["valid"]) == (293, 0, 0, 293)
