"""A shop manager uploads a file in the browser and follows it to "Done"; regional heads and
the admin then read reports limited to their scope. Runs against the real app (web + Celery
worker, see conftest.live_app) and writes the screenshots in docs/screenshots/."""

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

TEST_DATA = Path(__file__).resolve().parents[1] / "data"
USA_FILE = TEST_DATA / "bernasiakk_usa.csv"
UK_FILE = TEST_DATA / "online_retail_sample_sfc.csv"
UUID_PATH = re.compile(r"/uploads/[0-9a-f-]{36}/$")
WIDTH, HEIGHT = 1280, 800
LOAD_TIMEOUT_MS = 90_000  # upload -> "Done", worker included
DRAW_TIMEOUT_MS = 20_000


class Session:
    """One user's browser context, collecting what a user would notice is broken:
    script errors, console errors (CSP violations among them) and failed requests."""

    def __init__(self, browser, app, username: str) -> None:
        self.app = app
        self.username = username
        self.context = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT})
        self.page = self.context.new_page()
        self.page.set_default_timeout(15_000)
        self.problems: list[str] = []
        self.page.on("pageerror", lambda exc: self.problems.append(f"script error: {exc}"))
        self.page.on(
            "console",
            lambda msg: (
                msg.type == "error"
                and not msg.text.startswith("Failed to load resource")  # reported by "response" below
                and self.problems.append(f"console error: {msg.text}")
            ),
        )
        self.page.on("response", self._on_response)
        # Pages expected to answer 404 (scope tests) register their URL here.
        self.expected_errors: set[str] = set()

    def _on_response(self, response) -> None:
        url = response.url
        if response.status >= 400 and not url.endswith("/favicon.ico") and url not in self.expected_errors:
            self.problems.append(f"HTTP {response.status} for {url}")

    def goto(self, path: str):
        return self.page.goto(self.app.url + path)

    def login(self, screenshot: Path | None = None) -> "Session":
        self.goto("/accounts/login/")
        if screenshot:
            self.page.screenshot(path=screenshot, full_page=True)
        self.page.get_by_label("Username").fill(self.username)
        self.page.get_by_label("Password").fill(self.app.password)
        self.page.get_by_role("button", name="Log in").click()
        self.page.wait_for_load_state()
        assert "/accounts/login/" not in self.page.url, f"{self.username} could not log in"
        expect(self.page.locator(".who")).to_have_text(self.username)
        return self

    def close(self) -> None:
        self.context.close()
        assert not self.problems, f"{self.username}: " + "; ".join(self.problems)


def expect(locator):
    from playwright.sync_api import expect as _expect

    return _expect(locator)


@pytest.fixture
def session(browser, live_app):
    """session(username) -> a logged-in Session; every one is checked for problems at the end."""
    opened = []

    def open_session(username: str, *, login_screenshot: Path | None = None) -> Session:
        s = Session(browser, live_app, username).login(screenshot=login_screenshot)
        opened.append(s)
        return s

    yield open_session
    for s in opened:
        s.close()


def upload_and_follow(s: Session, path: Path, shop: str):
    """Upload `path` for `shop` through the form and stay on the status page until the
    upload has finished, without reloading: the page's own polling must get it there."""
    page = s.page
    s.goto("/uploads/")
    page.locator("#upload-form").get_by_label("Shop").select_option(label=shop)
    page.locator("#upload-form").get_by_label("File").set_input_files(path)
    page.get_by_role("button", name="Upload").click()
    page.wait_for_url(UUID_PATH)
    status_url = page.url
    expect(page.locator("h1")).to_have_text(path.name)
    # data-state is written only by static/js/upload_status.js from status.json.
    page.wait_for_selector(
        "#upload-status[data-state=loaded], #upload-status[data-state=loaded_with_errors],"
        " #upload-status[data-state=rejected], #upload-status[data-state=failed],"
        " #upload-status[data-state=needs_mapping], #upload-status[data-state=overlap],"
        " #upload-status[data-state=implausible]",
        timeout=LOAD_TIMEOUT_MS,
    )
    # The script reloads once when the upload finishes, to show the report sections; the
    # page after that reload carries the read-back mapping.
    expect(page.get_by_role("heading", name="How the file was read")).to_be_visible()
    page.wait_for_load_state("networkidle")
    s.app.uploads[(s.username, path.name)] = status_url
    return page


