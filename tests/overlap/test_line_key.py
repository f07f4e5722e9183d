"""The line key from the pure stages: one sale, one key, whatever the file's bytes, on both
CSV read paths (typed by the reader, or as text); the quick path (no repeated lines) and the
counting path give the same keys."""

import tempfile
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from apps.etl.pipeline import transform
from apps.etl.pipeline.engine import work_connection
from apps.etl.pipeline.run import FileToRun, fact_file, stages_run
from apps.etl.pipeline.spec import UploadContext
from tests.etl.stages import demo_spec
from tests.overlap import copies

CTX = UploadContext(upload_id="00000000-0000-0000-0000-000000000001", store_id="US-NYC", country_code="US",
                    currency="USD", date_order="MDY", reporting_currency="USD")  # fmt: skip


def _keys(path, tmp_path, *, typed: bool) -> list[str]:
    work = Path(tempfile.mkdtemp(dir=tmp_path))
    con = work_connection(temp_dir=work)
    run = stages_run(con, FileToRun(path, path.name), demo_spec(), CTX, work_dir=work, typed_read=typed)
    out = work / "fact.parquet"
    fact_file(run, demo_spec(), CTX, path=out, parquet_version="v2", loaded_at=datetime.now(UTC))
    return pq.read_table(out, columns=["line_key"]).column(0).to_pylist()


@pytest.mark.parametrize("typed", [True, False])
def test_one_sale_has_one_key_whatever_the_files_bytes(sample, tmp_path, typed):
    source = sample("bernasiakk_usa.csv")
    header, rows = copies.rows_of(source)
    variants = {
        "bom.csv": copies.BOM + source.read_bytes(),
        "yy.csv": copies.csv_bytes(header, copies.with_dates(header, rows, copies.two_digit_years)),
        "iso.csv": copies.csv_bytes(header, copies.with_dates(header, rows, copies.iso)),
    }
    for name, content in variants.items():
        (tmp_path / name).write_bytes(content)
    copies.workbook(header, rows, tmp_path / "copy.xlsx")
    expected = _keys(source, tmp_path, typed=typed)

    assert len(set(expected)) == 291 and all(len(k) == 32 for k in expected)
    for name in [*variants, "copy.xlsx"]:
        assert sorted(_keys(tmp_path / name, tmp_path, typed=typed)) == sorted(expected), name


def test_the_quick_path_gives_the_keys_the_counting_path_gives(sample, tmp_path, monkeypatch):
    quick = _keys(sample("bernasiakk_usa.csv"), tmp_path, typed=True)
    counting = transform.with_line_key
    monkeypatch.setattr(transform, "with_line_key", lambda fact, repeated: counting(fact, repeated=True))

    assert sorted(_keys(sample("bernasiakk_usa.csv"), tmp_path, typed=True)) == sorted(quick)


def test_a_line_repeated_in_an_order_gets_a_second_key(sample, tmp_path):
    header, rows = copies.rows_of(sample("bernasiakk_usa.csv"))
    repeat = list(rows[0])
    repeat[header.index("Description")] += " (again)"
    (tmp_path / "twice.csv").write_bytes(copies.csv_bytes(header, [*rows, repeat]))

    keys = _keys(tmp_path / "twice.csv", tmp_path, typed=True)

    assert len(keys) == len(set(keys)) == 292
    assert set(_keys(sample("bernasiakk_usa.csv"), tmp_path, typed=True)) < set(keys)
