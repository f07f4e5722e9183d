"""warehouse_sync against the BigQuery emulator (issue 19, points 2 and 4): the fact table
requires an order_date bound; `--check` lists what differs from what the app expects
(canonical columns, the admin's added fields, types, views, partitioning, clustering, the
partition filter) and changes nothing; a sync adds the missing columns as NULLABLE, makes the
views again and turns the partition filter on."""

import pytest
from django.core.management import call_command
from google.cloud import bigquery as bq

from apps.etl.models import SalesSchema, SchemaField
from apps.etl.pipeline.spec import DataType
from apps.warehouse.base import WarehouseError
from apps.warehouse.bigquery import CLUSTERING_FIELDS, fact_fields, view_staleness
from apps.warehouse.fact import FACT_TABLE, MASTER_VIEW, ViewSpec
from apps.warehouse.services import warehouse
from tests.warehouse.factories import EVERY_DAY

pytestmark = pytest.mark.integration


def fact_table() -> bq.Table:
    return warehouse().client().get_table(warehouse().table_id(FACT_TABLE))


def check(capsys) -> tuple[int, str]:
    """`warehouse_sync --check`: its exit status and what it printed."""
    try:
        call_command("warehouse_sync", "--check")
    except SystemExit as exited:
        return exited.code, capsys.readouterr().out
    return 0, capsys.readouterr().out


def make_old_table(*, without: str = "", retyped: tuple[str, str] | None = None) -> bq.Table:
    """The fact table as an earlier release made it: no partition filter required, maybe a
    column missing or of another type."""
    wh = warehouse()
    wh.ensure_schema(views=[])  # the dataset
    wh.client().delete_table(wh.table_id(FACT_TABLE))
    fields = [f for f in fact_fields() if f.name != without]
    if retyped:
        fields = [bq.SchemaField(f.name, retyped[1]) if f.name == retyped[0] else f for f in fields]
    table = bq.Table(wh.table_id(FACT_TABLE), schema=fields)
    table.time_partitioning = bq.TimePartitioning(type_=bq.TimePartitioningType.DAY, field="order_date")
    table.clustering_fields = CLUSTERING_FIELDS
    return wh.client().create_table(table)


def test_the_fact_table_is_made_refusing_a_query_without_an_order_date_bound(bigquery, db):
    wh = warehouse()
    changes = wh.ensure_schema(views=[ViewSpec(MASTER_VIEW)])

    assert f"create table {FACT_TABLE} (partitioned by order_date, clustered by {CLUSTERING_FIELDS}, " in changes[1]
    assert wh.client().get_table(wh.table_id(FACT_TABLE)).require_partition_filter is True
    with pytest.raises(WarehouseError, match=r"without a filter over column.*order_date.*partition elimination"):
        wh.query(f'SELECT count(*) AS n FROM "{FACT_TABLE}"')
    assert wh.query(f'SELECT count(*) AS n FROM "{FACT_TABLE}" WHERE {EVERY_DAY}').to_pylist() == [{"n": 0}]
    # What the emulator does not show: it lets a query through a view pass unbounded unless
    # the project has row access policies (then it expands the view and refuses it, as
    # BigQuery always would), and it checks only that some WHERE names order_date, not that
    # the bound can prune partitions; the static check of every statement covers those.


def test_sync_turns_the_partition_filter_on_for_an_existing_table_and_adds_missing_columns(bigquery, db, capsys):
    make_old_table(without="line_key")

    status, out = check(capsys)
    assert status == 1
    assert f"would require a partition filter (order_date) on queries of {FACT_TABLE}" in out
    assert f"would add column line_key STRING to {FACT_TABLE}" in out
    table = fact_table()
    assert not table.require_partition_filter and "line_key" not in [f.name for f in table.schema]

    call_command("warehouse_sync")
    out = capsys.readouterr().out
    assert f"require a partition filter (order_date) on queries of {FACT_TABLE}" in out
    table = fact_table()
    assert table.require_partition_filter is True
    assert [(f.name, f.mode) for f in table.schema][-1] == ("line_key", "NULLABLE")
    assert check(capsys) == (0, "Warehouse is up to date.\n")


def test_check_lists_an_added_field_and_the_views_that_lack_it_and_sync_adds_it(bigquery, cast, capsys):
    schema = SalesSchema.objects.get(is_active=True)
    SchemaField.objects.create(schema=schema, name="loyalty_tier", data_type=DataType.STRING, position=99)
    SchemaField.objects.create(schema=schema, name="points", data_type=DataType.INTEGER, position=100)

    status, out = check(capsys)
    assert status == 1
    assert f"would add column loyalty_tier STRING to {FACT_TABLE}" in out
    assert f"would add column points INT64 to {FACT_TABLE}" in out
    assert f"would replace view {MASTER_VIEW} (it lacks loyalty_tier, points)" in out
    assert "would replace view UK_Sales_View (it lacks loyalty_tier, points)" in out
    assert "loyalty_tier" not in [f.name for f in fact_table().schema]

    call_command("warehouse_sync")
    capsys.readouterr()
    fields = {f.name: (f.field_type, f.mode) for f in fact_table().schema}
    assert fields["loyalty_tier"] == ("STRING", "NULLABLE")
    assert fields["points"] == ("INTEGER", "NULLABLE")
    view = warehouse().client().get_table(warehouse().table_id(MASTER_VIEW))
    assert {"loyalty_tier", "points"} <= {f.name for f in view.schema}
    assert check(capsys) == (0, "Warehouse is up to date.\n")


def test_a_column_of_another_type_is_a_mismatch_that_check_and_sync_both_report(bigquery, db, capsys):
    make_old_table(retyped=("category", "INT64"))

    status, out = check(capsys)
    assert status == 1
    line = f"column category of {FACT_TABLE} is INT64, the app writes STRING: BigQuery cannot change a column's type"
    assert line in out and f"would {line}" not in out  # no sync fixes it

    with pytest.raises(SystemExit) as exited:
        call_command("warehouse_sync")
    assert exited.value.code == 1
    assert line in capsys.readouterr().out


def view(sql: str, columns: list[str]) -> bq.Table:
    return bq.Table.from_api_repr(
        {
            "tableReference": {"projectId": "p", "datasetId": "d", "tableId": "v"},
            "type": "VIEW",
            "view": {"query": sql},
            "schema": {"fields": [{"name": c, "type": "STRING"} for c in columns]},
        }
    )


def test_a_view_is_stale_when_its_sql_or_its_columns_are_not_the_tables():
    sql = "SELECT * FROM `p.d.orders-cleaned` WHERE country_code = 'GB'"
    assert view_staleness(view(sql, ["a", "b"]), sql, ["a", "b"]) == ""
    assert view_staleness(view("  " + sql.replace(" ", "\n  "), ["a", "b"]), sql, ["a", "b"]) == ""
    # BigQuery keeps the columns a view had when made: one made before b was added lacks it.
    assert view_staleness(view(sql, ["a"]), sql, ["a", "b"]) == "it lacks b"
    assert view_staleness(view(sql, ["b", "a"]), sql, ["a", "b"]) == "its columns differ from the table's"
    assert view_staleness(view(sql.replace("GB", "US"), ["a", "b"]), sql, ["a", "b"]) == "its SQL differs"
