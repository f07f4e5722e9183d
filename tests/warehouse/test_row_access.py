"""Row access policies on orders-cleaned (issue 19, point 6): one per region, granted to the
region's Google group, with the predicate of the app's own scope of that region's head, and
the TRUE filter for the app's service account.

The BigQuery emulator (local-bigquery) runs CREATE/DROP ROW ACCESS POLICY, lists policies
(REST rowAccessPolicies.list) and enforces them per caller: it names the caller from the
e-mail in the bearer token and knows the groups of tests/emulators/servers.py's
EMULATOR_GROUPS. So these tests query as a member of a region's group, through the views
as Looker Studio does, and compare with what the app shows that region's head.
"""

import base64
import datetime as dt
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from google.api_core.client_options import ClientOptions
from google.auth import credentials as gauth
from google.cloud import bigquery as bq

from apps.accounts.access import Scope, regional_head_scope, scope_for
from apps.accounts.models import Region, Shop
from apps.etl.schemas import warehouse_sync_with_schema
from apps.reports.query import Read, read_table
from apps.uploads.models import Upload
from apps.warehouse.bigquery import create_row_access_policy_sql
from apps.warehouse.fact import FACT_TABLE, MASTER_VIEW
from apps.warehouse.row_access import (
    RowAccessPolicy,
    literal_predicate,
    region_policy,
    row_access_policies,
    scope_predicate,
)
from apps.warehouse.services import warehouse
from tests.factories import upload_loaded

# Real files: London's has French and Australian customers, Paris's (sales_data_sample)
# customers in the US, the UK, Australia and countries no region covers.
FILES = [
    ("mgr_us_nyc", "US-NYC", "bernasiakk_usa.csv"),
    ("mgr_uk_lon", "UK-LON", "online_retail_sample_sfc.csv"),
    ("admin", "FR-PAR", "sales_data_sample_head.csv"),
]
EVERY_DAY = (dt.date(1900, 1, 1), dt.date(2999, 12, 31))
GROUPS = {"GB": "uk-heads@example.com", "US": "us-heads@example.com"}
APP = "user:local-bigquery@localhost"  # the emulator's caller without a token: the app's client
HEADS = {"US": "head_us", "GB": "head_uk", "FR": "head_fr", "AU": "head_au"}


def load_files(cast, sample) -> None:
    for user, shop, name in FILES:
        assert upload_loaded(cast[user], shop, sample(name)).status in {
            Upload.Status.LOADED,
            Upload.Status.LOADED_WITH_ERRORS,
        }


def app_rows(scope: Scope) -> set[tuple[str, int]]:
    """The fact rows the app's reports show this scope (its own read path)."""
    read = Read(view=MASTER_VIEW, scope=scope, columns=("upload_id", "source_row"), dates=EVERY_DAY)
    return {(str(r["upload_id"]), int(r["source_row"])) for r in read_table(read).to_pylist()}


def rows_where(predicate: str) -> set[tuple[str, int]]:
    sql = f'SELECT upload_id, source_row FROM "{FACT_TABLE}" WHERE order_date BETWEEN $a AND $b AND ({predicate})'
    table = warehouse().query(sql, {"a": EVERY_DAY[0], "b": EVERY_DAY[1]})
    return {(str(r["upload_id"]), int(r["source_row"])) for r in table.to_pylist()}


@pytest.fixture(autouse=True)
def no_policies_left(request, settings):
    """The emulator applies its row access policies to every query of the project once any
    table has one (it expands views then): drop this test's, so later tests see none."""
    yield
    if settings.WAREHOUSE == "bigquery" and warehouse().row_access_filters():
        wh = warehouse()
        wh.client().query_and_wait(f"DROP ALL ROW ACCESS POLICIES ON {wh._ref(FACT_TABLE)}")


# -- the predicate ------------------------------------------------------------------------


