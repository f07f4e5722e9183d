"""A ParquetBatch's file goes into the Delta table as it is: the rows are encoded once.

Where that cannot be (a compacted file mixing uploads, a field an admin added), the rows are
streamed as any batch's, and the replace is still one commit.
"""

import json
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from deltalake import DeltaTable

from apps.warehouse import delta_files
from apps.warehouse.base import ParquetBatch
from apps.warehouse.embedded import EmbeddedWarehouse
from apps.warehouse.fact import FACT_TABLE, ViewSpec
from tests.warehouse.factories import fact_rows


def _warehouse(tmp_path) -> EmbeddedWarehouse:
    wh = EmbeddedWarehouse(tmp_path / "wh")
    wh.ensure_schema(views=[ViewSpec("Master_Sales_View")])
    return wh


def _file(tmp_path, table: pa.Table) -> Path:
    path = tmp_path / f"{uuid.uuid4()}.parquet"
    pq.write_table(table, path, compression="snappy")
    return path


def _count(wh: EmbeddedWarehouse, where: str = "TRUE", **params) -> int:
    return wh.query(f'SELECT count(*) FROM "{FACT_TABLE}" WHERE {where}', params).column(0)[0].as_py()


def _files(wh: EmbeddedWarehouse) -> list[Path]:
    return [Path(f) for f in DeltaTable(wh.table_uri).file_uris()]


def _last_commit(wh: EmbeddedWarehouse) -> list[dict]:
    log = Path(wh.table_uri) / "_delta_log" / f"{wh.version():020d}.json"
    return [json.loads(line) for line in log.read_text().splitlines()]


def test_the_batch_file_itself_becomes_the_tables_file(tmp_path):
    wh = _warehouse(tmp_path)
    upload = str(uuid.uuid4())
    path = _file(tmp_path, fact_rows(upload, 40))
    before = wh.version()

    assert wh.replace_batch(upload_id=upload, table=ParquetBatch(path)) == 40

    assert wh.version() == before + 1
    (committed,) = _files(wh)
    assert committed.read_bytes() == path.read_bytes()  # not encoded a second time
    (add,) = [a["add"] for a in _last_commit(wh) if "add" in a]
    assert json.loads(add["stats"]) == {
        "numRecords": 40,
        "minValues": {"upload_id": upload},
        "maxValues": {"upload_id": upload},
        "nullCount": {"upload_id": 0},
    }
    assert _count(wh) == 40


def test_a_reprocess_removes_the_old_file_and_adds_the_new_in_one_commit(tmp_path):
    wh = _warehouse(tmp_path)
    upload, other = str(uuid.uuid4()), str(uuid.uuid4())
    wh.replace_batch(upload_id=other, table=ParquetBatch(_file(tmp_path, fact_rows(other, 7))))
    wh.replace_batch(upload_id=upload, table=ParquetBatch(_file(tmp_path, fact_rows(upload, 5))))
    old = {p.name for p in _files(wh)}
    before = wh.version()

    new = _file(tmp_path, fact_rows(upload, 9))
    assert wh.replace_batch(upload_id=upload, table=ParquetBatch(new)) == 9

    assert wh.version() == before + 1
    actions = _last_commit(wh)
    assert len([a for a in actions if "add" in a]) == 1
    assert len([a for a in actions if "remove" in a]) == 1
    assert len(old - {p.name for p in _files(wh)}) == 1  # the upload's old file, not the other's
    assert (_count(wh, "upload_id = $u", u=upload), _count(wh, "upload_id = $u", u=other)) == (9, 7)


def test_a_corrected_upload_retires_its_predecessor_in_the_same_commit(tmp_path):
    wh = _warehouse(tmp_path)
    first, correction, other = (str(uuid.uuid4()) for _ in range(3))
    wh.replace_batch(upload_id=first, table=ParquetBatch(_file(tmp_path, fact_rows(first, 5))))
    wh.replace_batch(upload_id=other, table=fact_rows(other, 3))
    before = wh.version()

    batch = ParquetBatch(_file(tmp_path, fact_rows(correction, 6)))
    wh.replace_batch(upload_id=correction, table=batch, retire=[first])

    assert wh.version() == before + 1
    assert [_count(wh, "upload_id = $u", u=u) for u in (first, correction, other)] == [0, 6, 3]


def test_delete_batch_finds_the_rows_of_a_file_committed_as_it_is(tmp_path):
    wh = _warehouse(tmp_path)
    upload, other = str(uuid.uuid4()), str(uuid.uuid4())
    wh.replace_batch(upload_id=upload, table=ParquetBatch(_file(tmp_path, fact_rows(upload, 12))))
    wh.replace_batch(upload_id=other, table=ParquetBatch(_file(tmp_path, fact_rows(other, 4))))

    assert wh.delete_batch(upload_id=upload) == 12

    assert (_count(wh, "upload_id = $u", u=upload), _count(wh)) == (0, 4)