def counts(page) -> dict[str, str]:
    return {
        name: page.locator(f'#upload-status [data-field="{name}"]').inner_text().strip()
        for name in ("status_label", "rows_read", "rows_loaded", "rows_rejected")
    }


def chart_traces(page) -> list[str]:
    """Wait for the Plotly chart to be drawn; the names of its traces (countries)."""
    page.wait_for_selector("#chart-over-time[data-drawn=true]", timeout=DRAW_TIMEOUT_MS)
    expect(page.locator("#chart-over-time svg.main-svg").first).to_be_visible()
    assert page.locator("#chart-over-time .bars .point").count() > 0, "chart drawn without bars"
    return page.evaluate("() => document.getElementById('chart-over-time').data.map(t => t.name)")


def kpi_number(page, name: str) -> float:
    text = page.locator(f'[data-kpi="{name}"] strong').inner_text()
    return float(re.sub(r"[^0-9.\-]", "", text.split()[0]))


def test_manager_upload_is_followed_to_done_and_only_his_region_sees_it(session, live_app, screenshot_dir):
    manager = session("mgr_us_nyc", login_screenshot=screenshot_dir / "login.png")
    # What head_uk sees before (other browser tests may have loaded UK shops' files already).
    head_uk = session("head_uk")
    head_uk.goto("/reports/?preset=all")
    uk_before = kpi_number(head_uk.page, "revenue")
    page = upload_and_follow(manager, USA_FILE, "US-NYC")

    expect(page.locator("#upload-status")).to_have_attribute("data-state", "loaded")
    assert counts(page) == {"status_label": "Done", "rows_read": "291", "rows_loaded": "291", "rows_rejected": "0"}
    page.screenshot(path=screenshot_dir / "upload-status-done.png", full_page=True)

    manager.goto("/uploads/")
    row = page.locator("table.data tbody tr", has_text=USA_FILE.name)
    expect(row).to_have_count(1)
    expect(row.locator(".status")).to_have_text("Done")
    page.screenshot(path=screenshot_dir / "uploads.png", full_page=True)

    head_us = session("head_us")
    head_us.goto("/reports/")
    assert "US" in chart_traces(head_us.page)
    assert kpi_number(head_us.page, "revenue") > 0
    assert kpi_number(head_us.page, "orders") > 0

    head_uk.goto("/reports/?preset=all")
    if head_uk.page.locator("#chart-over-time").count():
        assert "US" not in chart_traces(head_uk.page)
    assert kpi_number(head_uk.page, "revenue") == uk_before  # none of the US shop's sales (all to the USA)
    expect(head_uk.page.locator("nav.tabs")).not_to_contain_text("USA")
    head_uk.expected_errors.add(live_app.url + "/reports/US/")
    response = head_uk.goto("/reports/US/")
    assert response.status == 404


def test_admin_sees_every_country_and_a_head_only_his(session, live_app, screenshot_dir):
    if ("mgr_us_nyc", USA_FILE.name) not in live_app.uploads:  # this test run alone
        upload_and_follow(session("mgr_us_nyc"), USA_FILE, "US-NYC")
    uk_page = upload_and_follow(session("mgr_uk_lon"), UK_FILE, "UK-LON")
    assert uk_page.locator("#upload-status").get_attribute("data-state") in {"loaded", "loaded_with_errors"}
    assert int(counts(uk_page)["rows_loaded"]) > 0

    admin = session("admin")
    # The two files are a year apart; the default range is the latest 90 days of data.
    admin.goto("/reports/?preset=custom&start=2010-01-01&end=2011-12-31&grain=month")
    traces = chart_traces(admin.page)
    assert {"US", "GB"} <= set(traces), traces
    months = admin.page.evaluate("() => document.getElementById('chart-over-time').data.flatMap(t => t.x)")
    assert len(set(months)) >= 4, months
    assert kpi_number(admin.page, "shops") >= 2

    head_uk = session("head_uk")
    head_uk.goto("/reports/?preset=all")  # other browser tests may have loaded later UK files
    # Every sale of the UK shops, their French and Australian customers' too; no US row.
    traces = chart_traces(head_uk.page)
    assert {"AU", "FR", "GB"} <= set(traces) and "US" not in traces, traces
    expect(head_uk.page.locator("[data-rows-held]")).to_contain_text("UK shops' sales (to customers anywhere)")
    head_uk.goto("/reports/GB/")
    expect(head_uk.page.locator("h1")).to_contain_text("UK")
    assert chart_traces(head_uk.page) == ["GB"]
    assert kpi_number(head_uk.page, "revenue") > 0