def test_a_regions_policy_is_its_heads_scope_predicate_with_the_values_written_in(cast):
    policy = region_policy(Region(country_code="GB", looker_group="UK-Heads@Example.com"))

    sql, _ = scope_predicate(scope_for(cast["head_uk"]))
    assert policy.predicate == sql.replace("$scope_country_0", "'GB'").replace("$scope_shop_0", "'UK-LON'").replace(
        "$scope_shop_1", "'UK-MAN'"
    )
    assert policy.predicate == "(country_code IN ('GB') OR store_id IN ('UK-LON', 'UK-MAN'))"
    assert policy.grantees == ("group:uk-heads@example.com",)
    assert policy.name.startswith("region_gb_")
    # The name carries the group (BigQuery does not return grantees): another group, another policy.
    assert region_policy(Region(country_code="GB", looker_group="other@example.com")).name != policy.name


def test_a_value_that_is_not_a_code_is_never_written_into_a_policy():
    with pytest.raises(ValueError, match="Not a shop or country code"):
        literal_predicate(Scope(country_codes=frozenset({"GB') OR TRUE OR ('"})))
    with pytest.raises(ValueError, match="Not an IAM member"):
        RowAccessPolicy("region_gb_x", ('group:a@example.com") FILTER USING (TRUE',), "TRUE")
    with pytest.raises(ValueError, match="Bad row access policy name"):
        RowAccessPolicy("region-gb", ("group:a@example.com",), "TRUE")


def test_the_apps_account_gets_the_true_filter_and_regions_without_a_group_get_none(cast):
    Region.objects.filter(country_code="GB").update(looker_group="uk-heads@example.com")
    policies = row_access_policies(service_account="sales@p.iam.gserviceaccount.com", also_all_rows=["group:a@x.com"])

    assert policies[0].predicate == "TRUE"
    assert policies[0].grantees == ("group:a@x.com", "serviceAccount:sales@p.iam.gserviceaccount.com")
    assert [p.name[: len("region_gb_")] for p in policies[1:]] == ["region_gb_"]
    with pytest.raises(ValueError, match="BIGQUERY_SERVICE_ACCOUNT"):
        row_access_policies(service_account="")


def test_each_policy_selects_exactly_the_rows_its_regions_head_sees_in_the_app(cast, sample):
    # The embedded warehouse (DuckDB) evaluates each policy's predicate over real loaded rows.
    load_files(cast, sample)
    everything = rows_where("TRUE")
    assert len(everything) > 100
    policies = {}
    for region in Region.objects.all():
        region.looker_group = f"{region.country_code.lower()}@example.com"
        policies[region.country_code] = region_policy(region)
        seen = app_rows(scope_for(cast[HEADS[region.country_code]]))
        assert seen, region  # every head sees rows of these files
        assert rows_where(policies[region.country_code].predicate) == seen, region.country_code
    # A head of two regions sees the union, as BigQuery ORs the policies a member is granted.
    both = rows_where(policies["GB"].predicate) | rows_where(policies["US"].predicate)
    assert both == app_rows(regional_head_scope(["GB", "US"]))
    assert both < everything


# -- on the emulator ----------------------------------------------------------------------


class Caller(gauth.Credentials):
    """Sends a bearer token whose claims name `email`: who the emulator takes the caller for."""

    def __init__(self, email: str) -> None:
        super().__init__()
        claims = base64.urlsafe_b64encode(json.dumps({"email": email}).encode()).decode().rstrip("=")
        self.token = f"e30.{claims}.x"

    def refresh(self, request) -> None:
        pass


def rows_as(email: str, view: str) -> set[tuple[str, int]]:
    wh = warehouse()
    client = bq.Client(
        project=wh.project, credentials=Caller(email), client_options=ClientOptions(api_endpoint=wh.api_endpoint)
    )
    sql = f"SELECT upload_id, source_row FROM `{wh.table_id(view)}` WHERE order_date BETWEEN @a AND @b"
    params = [bq.ScalarQueryParameter("a", "DATE", EVERY_DAY[0]), bq.ScalarQueryParameter("b", "DATE", EVERY_DAY[1])]
    rows = client.query_and_wait(sql, job_config=bq.QueryJobConfig(query_parameters=params))
    return {(str(r["upload_id"]), int(r["source_row"])) for r in rows}


