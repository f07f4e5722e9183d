"""The management commands an operator runs: seed_demo, ingest, warehouse_sql, warehouse_sync."""

import json
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.accounts.models import Profile, Region, Shop
from apps.demo.seed import USERS, demo_seed
from apps.etl.models import CountryAlias, FxRate, SalesSchema, SchemaField
from apps.uploads.models import Upload
from tests.factories import upload_loaded

SUMMARY_KEYS = {"upload_id", "file", "status", "rows_read", "rows_loaded", "rows_rejected", "rows_dropped", "message"}
SUMMARY_KEYS |= {"rows_totals"}


def _run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def _counts() -> dict[str, int]:
    models = [get_user_model(), Profile, Region, Shop, SalesSchema, SchemaField, FxRate, CountryAlias]
    return {m.__name__: m.objects.count() for m in models}


# -- seed_demo ----------------------------------------------------------------------------


def test_seed_demo_twice_changes_nothing_the_second_time(db):
    first = _run("seed_demo")
    after_first = _counts()

    second = _run("seed_demo")

    assert _counts() == after_first
    assert after_first["User"] == len(USERS) == 9
    assert (after_first["Region"], after_first["Shop"], after_first["SalesSchema"]) == (4, 8, 1)
    assert "warehouse: create table orders-cleaned" in first
    assert "warehouse" not in second.splitlines()[0]  # nothing left to create


def test_seed_demo_gives_every_demo_user_the_demo_password(db, settings):
    settings.DEMO_PASSWORD = "a-demo-password-42"

    out = _run("seed_demo")

    assert "Demo ready: 4 regions, 8 shops, 9 users" in out
    assert get_user_model().objects.get(username="head_uk").check_password("a-demo-password-42")


def test_seed_demo_again_keeps_what_an_admin_changed_on_a_demo_user(cast):
    head = get_user_model().objects.get(username="head_uk")
    head.set_password("changed-by-the-admin-7")
    head.save()
    head.profile.regions.set(Region.objects.filter(country_code__in=["GB", "FR"]))

    _run("seed_demo")

    head.refresh_from_db()
    assert head.check_password("changed-by-the-admin-7")
    assert sorted(head.profile.regions.values_list("country_code", flat=True)) == ["FR", "GB"]


def test_serve_banner_prints_the_url_and_every_demo_login(settings):
    from apps.demo.management.commands.serve import Command

    settings.DEMO_PASSWORD = "a-demo-password-42"
    out = StringIO()
    Command(stdout=out)._banner("http://127.0.0.1:8000/")

    assert "http://127.0.0.1:8000/" in out.getvalue()
    assert "password a-demo-password-42" in out.getvalue()
    for username, *_ in USERS:
        assert f"  {username} " in out.getvalue()


def test_seed_demo_keeps_an_admin_schema_that_is_already_active(cast):
    SalesSchema.objects.filter(is_active=True).update(max_bad_row_pct=5)

    _run("seed_demo")

    assert list(SalesSchema.objects.values_list("max_bad_row_pct", flat=True)) == [5]


# -- ingest -------------------------------------------------------------------------------


def test_ingest_inline_json_prints_one_summary_per_file(cast, sample):
    files = [sample("bernasiakk_usa.csv"), sample("sales_data_sample_head.csv")]

    out = _run("ingest", *map(str, files), "--shop", "US-NYC", "--inline", "--json")

    summaries = [json.loads(line) for line in out.splitlines()]
    assert [s["file"] for s in summaries] == ["bernasiakk_usa.csv", "sales_data_sample_head.csv"]
    assert all(set(s) == SUMMARY_KEYS for s in summaries)
    assert [
        (s["status"], s["rows_read"], s["rows_loaded"], s["rows_rejected"], s["rows_dropped"]) for s in summaries
    ] == [
        ("loaded", 291, 291, 0, 0),
        ("loaded", 60, 60, 0, 0),
    ]
    assert {str(u) for u in Upload.objects.values_list("id", flat=True)} == {s["upload_id"] for s in summaries}


def test_ingest_without_json_prints_a_line_per_file(cast, sample):
    out = _run("ingest", str(sample("online_retail_sample_sfc.xlsx")), "--shop", "UK-LON", "--inline")

    upload = Upload.objects.get()
    assert out.strip() == (
        f"online_retail_sample_sfc.xlsx: Done ({upload.id}) read 232, loaded 232, rejected 0, dropped 0"
    )


def test_ingest_exits_non_zero_when_a_file_fails_but_still_reports_every_file(cast, sample, tmp_path):
    no_prices = tmp_path / "no_prices.csv"
    no_prices.write_text("InvoiceNo,StockCode,Quantity,InvoiceDate\n536365,85123A,6,12/1/2010 8:26\n")
    files = [str(no_prices), str(sample("bernasiakk_usa.csv"))]
    out = StringIO()

    with pytest.raises(CommandError, match="At least one file failed, was rejected or has columns to match") as failed:
        call_command("ingest", *files, "--shop=US-NYC", "--inline", "--json", stdout=out)

    assert failed.value.returncode == 1
    summaries = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(s["file"], s["status"]) for s in summaries] == [
        ("no_prices.csv", "needs_mapping"),
        ("bernasiakk_usa.csv", "loaded"),
    ]
    assert summaries[0]["message"].startswith("Required columns not found: unit_price.")


