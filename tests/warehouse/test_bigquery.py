"""The BigQuery backend, with the real google-cloud-bigquery client against local-bigquery.

What the emulator cannot show, and so these tests do not claim: partition pruning and
bytes billed (it answers from DuckDB, so a partition filter changes no cost), the effect
of clustering, IAM (no authentication; row access policies it does enforce per caller:
tests/warehouse/test_row_access.py), quotas, 429 rate limits
and 5xx faults (our retries are tested with a raising callable below instead), and the
isolation of concurrent multi-statement transactions on Google's servers
(test_bigquery_writes.py puts a double of those in front of the emulator). It does show
table partitioning/clustering metadata, views, load jobs from parquet bytes and gs://
URIs, MERGE/DELETE/INSERT in a transaction, and typed query parameters.
"""

import datetime as dt
import decimal
import re
import uuid

import pyarrow.parquet as pq
import pytest
from django.core.management import call_command
from google.api_core import exceptions as gexc

from apps.warehouse.base import ParquetBatch, WarehouseBusy, WarehouseError
from apps.warehouse.bigquery import BigQueryWarehouse
from apps.warehouse.bigquery_dialect import is_transient, to_googlesql
from apps.warehouse.fact import FACT_TABLE, MASTER_VIEW, ViewSpec
from apps.warehouse.services import warehouse
from tests.warehouse.factories import EVERY_DAY, TRUNC_EXPECTED, date_trunc_periods, fact_rows

pytestmark = pytest.mark.integration
VIEWS = [ViewSpec("USA_Sales_View", "US"), ViewSpec("UK_Sales_View", "GB"), ViewSpec(MASTER_VIEW)]


def count(where: str = "TRUE", **params) -> int:
    sql = f'SELECT count(*) AS n FROM "{FACT_TABLE}" WHERE {EVERY_DAY} AND ({where})'
    return warehouse().query(sql, params).column(0)[0].as_py()


def test_sync_creates_a_day_partitioned_clustered_table_and_the_views(bigquery, settings):
    wh = warehouse()
    changes = wh.ensure_schema(views=VIEWS)

    assert changes[0].startswith("create dataset")
    table = wh.client().get_table(wh.table_id(FACT_TABLE))
    assert (table.time_partitioning.type_, table.time_partitioning.field) == ("DAY", "order_date")
    assert table.clustering_fields == ["country_code", "store_id", "product_id"]
    assert [f.field_type for f in table.schema][:5] == ["STRING", "INTEGER", "STRING", "DATE", "TIMESTAMP"]
    uk = wh.client().get_table(wh.table_id("UK_Sales_View"))
    assert uk.table_type == "VIEW" and "country_code = 'GB'" in uk.view_query
    assert wh.ensure_schema(views=VIEWS) == []


def test_sync_check_says_what_would_change_and_changes_nothing(bigquery, cast, capsys):
    # `cast` has already synced; a new region's view is what is missing now.
    from apps.accounts.models import Region

    Region.objects.create(name="Japan", country_code="JP", currency="JPY", date_order="DMY", view_name="JP_Sales_View")
    with pytest.raises(SystemExit) as exited:
        call_command("warehouse_sync", "--check")
    assert exited.value.code == 1
    assert "would create view JP_Sales_View" in capsys.readouterr().out
    assert warehouse().ensure_schema(views=[ViewSpec("JP_Sales_View", "JP")], dry_run=True) != []

    call_command("warehouse_sync")
    call_command("warehouse_sync", "--check")
    assert "up to date" in capsys.readouterr().out


def test_replacing_a_batch_twice_leaves_its_rows_once_and_others_untouched(bigquery):
    wh = warehouse()
    wh.ensure_schema(views=VIEWS)
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    wh.replace_batch(upload_id=a, table=fact_rows(a, 5))
    wh.replace_batch(upload_id=b, table=fact_rows(b, 3, country="GB"))
    assert wh.replace_batch(upload_id=a, table=fact_rows(a, 4, day=2)) == 4
    wh.replace_batch(upload_id=a, table=fact_rows(a, 4, day=2))

    assert count("upload_id = $u", u=a) == 4
    assert count("upload_id = $u", u=b) == 3
    assert count("order_date = $d", d=dt.date(2024, 1, 1)) == 3  # a's old day-1 rows are gone
    assert wh.query(f'SELECT count(*) FROM "UK_Sales_View" WHERE {EVERY_DAY}').column(0)[0].as_py() == 3
    assert wh.delete_batch(upload_id=a) == 4
    assert (count(), count("upload_id = $u", u=b)) == (3, 3)
    # Staging tables live in a dataset of their own, expiring after a day, dropped once applied.
    assert not [t for t in wh.client().list_tables(f"{wh.project}.{wh.dataset}") if t.table_id.startswith("_")]
    staging = wh.client().get_dataset(f"{wh.project}.{wh.dataset}_staging")
    assert staging.default_table_expiration_ms == 24 * 3600 * 1000
    assert list(wh.client().list_tables(staging)) == []


def test_query_binds_typed_parameters_including_lists(bigquery):
    wh = warehouse()
    wh.ensure_schema(views=VIEWS)
    u = str(uuid.uuid4())
    wh.replace_batch(upload_id=u, table=fact_rows(u, 6))

    assert count("country_code IN ($c0, $c1)", c0="US", c1="GB") == 6
    assert count("product_id IN UNNEST($ids)", ids=["P0", "P1"]) == 4
    assert count("quantity = $q AND NOT is_return = $r", q=2, r=True) == 6
    assert count("revenue = $rev", rev=decimal.Decimal("2.5")) == 6
    # A value that looks like SQL is only ever a value.
    assert count("store_id = $s", s="S1' OR '1'='1") == 0


