"""Fixing rows rejected for their country, in real Chromium against the real app (web + Celery
worker): the manager maps `Unspecified` to the shop's country and asks for `Channel Islands`
to be read as the United Kingdom; the admin approves from their uploads page in one click;
the same upload reloads each time, its rejected rows moving to loaded.
Screenshot: docs/screenshots/country-fix.png."""

import re

import pytest

from tests.browser.test_upload_to_report import LOAD_TIMEOUT_MS, TEST_DATA, counts, expect, upload_and_follow
from tests.browser.test_upload_to_report import session as session  # the fixture

pytestmark = pytest.mark.browser
SLICE = TEST_DATA / "online_retail_sample_vikash_slice.csv"  # 300 lines: 1 Unspecified, 2 Channel Islands


def _finished(page, state: str) -> dict[str, str]:
    """Wait on the upload's page until its run ends in `state` (the page's own polling)."""
    page.wait_for_selector(f"#upload-status[data-state={state}]", timeout=LOAD_TIMEOUT_MS)
    page.wait_for_load_state("networkidle")
    return counts(page)


def test_a_manager_fixes_unknown_countries_and_the_same_upload_reloads(session, live_app, screenshot_dir):
    manager = session("mgr_uk_lon")
    page = upload_and_follow(manager, SLICE, "UK-LON")
    upload_url = page.url
    assert counts(page)["rows_rejected"] == "3"
    fixes = page.locator("#unknown-countries")
    expect(fixes).to_contain_text("Unspecified")
    expect(fixes).to_contain_text("Channel Islands")
    unspecified = fixes.locator('tr[data-value="Unspecified"]')
    expect(unspecified.get_by_label("Country for Unspecified")).to_have_value("GB")  # the shop's own, offered first
    page.screenshot(path=screenshot_dir / "country-fix.png", full_page=True)

    unspecified.get_by_role("button", name="Map for this shop").click()
    page.wait_for_url(upload_url)
    got = _finished(page, "loaded_with_errors")
    assert (got["rows_loaded"], got["rows_rejected"]) == ("298", "2")

    islands = page.locator('#unknown-countries tr[data-value="Channel Islands"]')
    islands.get_by_label("Country for Channel Islands").select_option("GB")
    islands.get_by_role("button", name="Ask an admin to add it for everyone").click()
    page.wait_for_url(upload_url)
    expect(page.locator('#unknown-countries tr[data-value="Channel Islands"]')).to_contain_text(
        "asked: GB, waiting for an admin"
    )

    admin = session("admin")
    admin.goto("/uploads/")
    request = admin.page.locator("#alias-requests tbody tr").filter(has_text="CHANNEL ISLANDS")
    expect(request).to_contain_text("mgr_uk_lon")
    request.get_by_role("button", name="Approve").click()
    admin.page.wait_for_url(re.compile(r"/uploads/$"))
    expect(admin.page.get_by_text("'CHANNEL ISLANDS' is now an alias of GB.")).to_be_visible()

    manager.goto(upload_url.removeprefix(live_app.url))
    got = _finished(page, "loaded")
    assert (got["rows_read"], got["rows_loaded"], got["rows_rejected"]) == ("300", "300", "0")
    expect(page.locator("#unknown-countries")).to_have_count(0)
    # Still one upload of the file: the rows reloaded into it.
    manager.goto("/uploads/")
    expect(page.locator("#upload-list tbody tr").filter(has_text=SLICE.name)).to_have_count(1)
