"""The embedded warehouse replaces an upload's batch in one commit, however it streams in."""

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import pyarrow as pa

from apps.warehouse.embedded import EmbeddedWarehouse
from apps.warehouse.fact import FACT_SCHEMA, ViewSpec


def _rows(upload_id: str, n: int, *, start: int = 0) -> pa.Table:
    return pa.Table.from_pylist(
        [
            {
                "upload_id": upload_id,
                "source_row": start + i,
                "order_id": f"O{i}",
                "order_date": date(2011, 1, 1),
                "country_code": "GB",
                "store_id": "UK-LON",
                "quantity": 1,
                "unit_price": Decimal("2.5"),
                "currency": "GBP",
                "revenue": Decimal("2.5"),
                "revenue_reporting": Decimal("3.2"),
                "is_return": False,
                "loaded_at": datetime(2026, 1, 1, tzinfo=UTC),
            }
            for i in range(n)
        ],
        schema=FACT_SCHEMA,
    )


def _warehouse(tmp_path) -> EmbeddedWarehouse:
    wh = EmbeddedWarehouse(tmp_path / "wh")
    wh.ensure_schema(views=[ViewSpec("Master_Sales_View")])
    return wh


def test_a_streamed_batch_lands_in_one_commit_and_replaces_the_previous_one(tmp_path):
    wh = _warehouse(tmp_path)
    upload_id = str(uuid.uuid4())
    wh.replace_batch(upload_id=upload_id, table=_rows(upload_id, 5))
    before = wh.version()

    def stream() -> pa.RecordBatchReader:
        batches = [b for start in (0, 10, 20) for b in _rows(upload_id, 10, start=start).to_batches()]
        return pa.RecordBatchReader.from_batches(FACT_SCHEMA, batches)

    assert wh.replace_batch(upload_id=upload_id, table=stream) == 30
    assert wh.version() == before + 1
    assert wh.query('SELECT count(*) FROM "orders-cleaned"').column(0)[0].as_py() == 30


def test_a_new_nullable_column_is_added_without_losing_older_rows(tmp_path):
    wh = _warehouse(tmp_path)
    old, new = str(uuid.uuid4()), str(uuid.uuid4())
    wh.replace_batch(upload_id=old, table=_rows(old, 3))
    wider = _rows(new, 2).append_column("loyalty_tier", pa.array(["gold", None], pa.string()))

    wh.replace_batch(upload_id=new, table=wider)

    got = wh.query('SELECT upload_id = $new AS new, loyalty_tier FROM "orders-cleaned" ORDER BY 1, 2', {"new": new})
    assert got.to_pylist() == [
        {"new": False, "loyalty_tier": None},
        {"new": False, "loyalty_tier": None},
        {"new": False, "loyalty_tier": None},
        {"new": True, "loyalty_tier": "gold"},
        {"new": True, "loyalty_tier": None},
    ]
    assert wh.query('SELECT count(*) FROM "Master_Sales_View" WHERE loyalty_tier IS NULL').column(0)[0].as_py() == 4
