"""BIGQUERY_LOCATION (issue 19, point 5): the dataset is made where it is set, every job
runs there, and without it no dataset is made in BigQuery's default multi-region (a
dataset never moves). Against the local BigQuery emulator with the real client."""

import pytest

from apps.warehouse.base import WarehouseError
from apps.warehouse.services import warehouse, warehouse_sync
from tests.warehouse.factories import EVERY_DAY

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def test_the_dataset_is_made_where_bigquery_location_says_and_queries_run_there(bigquery, settings):
    settings.BIGQUERY_LOCATION = "EU"

    changes = warehouse_sync()

    backend = warehouse()
    dataset = backend.client().get_dataset(f"{backend.project}.{backend.dataset}")
    assert f"create dataset {backend.project}.{backend.dataset} in EU" in changes
    assert dataset.location == "EU"
    assert backend.client().location == "EU"
    assert backend.query(f'SELECT count(*) AS n FROM "orders-cleaned" WHERE {EVERY_DAY}').to_pylist() == [{"n": 0}]


def test_without_a_location_no_dataset_is_made_and_the_error_says_what_to_set(bigquery, settings):
    settings.BIGQUERY_LOCATION = ""

    with pytest.raises(WarehouseError, match="set BIGQUERY_LOCATION"):
        warehouse_sync()

    backend = warehouse()
    assert [d.dataset_id for d in backend.client().list_datasets()].count(backend.dataset) == 0


def test_a_location_other_than_the_datasets_is_refused(bigquery, settings):
    settings.BIGQUERY_LOCATION = "US"
    warehouse_sync()

    settings.BIGQUERY_LOCATION = "australia-southeast1"
    with pytest.raises(WarehouseError, match="is in US, BIGQUERY_LOCATION says australia-southeast1"):
        warehouse_sync()

    settings.BIGQUERY_LOCATION = ""  # unset: jobs run where the dataset already is
    assert warehouse_sync() == []