def test_a_parquet_batch_is_loaded_from_its_file_as_it_is(bigquery, tmp_path):
    wh = warehouse()
    wh.ensure_schema(views=VIEWS)
    u = str(uuid.uuid4())
    path = tmp_path / "fact.parquet"
    pq.write_table(fact_rows(u, 7), path)
    committing = []

    assert wh.replace_batch(upload_id=u, table=ParquetBatch(path, committing=lambda: committing.append(1))) == 7

    assert count("upload_id = $u", u=u) == 7
    assert committing == [1]


def test_periods_are_days_iso_weeks_and_months_as_in_the_embedded_warehouse(bigquery):
    wh = warehouse()
    wh.ensure_schema(views=VIEWS)
    assert date_trunc_periods(wh) == TRUNC_EXPECTED  # a plain WEEK would start on Sunday
    with pytest.raises(ValueError):
        wh.sql_date_trunc("order_date", "quarter")


def test_a_permanent_fault_is_raised_with_bigquerys_reason(bigquery):
    wh = warehouse()
    with pytest.raises(WarehouseError, match=r"BigQuery query failed: .*"):
        wh.query('SELECT no_such_column FROM "orders-cleaned"')


def test_transient_faults_are_retried_and_permanent_ones_are_not():
    wh = BigQueryWarehouse(project="p", dataset="d", retry_delay=0.001)
    faults = [gexc.ServiceUnavailable("503"), gexc.TooManyRequests("429")]

    def flaky() -> str:
        if faults:
            raise faults.pop(0)
        return "done"

    assert wh._retrying("load", flaky) == "done"

    def always_busy():
        raise gexc.BadRequest("Transaction is aborted due to concurrent update against table x")

    with pytest.raises(WarehouseBusy, match="still failing after"):
        wh._retrying("swap", always_busy)
    with pytest.raises(WarehouseError, match="Provided Schema does not match"):
        wh._retrying("load", lambda: (_ for _ in ()).throw(gexc.BadRequest("Provided Schema does not match")))


def test_fault_classification():
    rate_limited = gexc.Forbidden("Exceeded rate limits", errors=[{"reason": "rateLimitExceeded"}])
    quota = gexc.Forbidden("Quota exceeded: daily", errors=[{"reason": "quotaExceeded"}])
    assert is_transient(rate_limited) and is_transient(gexc.InternalServerError("x"))
    assert is_transient(ConnectionError()) and not is_transient(quota)
    assert not is_transient(gexc.NotFound("no table")) and not is_transient(ValueError())
    # Two processes adding a column at once: the second's update carries a stale etag.
    assert is_transient(gexc.PreconditionFailed("Precondition check failed."))


def test_portable_sql_becomes_googlesql():
    sql = """SELECT "a""b", 'it''s "quoted" $not' FROM "Master_Sales_View" WHERE x = $scope_country_0"""
    assert to_googlesql(sql) == (
        """SELECT `a"b`, 'it''s "quoted" $not' FROM `Master_Sales_View` WHERE x = @scope_country_0"""
    )


def test_a_field_an_admin_added_reaches_the_fact_table_as_a_nullable_column(bigquery, monkeypatch):
    """Issue 19, point 4: the staged rows' extra column used to be dropped by the INSERT,
    which names the canonical columns only; it is added to the table first (NULLABLE, older
    rows NULL), as the embedded warehouse does."""
    import pyarrow as pa

    wh = warehouse()
    wh.ensure_schema(views=VIEWS)
    old, new = str(uuid.uuid4()), str(uuid.uuid4())
    wh.replace_batch(upload_id=old, table=fact_rows(old, 2))
    wider = fact_rows(new, 2).append_column("loyalty_tier", pa.array(["gold", None], pa.string()))

    client, sent = wh.client(), []
    query_and_wait = client.query_and_wait
    monkeypatch.setattr(client, "query_and_wait", lambda sql, **kw: sent.append(sql) or query_and_wait(sql, **kw))

    assert wh.replace_batch(upload_id=new, table=wider) == 2

    sql = f'SELECT upload_id = $new AS new, loyalty_tier FROM "orders-cleaned" WHERE {EVERY_DAY} ORDER BY 1, 2'
    got = wh.query(sql, {"new": new})
    assert sorted(got.to_pylist(), key=repr) == sorted(
        [
            {"new": False, "loyalty_tier": None},
            {"new": False, "loyalty_tier": None},
            {"new": True, "loyalty_tier": "gold"},
            {"new": True, "loyalty_tier": None},
        ],
        key=repr,
    )
    field = next(f for f in wh.client().get_table(wh.table_id(FACT_TABLE)).schema if f.name == "loyalty_tier")
    assert (field.field_type, field.mode) == ("STRING", "NULLABLE")
    # The views are made again: BigQuery keeps a view's schema as it was made (what Looker
    # Studio lists). The emulator works a view's schema out when asked, so it cannot show a
    # stale one: the statements sent are what this test can check.
    remade = sorted(re.findall(r"CREATE OR REPLACE VIEW `[^`]*\.(\w+)`", "\n".join(sent)))
    assert remade == sorted(v.name for v in VIEWS), sent
    view = wh.client().get_table(wh.table_id(MASTER_VIEW))
    assert "loyalty_tier" in [f.name for f in view.schema]
    tiers = f'SELECT count(loyalty_tier) AS n FROM "Master_Sales_View" WHERE {EVERY_DAY}'
    assert wh.query(tiers).to_pylist() == [{"n": 1}]
