"""The mapping step in real Chromium against the real app (web + Celery worker): a file whose
headers the schema does not know stops at the mapping step with suggestions; the manager
confirms, the file loads, and the next file with the same headers loads by itself.
Screenshot: docs/screenshots/mapping-step.png."""

import csv
import io
import re
from pathlib import Path

import pytest

from tests.browser.test_upload_to_report import LOAD_TIMEOUT_MS, TEST_DATA, counts, expect, upload_and_follow
from tests.browser.test_upload_to_report import session as session  # the fixture

pytestmark = pytest.mark.browser
# The slice holds two exact duplicate rows (lines 74 and 109): one week's file holds both,
# else the second week's would rightly be held for a line loaded before.
WEEK_2 = 110
MANAGER, SHOP = "mgr_fr_par", "FR-PAR"  # the other browser tests load US and UK files
# The France sample as a till would export it: headers the demo schema has no alias for.
HEADERS = ["Invoice Ref", "Stock Code", "Description", "Qty Sold", "Sale Date", "Unit Cost", "Client", "Country"]


def _till_export(path: Path, rows: slice) -> Path:
    with (TEST_DATA / "bernasiakk_france_slice.csv").open(newline="") as fh:
        table = list(csv.reader(fh))
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([HEADERS, *table[1:][rows]])
    path.write_text(out.getvalue())
    return path


def _mapping_rows(page) -> dict[str, tuple[str, str]]:
    """field -> (the column chosen, how it was found), as the mapping table shows them."""
    found = {}
    for row in page.locator("#mapping-table tbody tr").all():
        field = row.locator("td").nth(0).inner_text().strip().rstrip(" *")
        chosen = row.locator("select").evaluate("s => s.value")
        found[field] = (chosen, row.locator("td").nth(2).inner_text().strip())
    return found


def test_unknown_headers_are_matched_once_then_applied_by_themselves(session, live_app, tmp_path, screenshot_dir):
    s = session(MANAGER)
    page = upload_and_follow(s, _till_export(tmp_path / "till week 1.csv", slice(0, WEEK_2)), SHOP)
    expect(page.locator("#upload-status")).to_have_attribute("data-state", "needs_mapping")
    expect(page.locator("#upload-status")).to_contain_text("Columns to match")
    expect(page.locator("#upload-mapping")).to_contain_text("Not found by name:")
    expect(page.get_by_text("Dates:")).to_have_count(0)  # nothing was read: no empty line for it

    page.get_by_role("link", name="Match the columns").click()
    page.wait_for_url(re.compile(r"/uploads/[0-9a-f-]{36}/mapping/$"))
    expect(page.get_by_role("heading", name="Match the file's columns")).to_be_visible()
    rows = _mapping_rows(page)
    assert rows["product_id"] == ("Stock Code", "matched by name")
    assert rows["order_id"][0] == "Invoice Ref" and re.fullmatch(r"suggested \(\d+% alike\)", rows["order_id"][1])
    assert rows["order_date"][0] == "Sale Date" and rows["order_date"][1].startswith("suggested")
    assert rows["unit_price"] == ("", "no match")
    expect(page.locator("#kept-aside")).to_contain_text("Unit Cost, Client")
    page.screenshot(path=screenshot_dir / "mapping-step.png", full_page=True)

    for field, column in {"quantity": "Qty Sold", "unit_price": "Unit Cost"}.items():
        page.get_by_label(f"Column for {field}", exact=True).select_option(label=column)
    page.get_by_role("button", name="Save and process again").click()
    page.wait_for_url(re.compile(r"/uploads/[0-9a-f-]{36}/$"))
    page.wait_for_selector("#upload-status[data-state=loaded]", timeout=LOAD_TIMEOUT_MS)
    page.wait_for_load_state("networkidle")
    assert counts(page)["rows_read"] == str(WEEK_2)  # two of them duplicates, dropped
    expect(page.get_by_role("heading", name="How the file was read")).to_be_visible()
    expect(page.locator("#upload-mapping")).to_have_count(0)

    page = upload_and_follow(s, _till_export(tmp_path / "till week 2.csv", slice(WEEK_2, None)), SHOP)

    expect(page.locator("#upload-status")).to_have_attribute("data-state", "loaded")
    expect(page.locator("#upload-mapping")).to_have_count(0)
    assert counts(page)["rows_read"] == str(200 - WEEK_2)
    expect(page.get_by_text("Qty Sold → quantity")).to_be_visible()
    expect(page.get_by_text("Kept aside: Client")).to_be_visible()
