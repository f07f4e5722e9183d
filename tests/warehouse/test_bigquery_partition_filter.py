"""The emulator holds statements on orders-cleaned to BigQuery's rule for a table that
requires a partition filter (tests/emulators/local_bigquery_site/sitecustomize.py): a MERGE
bounded on order_date in its ON condition runs, one that is not is refused, and so are a
DELETE and a SELECT without a bound."""

import pytest
from google.api_core import exceptions as gexc

from apps.warehouse.services import warehouse

pytestmark = pytest.mark.integration
BOUND = "T.order_date BETWEEN '2020-01-01' AND '2020-01-02'"


@pytest.fixture
def fact(bigquery):
    wh = warehouse()
    wh.ensure_schema(views=[])
    return wh.client(), wh._ref("orders-cleaned")


@pytest.mark.parametrize(
    "statement",
    [
        f"MERGE {{t}} T USING (SELECT 'a' AS upload_id) S ON T.upload_id = S.upload_id AND {BOUND} "
        "WHEN MATCHED THEN DELETE",
        f"MERGE {{t}} T USING (SELECT 'a' AS upload_id) S ON T.upload_id = S.upload_id AND {BOUND} "
        f"WHEN NOT MATCHED BY SOURCE AND {BOUND} THEN DELETE",
        "DELETE FROM {t} WHERE upload_id = 'a' AND order_date BETWEEN '2020-01-01' AND '2020-01-02'",
        "SELECT count(*) FROM {t} WHERE order_date >= '2020-01-01'",
    ],
)
def test_a_statement_bounded_on_order_date_runs(fact, statement):
    client, table = fact
    client.query_and_wait(statement.format(t=table))


@pytest.mark.parametrize(
    "statement",
    [
        "MERGE {t} T USING (SELECT 'a' AS upload_id) S ON FALSE WHEN NOT MATCHED BY SOURCE THEN DELETE",
        "MERGE {t} T USING (SELECT 'a' AS upload_id) S ON T.upload_id = S.upload_id WHEN MATCHED THEN DELETE",
        "DELETE FROM {t} WHERE upload_id = 'a'",
        "SELECT count(*) FROM {t}",
    ],
)
def test_a_statement_without_an_order_date_bound_is_refused(fact, statement):
    client, table = fact
    with pytest.raises(gexc.BadRequest, match="without a filter over column"):
        client.query_and_wait(statement.format(t=table))