@pytest.mark.integration
def test_a_regions_group_reads_in_bigquery_what_its_head_sees_in_the_app(bigquery, cast, sample, settings):
    settings.BIGQUERY_SERVICE_ACCOUNT = APP
    for code, group in GROUPS.items():
        Region.objects.filter(country_code=code).update(looker_group=group)
    load_files(cast, sample)
    everything = app_rows(scope_for(cast["admin"]))

    call_command("warehouse_sync", "--row-access")

    uk, us = app_rows(scope_for(cast["head_uk"])), app_rows(scope_for(cast["head_us"]))
    assert uk and us and uk != us
    assert rows_as("uk-viewer@example.com", MASTER_VIEW) == uk  # through the view, as Looker Studio reads
    assert rows_as("uk-viewer@example.com", FACT_TABLE) == uk
    assert rows_as("us-viewer@example.com", MASTER_VIEW) == us
    assert rows_as("two-regions@example.com", MASTER_VIEW) == app_rows(regional_head_scope(["GB", "US"]))
    assert rows_as("nobody@example.com", MASTER_VIEW) == set()  # in no group: no row at all
    # The app itself (the TRUE filter) still reads and loads everything.
    assert app_rows(scope_for(cast["admin"])) == everything


@pytest.mark.integration
def test_row_access_sync_replaces_changed_groups_and_drops_deleted_regions(bigquery, cast, settings, capsys):
    settings.BIGQUERY_SERVICE_ACCOUNT = "sales-app@local.iam.gserviceaccount.com"
    Region.objects.filter(country_code="GB").update(looker_group="uk-heads@example.com")
    japan = Region.objects.create(
        name="Japan",
        country_code="JP",
        currency="JPY",
        date_order="DMY",
        view_name="JP_Sales_View",
        looker_group="jp@example.com",
    )
    wh = warehouse()
    # A policy warehouse_sync did not make is left alone.
    wh.client().query_and_wait(
        f'CREATE ROW ACCESS POLICY auditors ON `{wh.table_id(FACT_TABLE)}` GRANT TO ("group:audit@example.com") '
        "FILTER USING (TRUE)"
    )
    with pytest.raises(SystemExit) as exited:
        call_command("warehouse_sync", "--row-access", "--check")
    assert exited.value.code == 1
    out = capsys.readouterr().out
    assert "would create row access policy app_all_rows_" in out
    assert "for serviceAccount:sales-app@local.iam.gserviceaccount.com: TRUE" in out
    assert "would create view JP_Sales_View" in out
    assert wh.row_access_filters().keys() == {"auditors"}  # --check changed nothing

    call_command("warehouse_sync", "--row-access")
    first = wh.row_access_filters()
    assert first[region_policy(Region.objects.get(country_code="GB")).name] == (
        "(country_code IN ('GB') OR store_id IN ('UK-LON', 'UK-MAN'))"
    )
    assert first[region_policy(japan).name] == "(country_code IN ('JP'))"
    call_command("warehouse_sync", "--row-access", "--check")
    assert "up to date" in capsys.readouterr().out

    old_uk = region_policy(Region.objects.get(country_code="GB")).name
    Region.objects.filter(country_code="GB").update(looker_group="uk-sales@example.com")
    japan.delete()
    Shop.objects.create(code="UK-EDI", name="Edinburgh", region=Region.objects.get(country_code="GB"))
    call_command("warehouse_sync", "--row-access")
    out = capsys.readouterr().out
    new_uk = region_policy(Region.objects.get(country_code="GB"))
    assert f"create row access policy {new_uk.name} for group:uk-sales@example.com" in out
    assert f"drop row access policy {old_uk}" in out
    assert f"drop row access policy {region_policy(japan).name}" in out
    after = wh.row_access_filters()
    assert after.keys() == {first_name for first_name in first if first_name.startswith("app_all_rows_")} | {
        new_uk.name,
        "auditors",
    }
    assert after[new_uk.name] == "(country_code IN ('GB') OR store_id IN ('UK-EDI', 'UK-LON', 'UK-MAN'))"


