"""Issue 18, "done when": after a mix of overlapping, replaced and corrected uploads of real
files, the figures every role reads (the charts page, the exports, the API's upload counts)
agree with the warehouse's own totals under the rule of who sees what, every sale is in the
warehouse once, and each upload's count agrees with the rows it holds.

The mix, on top of five shops' real files (tests/reports/regions_mix.py):
- US-NYC: the same 291 lines again with a byte-order mark (held as overlap; "load only the
  new lines" loads none), then 100 of them with two-digit years plus 20 new lines (held;
  "replace" takes the 100 from the first upload and loads 120);
- FR-PAR: a corrected file (the last 50 lines gone) replacing the first;
- UK-LON: a slice with an `Unspecified` row, mapped by the manager to the shop's country,
  the same upload processed again (the row loads into it, not as a copy);
- AU-SYD: its file again in other bytes (held; cancelled).
"""

import json
import re
from datetime import date

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token

from apps.accounts.access import scope_for
from apps.uploads.country_fixes import upload_country_map
from apps.uploads.models import Upload, UploadDay
from apps.uploads.reconcile import uploads_reconcile
from apps.uploads.services import upload_overlap_decide
from apps.warehouse.services import warehouse
from tests.factories import upload_loaded
from tests.overlap.copies import csv_bytes, rows_of
from tests.reports.regions_mix import FILES, expected_where, regions_mix_load, warehouse_figures
from tests.uploads.conftest import worker_inline  # noqa: F401 (fixture)

VIEWERS = ["admin", "head_us", "head_uk", "head_fr", "head_au", "mgr_us_nyc", "mgr_uk_lon", "mgr_fr_par", "mgr_au_syd"]
ALL_TIME = "preset=all"
SLICE = "online_retail_sample_vikash_slice.csv"


def _two_digit_years(header: list[str], rows: list[list[str]]) -> list[list[str]]:
    col = header.index("InvoiceDate")
    return [[*row[:col], re.sub(r"/(\d\d)(\d\d) ", r"/\2 ", row[col]), *row[col + 1 :]] for row in rows]


def _upload(cast, tmp_path, user: str, shop: str, name: str, content: bytes, **options) -> Upload:
    path = tmp_path / name
    path.write_bytes(content)
    return upload_loaded(cast[user], shop, path, **options)


def _decide(cast, upload: Upload, choice: str, inline, user: str = "mgr_us_nyc") -> Upload:
    with inline():
        upload_overlap_decide(scope=scope_for(cast[user]), upload=upload, choice=choice, by=cast[user])
    upload.refresh_from_db()
    return upload


@pytest.fixture
def mixed(cast, sample, tmp_path, worker_inline) -> dict[str, Upload]:  # noqa: F811
    uploads = regions_mix_load(cast, sample, tmp_path)

    # US-NYC: the same lines in other bytes, then a partial correction with new lines.
    header, usa = rows_of(sample(FILES["new_york"][2]))
    again = _upload(cast, tmp_path, "mgr_us_nyc", "US-NYC", "usa-bom.csv", b"\xef\xbb\xbf" + csv_bytes(header, usa))
    assert (again.status, again.report["overlap"]["lines"]) == (Upload.Status.OVERLAP, len(usa))
    uploads["nyc_again"] = _decide(cast, again, "new_only", worker_inline)
    assert uploads["nyc_again"].rows_loaded == 0
    code = header.index("StockCode")
    new_lines = [[*row[:code], row[code] + "-NEW", *row[code + 1 :]] for row in usa[100:120]]
    fix = csv_bytes(header, _two_digit_years(header, usa[:100] + new_lines))
    corrected = _upload(cast, tmp_path, "mgr_us_nyc", "US-NYC", "usa-fix.csv", fix)
    assert (corrected.status, corrected.report["overlap"]["lines"]) == (Upload.Status.OVERLAP, 100)
    uploads["nyc_fix"] = _decide(cast, corrected, "replace", worker_inline)
    assert uploads["nyc_fix"].rows_loaded == 120

    # FR-PAR: a corrected file replacing the first.
    header, france = rows_of(sample(FILES["paris"][2]))
    uploads["paris_fix"] = _upload(
        cast,
        tmp_path,
        "mgr_fr_par",
        "FR-PAR",
        "france-fix.csv",
        csv_bytes(header, france[:-50]),
        replaces=uploads["paris"],
    )
    assert uploads["paris_fix"].status in Upload.IN_WAREHOUSE

    # UK-LON: a rejected "Unspecified" mapped to the shop's country, loaded into the same upload.
    slice_upload = _upload(cast, tmp_path, "mgr_uk_lon", "UK-LON", SLICE, sample(SLICE).read_bytes())
    assert slice_upload.report["unknown_countries"].get("Unspecified") == 1
    with worker_inline():
        upload_country_map(
            scope=scope_for(cast["mgr_uk_lon"]),
            user=cast["mgr_uk_lon"],
            upload=slice_upload,
            value="Unspecified",
            country_code="GB",
        )
    slice_upload.refresh_from_db()
    assert "Unspecified" not in slice_upload.report["unknown_countries"]
    uploads["london_slice"] = slice_upload

    # AU-SYD: its file again with ISO dates, cancelled.
    header, germany = rows_of(sample(FILES["sydney"][2]))
    other_bytes = csv_bytes(header, germany)  # LF where the file has CRLF
    held = _upload(cast, tmp_path, "mgr_au_syd", "AU-SYD", "germany-again.csv", other_bytes)
    assert held.status == Upload.Status.OVERLAP
    uploads["sydney_again"] = _decide(cast, held, "cancel", worker_inline, user="mgr_au_syd")
    assert uploads["sydney_again"].status == Upload.Status.CANCELLED
    for key in ("new_york", "paris"):
        uploads[key].refresh_from_db()
    return uploads


