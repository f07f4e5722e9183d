"""The embedded warehouse: compaction of many small uploads, an empty table, date periods."""

import os
import shutil
import time
import uuid
from pathlib import Path

import pytest
from deltalake import DeltaTable

from apps.warehouse.embedded import EmbeddedWarehouse
from apps.warehouse.fact import FACT_TABLE, MASTER_VIEW, ViewSpec
from tests.warehouse.factories import TRUNC_EXPECTED, date_trunc_periods, fact_rows

QUERY = f'SELECT country_code, count(*) AS n, sum(revenue) AS r FROM "{MASTER_VIEW}" GROUP BY 1 ORDER BY 1'


def load_small_uploads(wh: EmbeddedWarehouse, n: int) -> list[str]:
    wh.ensure_schema(views=[ViewSpec(MASTER_VIEW)])
    ids = [str(uuid.uuid4()) for _ in range(n)]
    for i, upload_id in enumerate(ids):
        wh.replace_batch(upload_id=upload_id, table=fact_rows(upload_id, 3, country="US" if i % 2 else "GB"))
    return ids


def test_compaction_leaves_one_file_and_the_same_answers(tmp_path):
    wh = EmbeddedWarehouse(tmp_path)
    ids = load_small_uploads(wh, 12)
    before = wh.query(QUERY)
    assert len(DeltaTable(wh.table_uri).file_uris()) == 12

    result = wh.compact()

    assert (result["files_removed"], result["files_now"]) == (12, 1)
    assert wh.query(QUERY).equals(before)
    # A batch still replaces and deletes exactly its rows after compaction.
    assert wh.delete_batch(upload_id=ids[0]) == 3
    assert wh.query(f'SELECT count(*) FROM "{FACT_TABLE}"').column(0)[0].as_py() == 33
    assert wh.compact()["files_now"] == 1  # running it again is harmless


def test_compaction_deletes_a_file_no_commit_took_once_it_is_old_but_not_a_new_one(tmp_path):
    # A worker killed between placing its part file and committing it leaves the file in
    # the table's folder, in no snapshot. One placed a moment ago may be a load in flight.
    wh = EmbeddedWarehouse(tmp_path)
    load_small_uploads(wh, 2)
    table = Path(wh.table_uri)
    orphan, in_flight = table / "part-00000-orphan.parquet", table / "part-00000-in-flight.parquet"
    for path in (orphan, in_flight):
        shutil.copy(next(table.glob("*.parquet")), path)
    two_hours_ago = time.time() - 2 * 3600
    os.utime(orphan, (two_hours_ago, two_hours_ago))

    wh.compact()

    assert not orphan.exists()
    assert in_flight.exists()
    assert wh.query(f'SELECT count(*) FROM "{FACT_TABLE}"').column(0)[0].as_py() == 6
    assert (tmp_path / "commit.lock").exists()


def test_loads_compact_once_the_table_has_many_files(tmp_path):
    wh = EmbeddedWarehouse(tmp_path, compact_files=5)
    load_small_uploads(wh, 12)

    assert len(DeltaTable(wh.table_uri).file_uris()) < 5
    assert wh.query(f'SELECT count(*) FROM "{FACT_TABLE}"').column(0)[0].as_py() == 36


def test_an_empty_warehouse_answers_queries(tmp_path):
    # Was a CatalogException: the empty table was registered on the connection only.
    wh = EmbeddedWarehouse(tmp_path)
    wh.ensure_schema(views=[ViewSpec(MASTER_VIEW)])
    assert wh.query(f'SELECT count(*) FROM "{MASTER_VIEW}"').column(0)[0].as_py() == 0
    wh.ping()


def test_a_reader_sees_every_commit_of_another_writer(tmp_path):
    # As the web process reads while worker processes load: separate instances, one folder.
    writer, reader = EmbeddedWarehouse(tmp_path), EmbeddedWarehouse(tmp_path)
    ids = load_small_uploads(writer, 2)
    count = f'SELECT count(*) FROM "{FACT_TABLE}"'
    assert reader.query(count).column(0)[0].as_py() == 6
    writer.replace_batch(upload_id=ids[0], table=fact_rows(ids[0], 5))
    assert reader.query(count).column(0)[0].as_py() == 8
    writer.compact()
    writer.delete_batch(upload_id=ids[1])
    assert reader.query(count).column(0)[0].as_py() == 5


def test_periods_are_days_iso_weeks_and_months(tmp_path):
    wh = EmbeddedWarehouse(tmp_path)
    wh.ensure_schema(views=[ViewSpec(MASTER_VIEW)])
    assert date_trunc_periods(wh) == TRUNC_EXPECTED
    with pytest.raises(ValueError):
        wh.sql_date_trunc("order_date", "quarter")
    with pytest.raises(ValueError):
        wh.sql_date_trunc("order_date); DROP", "week")
