"""Markup in an uploaded file shows as text in another viewer's report (issue 17, point 3).

A shop manager uploads a file whose product code is a link and whose category is bold;
the region's head (and the admin) then open the charts and the order lines in Chromium.
Plotly reads its labels as a pseudo-HTML: before the fix the code was a working link in
the product chart's ticks and hover label, and the category was bold. Runs against the
real app (web + Celery worker, conftest.live_app)."""

import pytest

from tests.browser.test_upload_to_report import expect, upload_and_follow
from tests.browser.test_upload_to_report import session as session  # the fixture, re-exported

pytestmark = pytest.mark.browser

LINK = '<a href="https://evil.example/phish">CLAIM-REFUND</a>'
BOLD = "<b>bold</b>"
STYLED = '<span style="font-size:40px;color:red">big</span> <i>it</i>'
PERIOD = "preset=custom&start=2011-04-01&end=2011-04-30"
DRAW_TIMEOUT_MS = 20_000


def _hostile_file(tmp_path):
    rows = [
        "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country,Category",
        f'900001,"{LINK.replace(chr(34), chr(34) * 2)}","{STYLED.replace(chr(34), chr(34) * 2)}",100,'
        f"4/19/2011 16:19,50.00,12733,USA,{BOLD}",
        f'900002,"{LINK.replace(chr(34), chr(34) * 2)}",Refund claim,80,4/20/2011 10:00,50.00,12733,USA,{BOLD}',
        "900003,PLAIN-1,Plain product,3,4/21/2011 11:00,2.00,12733,USA,Plain",
    ]
    path = tmp_path / "markup.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


# Everything Plotly drew on the page: link elements, formatted spans, and the text itself.
DRAWN = """() => {
  const svgs = [...document.querySelectorAll('.js-plotly-plot svg')];
  const all = (selector) => svgs.flatMap((svg) => [...svg.querySelectorAll(selector)]);
  return {
    charts: document.querySelectorAll('.js-plotly-plot').length,
    links: all('a').length,
    styled: all('tspan[style]').map((t) => t.getAttribute('style')),
    ticks: all('.ytick text, .xtick text, .legendtext, .gtitle').map((t) => t.textContent),
  };
}"""


def _hover_text(page, chart_id: str, needle: str) -> dict:
    """Hover the bar whose label holds `needle` (Plotly's own hover call) and read the label."""
    return page.evaluate(
        """([id, needle]) => {
          const gd = document.getElementById(id);
          const index = gd.data[0].y.findIndex((label) => label.includes(needle));
          if (index < 0) return {found: false};
          Plotly.Fx.hover(gd, [{curveNumber: 0, pointNumber: index}]);
          const layer = gd.querySelector('.hoverlayer');
          return {found: true, text: layer.textContent, links: layer.querySelectorAll('a').length,
                  styled: [...layer.querySelectorAll('tspan[style]')].map((t) => t.getAttribute('style'))};
        }""",
        [chart_id, needle],
    )


def _no_markup_in_the_page(page) -> None:
    """No link leaves the site (the drill-down links carry the code in their query string),
    and nothing in the page is bold, italic or styled."""
    away = page.evaluate(
        "() => [...document.querySelectorAll('a[href]')].map((a) => new URL(a.href, location.href))"
        ".filter((url) => url.host !== location.host).map((url) => url.href)"
    )
    assert away == []
    assert page.locator("main b, main i, main span[style]").count() == 0


@pytest.mark.parametrize("viewer", ["head_us", "admin"])
def test_markup_in_an_uploaded_file_shows_as_text_in_every_chart_hover_and_table(session, live_app, tmp_path, viewer):
    key = ("mgr_us_nyc", "markup.csv")
    if key not in live_app.uploads:
        page = upload_and_follow(session("mgr_us_nyc"), _hostile_file(tmp_path), "US-NYC")
        expect(page.locator("#upload-status")).to_have_attribute("data-state", "loaded")

    page = session(viewer).page
    page.goto(f"{live_app.url}/reports/?{PERIOD}")
    page.wait_for_selector("#chart-products[data-drawn=true]", timeout=DRAW_TIMEOUT_MS)
    page.wait_for_selector("#chart-categories[data-drawn=true]", timeout=DRAW_TIMEOUT_MS)

    drawn = page.evaluate(DRAWN)
    assert drawn["charts"] >= 4
    assert drawn["links"] == 0
    assert not [s for s in drawn["styled"] if "bold" in s or "italic" in s or "40px" in s], drawn["styled"]
    assert [t for t in drawn["ticks"] if t.startswith(LINK)], drawn["ticks"]
    assert BOLD in drawn["ticks"]

    for chart_id, needle in (("chart-products", "CLAIM-REFUND"), ("chart-categories", "bold")):
        hover = _hover_text(page, chart_id, needle)
        assert hover["found"], chart_id
        assert (LINK if needle == "CLAIM-REFUND" else BOLD) in hover["text"], hover
        assert hover["links"] == 0 and not [s for s in hover["styled"] if "bold" in s], hover

    table = page.locator("table.data", has_text="CLAIM-REFUND").first
    expect(table).to_contain_text(LINK)
    # The long code wraps inside its card rather than pushing the table out of it.
    widths = table.evaluate(
        "(t) => [t.getBoundingClientRect().right, t.closest('.card').getBoundingClientRect().right]"
    )
    assert widths[0] <= widths[1], widths
    _no_markup_in_the_page(page)

    page.goto(f"{live_app.url}/reports/lines/?{PERIOD}&shop=US-NYC")
    lines = page.locator("#table-lines")
    expect(lines).to_contain_text(LINK)
    expect(lines).to_contain_text(STYLED)
    _no_markup_in_the_page(page)


@pytest.mark.parametrize(("grain", "label"), [("day", "19 Apr 2011"), ("week", "18 Apr 2011"), ("month", "Apr 2011")])
def test_one_period_is_labelled_as_that_period_not_fractions_of_a_second(session, live_app, tmp_path, grain, label):
    """One day of sales used to draw a sliver of a bar under ticks such as
    '23:59:59.9996 Apr 18, 2011' (a date axis with one point zooms to sub-seconds)."""
    key = ("mgr_us_nyc", "markup.csv")
    if key not in live_app.uploads:
        page = upload_and_follow(session("mgr_us_nyc"), _hostile_file(tmp_path), "US-NYC")
        expect(page.locator("#upload-status")).to_have_attribute("data-state", "loaded")

    page = session("head_us").page
    page.goto(f"{live_app.url}/reports/?preset=custom&start=2011-04-19&end=2011-04-19&grain={grain}")
    page.wait_for_selector("#chart-over-time[data-drawn=true]", timeout=DRAW_TIMEOUT_MS)
    drawn = page.evaluate(
        """() => {
          const gd = document.getElementById('chart-over-time');
          const bar = gd.querySelector('.bars path').getBBox();
          return {ticks: [...gd.querySelectorAll('.xtick text')].map((t) => t.textContent),
                  share: bar.width / gd._fullLayout.xaxis._length};
        }"""
    )
    assert drawn["ticks"] and not [t for t in drawn["ticks"] if ":" in t], drawn
    assert label in drawn["ticks"], drawn
    assert drawn["share"] > 0.2, drawn  # a bar, not a sliver