def test_a_compacted_file_mixing_uploads_is_rewritten_without_the_replaced_rows(tmp_path):
    wh = _warehouse(tmp_path)
    upload, other = str(uuid.uuid4()), str(uuid.uuid4())
    wh.replace_batch(upload_id=upload, table=ParquetBatch(_file(tmp_path, fact_rows(upload, 5))))
    wh.replace_batch(upload_id=other, table=ParquetBatch(_file(tmp_path, fact_rows(other, 7))))
    wh.compact()
    assert len(_files(wh)) == 1
    before = wh.version()

    path = _file(tmp_path, fact_rows(upload, 8))
    assert wh.replace_batch(upload_id=upload, table=ParquetBatch(path)) == 8

    assert wh.version() == before + 1
    assert (_count(wh, "upload_id = $u", u=upload), _count(wh, "upload_id = $u", u=other)) == (8, 7)
    assert all(f.read_bytes() != path.read_bytes() for f in _files(wh))  # streamed, as it must be
    # Nothing of the file was left in the table's folder by the way.
    assert not [f for f in Path(wh.table_uri).glob("*.parquet") if f.read_bytes() == path.read_bytes()]
    # And the compacted table is compacted again, the rows counted once.
    wh.compact()
    assert _count(wh) == 15


def test_a_field_an_admin_added_still_adds_a_column(tmp_path):
    wh = _warehouse(tmp_path)
    old, new = str(uuid.uuid4()), str(uuid.uuid4())
    wh.replace_batch(upload_id=old, table=ParquetBatch(_file(tmp_path, fact_rows(old, 3))))
    wider = fact_rows(new, 2).append_column("loyalty_tier", pa.array(["gold", None], pa.string()))

    wh.replace_batch(upload_id=new, table=ParquetBatch(_file(tmp_path, wider)))

    assert "loyalty_tier" in DeltaTable(wh.table_uri).schema().to_arrow().names
    assert _count(wh, "loyalty_tier = 'gold'") == 1
    assert _count(wh, "loyalty_tier IS NULL") == 4
    # The next batch of the wider shape goes in as it is again.
    again = _file(tmp_path, fact_rows(new, 2).append_column("loyalty_tier", pa.array(["x", "y"], pa.string())))
    wh.replace_batch(upload_id=new, table=ParquetBatch(again))
    assert any(f.read_bytes() == again.read_bytes() for f in _files(wh))
    assert _count(wh, "loyalty_tier IS NULL") == 3


def test_a_batch_without_a_column_an_admin_dropped_still_goes_in_as_it_is(tmp_path):
    # The table keeps a dropped field's column (nullable). A batch without it is a valid
    # Delta file (readers give NULL), so it is taken as written, not encoded again.
    wh = _warehouse(tmp_path)
    old, new = str(uuid.uuid4()), str(uuid.uuid4())
    wider = fact_rows(old, 3).append_column("loyalty_tier", pa.array(["gold", None, "x"], pa.string()))
    wh.replace_batch(upload_id=old, table=ParquetBatch(_file(tmp_path, wider)))
    narrower = _file(tmp_path, fact_rows(new, 4))

    assert wh.replace_batch(upload_id=new, table=ParquetBatch(narrower)) == 4

    assert any(f.read_bytes() == narrower.read_bytes() for f in _files(wh))
    assert _count(wh, "loyalty_tier IS NULL AND upload_id = $u", u=new) == 4
    assert _count(wh, "loyalty_tier = 'gold'") == 1
    wh.compact()  # and compaction reads both shapes
    assert (_count(wh), _count(wh, "loyalty_tier IS NULL")) == (7, 5)


def test_the_same_upload_committed_twice_at_once_leaves_its_rows_once(tmp_path):
    """A task run twice at the same time: the other run commits while this one is inside its
    commit. Adding a file conflicts with a commit of the same upload, so this one retries,
    and then replaces the other's rows instead of adding to them."""
    wh = _warehouse(tmp_path)
    upload = str(uuid.uuid4())
    other_run = EmbeddedWarehouse(tmp_path / "wh")
    runs = {"n": 0}

    def meanwhile() -> None:
        runs["n"] += 1
        if runs["n"] == 1:
            other_run.replace_batch(upload_id=upload, table=ParquetBatch(_file(tmp_path, fact_rows(upload, 4))))

    wh.replace_batch(upload_id=upload, table=ParquetBatch(_file(tmp_path, fact_rows(upload, 6)), committing=meanwhile))

    assert runs["n"] == 2  # the first attempt conflicted
    assert _count(wh) == 6


def test_the_log_keeps_a_bounded_number_of_upload_claims(tmp_path, monkeypatch):
    # Every snapshot carries every claim ever made: one per upload grew with each upload.
    monkeypatch.setattr(delta_files, "CLAIMS", 4)
    wh = _warehouse(tmp_path)
    for _ in range(12):
        upload = str(uuid.uuid4())
        wh.replace_batch(upload_id=upload, table=ParquetBatch(_file(tmp_path, fact_rows(upload, 2))))
    table = DeltaTable(wh.table_uri)
    table.create_checkpoint()

    checkpoint = sorted((Path(wh.table_uri) / "_delta_log").glob("*.checkpoint.parquet"))[-1]
    claims = [t["appId"] for t in pq.read_table(checkpoint).column("txn").to_pylist() if t]
    assert 0 < len(claims) <= 4
    assert _count(wh) == 24
