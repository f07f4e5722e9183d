"""The upload portal in real Chromium against the real app (web + Celery worker): several
files dropped at once with a progress bar each, the live page to "done", the error table,
the rejected rows downloaded, a corrected file replacing the upload, and the duplicate
warning. Screenshots go to docs/screenshots/uploads-*.png."""

import csv
import io
import re

import openpyxl
import pytest

from tests.browser.test_upload_to_report import LOAD_TIMEOUT_MS, UUID_PATH, expect
from tests.browser.test_upload_to_report import session as session  # the fixture
from tests.uploads.helpers import CORRECTED, SOME_BAD

pytestmark = pytest.mark.browser
SHOP = "US-SFO"  # a shop of its own: the other browser tests load US-NYC and UK-LON files
MANAGER = "mgr_us_nyc"
FINISHED = ", ".join(f"#upload-status[data-state={s}]" for s in ("loaded", "loaded_with_errors", "rejected", "failed"))
OTHER = "InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice\n7,X,1,4/20/2011 10:00,9.99\n8,Y,3,4/21/2011 11:00,2.50\n"


@pytest.fixture(scope="module", autouse=True)
def manager_runs_two_shops(live_app):
    """mgr_us_nyc also runs US-SFO here, so he chooses the shop (issue 3, point 2)."""
    import subprocess
    import sys

    from tests.browser.conftest import BASE_DIR, _child_env

    code = (
        "from apps.accounts.models import Profile, Shop;"
        f"Profile.objects.get(user__username='{MANAGER}').shops.add(Shop.objects.get(code='{SHOP}'))"
    )
    subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code], cwd=BASE_DIR, env=_child_env(live_app.data_dir), check=True
    )


def drop_files(page, files: dict[str, str]) -> None:
    """Drop files on the drop zone as a user dragging them from their desktop would."""
    transfer = page.evaluate_handle(
        """(files) => { const dt = new DataTransfer();
             for (const [name, text] of Object.entries(files)) dt.items.add(new File([text], name));
             return dt; }""",
        files,
    )
    page.dispatch_event("#drop-zone", "drop", {"dataTransfer": transfer})


def wait_done(page) -> None:
    page.wait_for_selector(FINISHED, timeout=LOAD_TIMEOUT_MS)
    page.wait_for_load_state("networkidle")  # the script reloads once to show the report


def test_dropped_files_each_get_a_progress_bar_and_a_page(session, live_app, screenshot_dir):
    s = session(MANAGER)
    page = s.page
    s.goto("/uploads/")
    expect(page.locator("#upload-limits")).to_contain_text("up to 500.0")
    page.locator("#upload-form").get_by_label("Shop").select_option(label=SHOP)

    drop_files(page, {"march sales.csv": SOME_BAD, "april.csv": OTHER, "notes.pdf": "%PDF-1.4"})

    items = page.locator("#upload-queue .upload-item")
    expect(items).to_have_count(3)
    expect(items.nth(2)).to_have_attribute("data-state", "error")  # refused before sending
    expect(items.nth(2).locator(".note")).to_contain_text("not a CSV or Excel file")
    for i in (0, 1):
        assert items.nth(i).locator("progress").evaluate("p => p.value === p.max")
    # Each file sent is followed to the end of its run, and the list below shows it, without
    # a reload (the queue would be gone after one).
    expect(items.nth(0)).to_have_attribute("data-state", "loaded_with_errors", timeout=LOAD_TIMEOUT_MS)
    expect(items.nth(0).locator(".note")).to_contain_text("Done, with rejected rows · 3 of 5 rows loaded")
    expect(items.nth(1)).to_have_attribute("data-state", "loaded", timeout=LOAD_TIMEOUT_MS)
    expect(items.nth(1).locator(".note")).to_contain_text("Done · 2 of 2 rows loaded")
    listed = page.locator("#upload-list tbody tr")
    expect(listed.filter(has_text="march sales.csv")).to_contain_text("Done, with rejected rows")
    expect(listed.filter(has_text="april.csv")).to_contain_text("Done")
    expect(items).to_have_count(3)
    page.screenshot(path=screenshot_dir / "uploads-drop.png", full_page=True)

    page.locator("#upload-queue .upload-item", has_text="march sales.csv").get_by_role("link").click()
    page.wait_for_url(UUID_PATH)
    wait_done(page)
    live_app.uploads[(MANAGER, "march sales.csv")] = page.url


