"""The upload page reloads once when its upload ends, to show the report, even when the
upload ends between the server drawing the page and the page's first look at its status
(seen in CI: the page said "Failed" but never showed the mapping step's link)."""

import time

import pytest

from tests.browser.test_upload_to_report import LOAD_TIMEOUT_MS, UUID_PATH, expect
from tests.browser.test_upload_to_report import session as session  # the fixture
from tests.uploads.helpers import SOME_BAD

pytestmark = pytest.mark.browser


def test_an_upload_ending_before_the_first_status_poll_still_shows_its_report(session, tmp_path):
    s = session("mgr_us_nyc")
    page = s.page
    path = tmp_path / "late poll.csv"
    path.write_text(SOME_BAD + "9,Z,1,4/19/2011 16:19,3.00,USA\n")  # content no other test uploads
    held = []

    def first_poll_late(route):
        # The real worker finishes the upload while the page's first status request waits:
        # the page was drawn "queued", the first answer it gets says "finished".
        if not held:
            held.append(route.request.url)
            time.sleep(4)
        route.continue_()

    page.route("**/status.json", first_poll_late)
    s.goto("/uploads/")
    page.locator("#upload-form").get_by_label("Shop").select_option(label="US-NYC")
    page.locator("#upload-form").get_by_label("File").set_input_files(path)
    with page.expect_response(lambda r: UUID_PATH.search(r.url) and r.request.resource_type == "document") as drawn:
        page.get_by_role("button", name="Upload").click()
    assert 'data-finished="false"' in drawn.value.text()  # drawn while the upload was running

    page.wait_for_selector("#upload-status[data-state=loaded_with_errors]", timeout=LOAD_TIMEOUT_MS)
    expect(page.get_by_role("heading", name="How the file was read")).to_be_visible(timeout=10_000)
    expect(page.locator("#upload-status")).to_have_attribute("data-finished", "true")
    assert held, "the first status request was not held back"
