"""Labels from data reach Plotly as text, not as its pseudo-HTML (issue 17, point 3).

Plotly draws titles, tick labels, legend entries and hover labels from a pseudo-HTML:
<a href> is a working link, <b>, <i>, <br>, <span style> format. A product code or a
category from an uploaded file is escaped (&lt; &gt; &amp;, which Plotly draws as the
characters), and a hover template names fields (%{y}, %{fullData.name}), never data. The
browser test (tests/browser/test_report_markup_browser.py) looks at what Chromium draws."""

import pytest
from django.test import Client
from django.urls import reverse

from apps.reports.charts import plotly_text
from apps.warehouse.services import warehouse
from tests.reports.facts import FIRST_DAY, LAST_DAY, facts_recorded, load_facts

LINK = '<a href="https://evil.example/phish">CLAIM-REFUND</a>'
BOLD = "<b>bold</b>"
TEMPLATE_FIELD = "%{fullData.name}"  # a hover template field, in data
PERIOD = "preset=custom&start=2011-09-01&end=2011-12-09"


@pytest.fixture
def hostile_labels(cast):
    """Every shop's facts; US-NYC's products carry a link as code, a template field as name
    and bold markup as category."""
    uploads = load_facts()
    nyc = str(uploads["US-NYC"].id)
    table = warehouse().query(
        f"SELECT * FROM \"orders-cleaned\" WHERE upload_id = '{nyc}' AND order_date BETWEEN $first AND $last",
        {"first": FIRST_DAY, "last": LAST_DAY},
    )
    table = table.set_column(table.schema.get_field_index("product_id"), "product_id",
                             [[LINK] * table.num_rows])  # fmt: skip
    table = table.set_column(table.schema.get_field_index("product_name"), "product_name",
                             [[TEMPLATE_FIELD] * table.num_rows])  # fmt: skip
    table = table.set_column(table.schema.get_field_index("category"), "category", [[BOLD] * table.num_rows])
    warehouse().replace_batch(upload_id=nyc, table=table)
    facts_recorded(nyc, table)
    return uploads


def _texts(value) -> list[str]:
    if isinstance(value, dict):
        return [t for v in value.values() for t in _texts(v)]
    if isinstance(value, list):
        return [t for v in value for t in _texts(v)]
    return [value] if isinstance(value, str) else []


@pytest.mark.usefixtures("hostile_labels")
@pytest.mark.parametrize("username", ["admin", "head_us"])
def test_labels_from_data_reach_plotly_escaped(cast, username):
    client = Client()
    client.force_login(cast[username])
    response = client.get(f"{reverse('reports:master')}?{PERIOD}")

    figures = [chart["figure"] for chart in response.context["charts"]]
    texts = [t for figure in figures for t in _texts({"data": figure["data"], "layout": figure["layout"]})]
    assert [t for t in texts if plotly_text(LINK) in t] and plotly_text(BOLD) in texts
    # No text Plotly draws holds markup from data.
    assert not [t for t in texts if "<a" in t or "<b>" in t]
    # The hover templates hold Plotly's own markup and fields only: no data.
    templates = {trace["hovertemplate"] for figure in figures for trace in figure["data"]}
    assert templates == {
        "%{fullData.name} %{x}<br>%{y:,.2f} USD<extra></extra>",
        "%{y}<br>%{x:,.2f} USD<extra></extra>",
    }
    # The page's tables show the text escaped; its chart data holds no "<" (json_script).
    html = response.content.decode()
    assert LINK not in html and BOLD not in html
    assert "&lt;a href=&quot;https://evil.example/phish&quot;&gt;CLAIM-REFUND&lt;/a&gt;" in html


def test_plotly_text_writes_markup_as_literal_text():
    assert plotly_text(LINK) == '&lt;a href="https://evil.example/phish"&gt;CLAIM-REFUND&lt;/a&gt;'
    assert plotly_text("Fish &amp; chips <br>") == "Fish &amp;amp; chips &lt;br&gt;"
    assert plotly_text(None) == ""