def test_ingest_of_an_unknown_shop_names_the_shops_there_are(cast, sample):
    with pytest.raises(CommandError, match=r"No shop 'XX-NOPE'\. Shops: AU-MEL, AU-SYD, FR-LYS"):
        _run("ingest", str(sample("bernasiakk_usa.csv")), "--shop", "XX-NOPE", "--inline")

    assert not Upload.objects.exists()


def test_ingest_of_a_missing_file_is_an_error(cast, tmp_path):
    with pytest.raises(CommandError, match="no such file"):
        _run("ingest", str(tmp_path / "absent.csv"), "--shop", "US-NYC", "--inline")


def test_ingest_of_a_refused_file_type_is_an_error(cast, tmp_path):
    pdf = tmp_path / "sales.pdf"
    pdf.write_bytes(b"%PDF-1.4")

    with pytest.raises(CommandError, match="is not a CSV or Excel file"):
        _run("ingest", str(pdf), "--shop", "US-NYC", "--inline")


def test_ingest_as_a_user_applies_that_user_scope(cast, sample):
    with pytest.raises(CommandError, match="cannot upload for shop US-NYC"):
        _run("ingest", str(sample("bernasiakk_usa.csv")), "--shop", "US-NYC", "--user", "head_us", "--inline")

    out = _run("ingest", str(sample("bernasiakk_usa.csv")), "--shop=US-NYC", "--user=mgr_us_nyc", "--inline")

    assert Upload.objects.get().uploaded_by == cast["mgr_us_nyc"]
    assert ": Done (" in out


def test_ingest_as_an_unknown_user_is_an_error(cast, sample):
    with pytest.raises(CommandError, match="No user 'ghost'"):
        _run("ingest", str(sample("bernasiakk_usa.csv")), "--shop", "US-NYC", "--user", "ghost", "--inline")


# -- warehouse_sql and warehouse_sync -------------------------------------------------------


def test_warehouse_sql_prints_an_aligned_table(cast, sample):
    upload_loaded(cast["mgr_us_nyc"], "US-NYC", sample("bernasiakk_usa.csv"))

    out = _run("warehouse_sql", 'SELECT country_code, count(*) AS lines FROM "orders-cleaned" GROUP BY 1')

    assert out.splitlines() == ["country_code  lines", "------------  -----", "US            291  ", "(1 row)"]


def test_warehouse_sql_json_prints_the_rows_as_a_list(cast, sample):
    upload_loaded(cast["mgr_uk_lon"], "UK-LON", sample("online_retail_sample_sfc.csv"))

    out = _run(
        "warehouse_sql",
        'SELECT country_code, count(*) AS n, min(order_date) AS first FROM "UK_Sales_View" GROUP BY 1',
        "--json",
    )

    assert json.loads(out) == [{"country_code": "GB", "n": 198, "first": "2010-12-01"}]


def test_warehouse_sql_with_no_rows_says_so(cast):
    assert _run("warehouse_sql", 'SELECT * FROM "Master_Sales_View"').strip() == "(no rows)"


def test_warehouse_sql_error_is_a_command_error_with_the_engine_message(cast):
    with pytest.raises(CommandError, match="no_such_table"):
        _run("warehouse_sql", "SELECT * FROM no_such_table")


def test_warehouse_sync_reports_up_to_date_on_the_second_run(db):
    demo_seed(password="unused-password-1")

    first = _run("warehouse_sync")
    second = _run("warehouse_sync")

    assert first.splitlines() == [
        "create table orders-cleaned",
        "create or replace view Aus_Sales_View",
        "create or replace view France_Sales_View",
        "create or replace view UK_Sales_View",
        "create or replace view USA_Sales_View",
        "create or replace view Master_Sales_View",
    ]
    assert second.strip() == "Warehouse is up to date."


def test_warehouse_sync_adds_the_view_of_a_new_region(cast):
    Region.objects.create(
        name="Germany", country_code="DE", currency="EUR", date_order="DMY", view_name="DE_Sales_View"
    )

    assert _run("warehouse_sync").strip() == "create or replace view DE_Sales_View"
    assert _run("warehouse_sql", 'SELECT count(*) AS n FROM "DE_Sales_View"', "--json").strip() == '[{"n": 0}]'


def test_ingest_goes_on_with_the_other_files_after_a_refused_one(cast, sample, tmp_path):
    pdf = tmp_path / "sales.pdf"
    pdf.write_bytes(b"%PDF-1.4")
    out = StringIO()

    with pytest.raises(CommandError, match=r"Refused: .*sales\.pdf") as refused:
        call_command("ingest", str(pdf), str(sample("bernasiakk_usa.csv")), "--shop=US-NYC", "--inline", stdout=out)

    assert refused.value.returncode == 1
    assert Upload.objects.get().original_name == "bernasiakk_usa.csv"
    assert "bernasiakk_usa.csv: Done" in out.getvalue()