def test_live_page_shows_stages_counts_errors_and_downloads(session, live_app, screenshot_dir):
    s = session(MANAGER)
    page = s.page
    page.goto(live_app.uploads[(MANAGER, "march sales.csv")])
    wait_done(page)

    expect(page.locator("#stages li.current")).to_have_text("done")
    expect(page.locator('[data-field="rows_read"]')).to_have_text("5")
    expect(page.locator('[data-field="rows_loaded"]')).to_have_text("3")
    expect(page.locator('[data-field="rows_rejected"]')).to_have_text("2")
    expect(page.locator(".timings")).to_contain_text("validate")
    rows = page.locator("#error-table tbody tr")
    expect(rows).to_have_count(2)
    cells = [[c.strip() for c in rows.nth(i).locator("td").all_inner_texts()] for i in (0, 1)]
    assert cells == [
        ["5", "quantity", "two", "cannot be read as a whole number"],
        ["6", "country", "Atlantis", "unknown country"],
    ]
    expect(page.locator("#rejected")).to_contain_text("unknown country: 1")
    page.screenshot(path=screenshot_dir / "uploads-detail-errors.png", full_page=True)

    with page.expect_download() as got:
        page.click("#download-csv")
    table = list(csv.reader(io.StringIO(got.value.path().read_text())))
    assert table[0][-1] == "errors" and [r[0] for r in table[1:]] == ["5", "6"]
    with page.expect_download() as got:
        page.click("#download-xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(got.value.path().read_bytes()))["Rejected rows"]
    assert sheet.cell(2, 4).value == "two" and sheet.cell(2, 4).fill.fgColor.rgb.endswith("FFC7CE")


def test_corrected_file_replaces_the_upload(session, live_app, tmp_path, screenshot_dir):
    s = session(MANAGER)
    page = s.page
    old_url = live_app.uploads[(MANAGER, "march sales.csv")]
    page.goto(old_url)
    fixed = tmp_path / "march sales fixed.csv"
    fixed.write_text(CORRECTED)

    page.get_by_label("Corrected file").set_input_files(fixed)
    page.get_by_role("button", name="Upload replacement").click()
    page.wait_for_url(lambda url: UUID_PATH.search(url) and url != old_url)
    wait_done(page)

    expect(page.locator("#upload-status")).to_have_attribute("data-state", "loaded")
    expect(page.locator("#upload-status")).to_contain_text("Replaces march sales.csv")
    expect(page.locator('[data-field="rows_loaded"]')).to_have_text("5")
    live_app.uploads[(MANAGER, fixed.name)] = page.url
    page.screenshot(path=screenshot_dir / "uploads-replacement.png", full_page=True)
    page.goto(old_url)
    expect(page.locator("#upload-status")).to_contain_text("Replaced by march sales fixed.csv")
    expect(page.locator("#history")).to_contain_text("Replaced by a later upload")


def test_the_same_file_again_is_caught_and_can_be_cancelled(session, live_app, tmp_path, screenshot_dir):
    s = session(MANAGER)
    page = s.page
    again = tmp_path / "copy of march sales fixed.csv"
    again.write_text(CORRECTED)
    s.goto("/uploads/")
    page.locator("#upload-form").get_by_label("Shop").select_option(label=SHOP)
    page.locator("#upload-form").get_by_label("File").set_input_files(again)
    page.get_by_role("button", name="Upload").click()
    page.wait_for_url(UUID_PATH)

    warning = page.locator("#duplicate-choice")
    expect(warning).to_contain_text("This file was uploaded before")
    expect(warning).to_contain_text(
        re.compile(r"same content as 'march sales fixed.csv', uploaded by mgr_us_nyc on \d{4}-")
    )
    page.screenshot(path=screenshot_dir / "uploads-duplicate.png", full_page=True)
    page.get_by_role("button", name="Cancel this upload").click()

    expect(page.locator("#upload-status .status")).to_have_text("Cancelled")
    s.goto(f"/uploads/?shop={SHOP}")
    expect(page.locator("#upload-list tbody tr")).to_have_count(4)
    page.screenshot(path=screenshot_dir / "uploads-list.png", full_page=True)