@pytest.mark.integration
def test_row_access_needs_the_apps_service_account(bigquery, cast, settings):
    settings.BIGQUERY_SERVICE_ACCOUNT = ""
    with pytest.raises(CommandError, match="BIGQUERY_SERVICE_ACCOUNT is not set"):
        call_command("warehouse_sync", "--row-access")
    assert warehouse().row_access_filters() == {}


def test_the_embedded_warehouse_has_no_row_access_policies(cast, settings):
    settings.BIGQUERY_SERVICE_ACCOUNT = "sales@p.iam.gserviceaccount.com"
    with pytest.raises(CommandError, match="has no row access policies"):
        call_command("warehouse_sync", "--row-access")


def test_every_policy_statement_is_valid_googlesql_for_the_fact_table(cast):
    """Google's ZetaSQL analyzer (PyPI zetasql) resolves each CREATE ROW ACCESS POLICY against
    the fact table's columns: a predicate naming a column the table lacks fails here."""
    zetasql = pytest.importorskip("zetasql.api")
    import zetasql.types as zt

    from apps.warehouse.bigquery_dialect import schema_fields

    kinds = {"STRING": zt.TypeKind.TYPE_STRING, "INT64": zt.TypeKind.TYPE_INT64, "DATE": zt.TypeKind.TYPE_DATE}
    kinds |= {"TIMESTAMP": zt.TypeKind.TYPE_TIMESTAMP, "NUMERIC": zt.TypeKind.TYPE_NUMERIC}
    kinds |= {"BOOL": zt.TypeKind.TYPE_BOOL}
    from apps.warehouse.fact import FACT_SCHEMA

    table = zetasql.TableBuilder(FACT_TABLE)
    for field in schema_fields(FACT_SCHEMA):
        table = table.add_column(field.name, kinds[field.field_type])
    language = zt.LanguageOptions.maximum_features()
    catalog = (
        zetasql.CatalogBuilder("sales")
        .add_table(table.build())
        .with_builtin_functions(zt.ZetaSQLBuiltinFunctionOptions(language_options=language))
        .build()
    )
    analyzer = zetasql.Analyzer(zt.AnalyzerOptions(language_options=language), catalog)
    regions = list(Region.objects.all())
    for region in regions:
        region.looker_group = "g@example.com"
    policies = row_access_policies(service_account="a@p.iam.gserviceaccount.com") + [region_policy(r) for r in regions]
    for policy in policies:
        statement = analyzer.analyze_statement(create_row_access_policy_sql(policy, f"`{FACT_TABLE}`"))
        assert type(statement).__name__ == "ResolvedCreateRowAccessPolicyStmt"
    wrong = RowAccessPolicy("region_xx_0", ("group:g@example.com",), "(country IN ('GB'))")
    with pytest.raises(Exception, match="Unrecognized name: country"):
        analyzer.analyze_statement(create_row_access_policy_sql(wrong, f"`{FACT_TABLE}`"))


@pytest.mark.integration
def test_with_bigquery_row_access_set_every_sync_makes_the_policies(bigquery, cast, settings):
    settings.BIGQUERY_SERVICE_ACCOUNT = APP
    settings.BIGQUERY_ROW_ACCESS = True
    Region.objects.filter(country_code="US").update(looker_group="us-heads@example.com")

    changes = warehouse_sync_with_schema()

    policy = region_policy(Region.objects.get(country_code="US"))
    assert f"create row access policy {policy.name} for group:us-heads@example.com: {policy.predicate}" in changes
    assert policy.name in warehouse().row_access_filters()
    assert warehouse_sync_with_schema() == []
