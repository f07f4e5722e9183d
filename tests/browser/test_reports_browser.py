"""The report pages in real Chromium: filters change the charts, drill-down and breadcrumb
work, an export downloads the right rows. Screenshots of the master and a country page are
kept in docs/screenshots/.

The app runs in pytest-django's live_server thread on the test database; the warehouse
holds the rows of tests/reports/facts.py. Without /usr/bin/chromium these tests are skipped,
unless CI is set: then they fail.
"""

import csv
import io
import os
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, SCREENSHOT_DIR
from tests.conftest import PASSWORD
from tests.reports.facts import LAST_DAY, fast_password_hashing, load_facts  # noqa: F401 (fixture)

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("fast_password_hashing")]
SCREENSHOTS = SCREENSHOT_DIR


@pytest.fixture
def reports_app(transactional_db, cast, live_server):
    """The live server with every demo shop's sales loaded."""
    load_facts()
    return live_server.url


@pytest.fixture
def reports_browser():
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing and CI is set")
        pytest.skip(f"{CHROMIUM} is missing")
    # Playwright's sync API runs an event loop in this thread; the ORM work is done before.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _page(browser, base_url: str, username: str, *, width: int = 1366):
    context = browser.new_context(viewport={"width": width, "height": 900}, accept_downloads=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "console", lambda msg: errors.append(msg.text) if msg.type == "error" and "resource" not in msg.text else None
    )
    page.on(
        "response",
        lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 and "favicon" not in r.url else None,
    )
    page.goto(f"{base_url}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert "/accounts/login/" not in page.url, f"{username} could not log in"
    page.errors = errors
    return page


def _charts_drawn(page) -> None:
    page.wait_for_selector("#chart-over-time[data-drawn=true]")


def _countries_in_chart(page) -> set[str]:
    return set(page.evaluate("() => document.getElementById('chart-over-time').data.map(t => t.name)"))


def test_a_filter_changes_the_charts_and_back_restores_them(reports_app, reports_browser):
    page = _page(reports_browser, reports_app, "admin")
    page.goto(f"{reports_app}/reports/")
    _charts_drawn(page)
    assert _countries_in_chart(page) == {"US", "GB", "FR", "AU"}
    assert page.locator("nav.breadcrumb .period").inner_text().endswith(f"{LAST_DAY:%-d %b %Y}")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "report-master.png"), full_page=True)

    page.select_option("select[name=country]", "FR")
    page.select_option("select[name=preset]", "30d")
    page.click("#report-filters button[type=submit]")
    page.wait_for_url("**/reports/?*")
    _charts_drawn(page)

    query = parse_qs(urlsplit(page.url).query)
    assert query == {"preset": ["30d"], "country": ["FR"]}
    assert _countries_in_chart(page) == {"FR"}
    page.go_back()
    _charts_drawn(page)
    assert _countries_in_chart(page) == {"US", "GB", "FR", "AU"}
    assert not page.errors


def test_drill_down_from_a_bar_to_order_lines_and_back_up_by_the_breadcrumb(reports_app, reports_browser):
    page = _page(reports_browser, reports_app, "head_uk")
    page.goto(f"{reports_app}/reports/")
    page.wait_for_selector("#chart-shops[data-drawn=true]")

    # Click the bar of the biggest shop in the "Revenue by shop" chart.
    page.locator("#chart-shops .bars .point path").last.click(force=True)
    page.wait_for_url("**/reports/GB/?*shop=*")
    _charts_drawn(page)
    shop = parse_qs(urlsplit(page.url).query)["shop"][0]
    assert shop in {"UK-LON", "UK-MAN"}

    page.locator("#table-products tbody tr").first.click()
    page.wait_for_url("**product=*")
    page.click("a[data-drill=lines]")
    page.wait_for_url("**/reports/lines/?*")
    crumbs = page.locator("nav.breadcrumb a, nav.breadcrumb [aria-current]").all_inner_texts()
    assert crumbs[:3] == ["All countries", "UK", f"Shop {shop}"]
    assert crumbs[3].startswith("Product P-")
    assert crumbs[4] == "Order lines"
    first_line = page.locator("#table-lines tbody tr").first
    assert shop in first_line.inner_text()
    assert first_line.locator("td.lineage a").get_attribute("href").startswith("/uploads/")

    page.click("nav.breadcrumb a:has-text('UK')")
    page.wait_for_url("**/reports/GB/*")
    _charts_drawn(page)
    page.screenshot(path=str(SCREENSHOTS / "report-country.png"), full_page=True)
    assert not page.errors


def test_an_export_downloads_the_rows_on_screen(reports_app, reports_browser):
    page = _page(reports_browser, reports_app, "mgr_uk_lon")
    page.goto(f"{reports_app}/reports/lines/?preset=7d")
    on_screen = page.locator("#table-lines tbody tr").count()

    with page.expect_download() as download:
        page.click("section.exports li:has-text('Order lines') a[data-export=csv]")
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8-sig"))))

    assert len(rows) == on_screen == 12  # 6 trading days x 2 lines, one shop
    assert {r["store_id"] for r in rows} == {"UK-LON"}
    assert {r["file_name"] for r in rows} == {"sales-UK-LON.csv"}


def test_the_report_fits_a_tablet(reports_app, reports_browser):
    page = _page(reports_browser, reports_app, "admin", width=768)
    page.goto(f"{reports_app}/reports/")
    _charts_drawn(page)
    overflow = page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0
