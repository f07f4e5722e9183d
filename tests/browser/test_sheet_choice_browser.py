"""A workbook with a summary sheet and two data sheets, in real Chromium against the real app
(web + Celery worker): the page says which sheet was read, the manager chooses the other
one, and the upload is processed again from it. Screenshot: docs/screenshots/uploads-sheet-choice.png."""

from datetime import datetime

import openpyxl
import pytest

from tests.browser.test_upload_to_report import LOAD_TIMEOUT_MS, expect, upload_and_follow
from tests.browser.test_upload_to_report import session as session  # the fixture

pytestmark = pytest.mark.browser
FINISHED = ", ".join(f"#upload-status[data-state={s}]" for s in ("loaded", "loaded_with_errors", "rejected", "failed"))


def _workbook(path):
    book = openpyxl.Workbook()
    book.active.title = "Summary"
    book.active.append(["Country", "Total"])
    book.active.append(["France", 123.4])
    for title, count in (("Orders 2011", 2), ("Orders 2012", 3)):
        sheet = book.create_sheet(title)
        sheet.append(["InvoiceNo", "StockCode", "Quantity", "InvoiceDate", "UnitPrice", "Country"])
        for i in range(count):
            sheet.append([f"{title[-4:]}{i}", f"P{i}", 2, datetime(int(title[-4:]), 4, 19, 16, 19), 1.5, "France"])
    book.save(path)
    return path


def test_the_manager_chooses_another_sheet_and_the_upload_is_read_from_it(session, tmp_path, screenshot_dir):
    s = session("mgr_fr_par")  # a shop of its own: the other browser tests load US and UK files
    page = upload_and_follow(s, _workbook(tmp_path / "two years.xlsx"), "FR-PAR")
    choice = page.locator("#sheet-choice")
    expect(choice).to_contain_text("read sheet Orders 2011, found by its header row")
    expect(page.locator('#upload-status [data-field="rows_loaded"]')).to_have_text("2")

    choice.get_by_label("Sheet").select_option("Orders 2012")
    page.screenshot(path=screenshot_dir / "uploads-sheet-choice.png", full_page=True)
    choice.get_by_role("button", name="Process this sheet").click()

    page.wait_for_load_state("domcontentloaded")
    expect(page.locator(".flash")).to_contain_text("reading sheet 'Orders 2012'")
    page.wait_for_selector(FINISHED, timeout=LOAD_TIMEOUT_MS)
    page.wait_for_load_state("networkidle")
    expect(page.locator("#sheet-choice")).to_contain_text("read sheet Orders 2012, as chosen", timeout=LOAD_TIMEOUT_MS)
    expect(page.locator('#upload-status [data-field="rows_loaded"]')).to_have_text("3")
    expect(page.locator("#history")).to_contain_text("Sheet chosen, processed again")
