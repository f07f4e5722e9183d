"""`batch_rows`: the rows per upload id in one grouped count, on both backends, as a new
reader sees the table (what the reconciliation compares with the uploads' own counts)."""

import uuid

import pytest

from apps.warehouse.embedded import EmbeddedWarehouse
from apps.warehouse.fact import MASTER_VIEW, ViewSpec
from apps.warehouse.services import warehouse
from tests.warehouse.factories import fact_rows

VIEWS = [ViewSpec(MASTER_VIEW)]


def _loaded(wh, *counts: int) -> list[str]:
    wh.ensure_schema(views=VIEWS)
    ids = [str(uuid.uuid4()) for _ in counts]
    for upload_id, n in zip(ids, counts, strict=True):
        wh.replace_batch(upload_id=upload_id, table=fact_rows(upload_id, n))
    return ids


def test_embedded_counts_the_rows_of_every_upload_or_of_those_asked(tmp_path):
    wh = EmbeddedWarehouse(tmp_path / "wh")
    a, b, c = _loaded(wh, 5, 3, 2)
    unknown = str(uuid.uuid4())

    assert wh.batch_rows() == {a: 5, b: 3, c: 2}
    assert wh.batch_rows(upload_ids=[a, c, unknown]) == {a: 5, c: 2}
    assert wh.batch_rows(upload_ids=[]) == {}
    wh.compact()  # one file mixing the three uploads: its range holds them all
    assert wh.batch_rows(upload_ids=[b]) == {b: 3}


def test_embedded_counts_the_log_on_disk_not_the_snapshot_this_process_cached(tmp_path):
    """The probe of issue 17 emptied one Delta commit file: readers that open the table see
    the upload's rows gone. So must the count, even in a worker that read the table before."""
    wh = EmbeddedWarehouse(tmp_path / "wh")
    a, b = _loaded(wh, 5, 3)
    assert wh.query('SELECT count(*) FROM "orders-cleaned"').column(0)[0].as_py() == 8  # cached now
    commits = sorted((tmp_path / "wh" / "orders-cleaned" / "_delta_log").glob("*.json"))
    [holding_a] = [p for p in commits if a in p.read_text()]
    holding_a.write_bytes(b"")

    assert wh.batch_rows() == {b: 3}
    assert wh.batch_rows(upload_ids=[a, b]) == {b: 3}


@pytest.mark.integration
def test_bigquery_counts_the_rows_of_every_upload_or_of_those_asked(bigquery):
    wh = warehouse()
    a, b = _loaded(wh, 4, 2)

    assert wh.batch_rows() == {a: 4, b: 2}
    assert wh.batch_rows(upload_ids=[b, str(uuid.uuid4())]) == {b: 2}
    assert wh.batch_rows(upload_ids=[]) == {}