def _json(response) -> dict:
    return json.loads(b"".join(response.streaming_content) if response.streaming else response.content)


def _kpi(text: str, name: str) -> str:
    return re.search(rf'data-kpi="{name}"[^>]*>\s*<span>[^<]*</span>\s*<strong>([^<]*)<', text).group(1)


def test_each_sale_is_in_the_warehouse_once_and_each_upload_holds_what_it_says(mixed):
    sql = 'SELECT count(*) AS n, count(DISTINCT store_id || line_key) AS keys FROM "orders-cleaned"'
    row = warehouse().query(sql, {}).to_pylist()[0]
    assert row["n"] == row["keys"]

    mixed["new_york"].refresh_from_db()
    assert mixed["new_york"].rows_loaded == 291 - 100  # 100 replaced by the corrected lines
    assert warehouse_figures("store_id = 'US-NYC'")["lines"] == 291 - 100 + 120 + 1  # + the stray 2023 sale
    assert warehouse_figures(f"upload_id = '{mixed['paris'].id}'")["lines"] == 0
    assert warehouse_figures(f"upload_id = '{mixed['london_slice'].id}'")["lines"] == mixed["london_slice"].rows_loaded
    result = uploads_reconcile()
    assert result.mismatches == [] and result.unknown == {}


@pytest.mark.parametrize("username", VIEWERS)
def test_every_role_reads_the_warehouse_totals_of_their_rows(cast, mixed, username):
    client = Client()
    client.force_login(cast[username])
    want = warehouse_figures(expected_where(cast[username]))

    page = client.get(f"{reverse('reports:master')}?{ALL_TIME}")
    kpis = {
        r[0]: r[1] for r in _json(client.get(f"{reverse('reports:export', args=['kpis', 'json'])}?{ALL_TIME}"))["rows"]
    }
    lines = _json(client.get(f"{reverse('reports:export', args=['lines', 'json'])}?{ALL_TIME}"))
    by_shop = _json(client.get(f"{reverse('reports:export', args=['by_shop', 'json'])}?{ALL_TIME}"))

    assert _kpi(page.text, "revenue") == f"{want['revenue']:,.2f} USD"
    assert _kpi(page.text, "orders") == f"{want['orders']:,}"
    assert (kpis["orders"], kpis["revenue"]) == (want["orders"], pytest.approx(want["revenue"]))
    assert len(lines["rows"]) == want["lines"] and not lines["truncated"]
    assert sum(row[2] for row in by_shop["rows"]) == pytest.approx(want["revenue"])

    # The API's uploads not replaced since: their loaded counts add up to the warehouse's rows.
    api = Client(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=cast[username]).key}")
    listed = api.get(reverse("api:uploads")).json()
    listed = [u for u in (listed["results"] if isinstance(listed, dict) else listed) if not u["replaced_by"]]
    ids = ", ".join(f"'{u['id']}'" for u in listed) or "NULL"
    assert sum(u["rows_loaded"] or 0 for u in listed) == warehouse_figures(f"upload_id IN ({ids})")["lines"]


def test_the_days_the_app_database_keeps_are_the_warehouses(cast, mixed):
    """The report pages read the days with data, the uploads' spans and the coverage from
    the uploads' days kept at load time (UploadDay): after lines displaced ("replace"), a
    corrected upload replacing its first, a row mapped and loaded again and a cancel, they
    are the lines the warehouse holds per upload, day, country and shop, to the line."""
    sql = (
        'SELECT upload_id, order_date, country_code, store_id, count(*) AS n FROM "orders-cleaned" '
        "WHERE order_date BETWEEN $first AND $last GROUP BY upload_id, order_date, country_code, store_id"
    )
    held = warehouse().query(sql, {"first": date(1900, 1, 1), "last": date(2100, 1, 1)}).to_pylist()
    in_warehouse = {
        (r["upload_id"], r["order_date"], r["country_code"] or "", r["store_id"] or ""): r["n"] for r in held
    }
    kept = {(str(d.upload_id), d.order_date, d.country_code, d.store_id): d.lines for d in UploadDay.objects.all()}
    assert kept == in_warehouse
    assert str(mixed["paris"].id) not in {key[0] for key in kept}  # replaced: none of its days
