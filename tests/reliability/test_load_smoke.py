"""The load script (bench/load_test.py) in small: 2 uploaders and 2 report readers for a
few seconds against the real app (`manage.py serve`), so the script keeps working."""

import pytest

from bench.load_test import READ_URLS, report, run

pytestmark = pytest.mark.integration


def test_a_short_load_run_has_no_errors_and_loses_no_upload():
    result = run(uploaders=2, readers=2, seconds=3, drain_seconds=120, uploads_each=3)

    assert result["errors"] == [], report(result)
    assert not result["lost"], report(result)
    assert result["uploads"] == 6 and result["statuses"] == {"loaded": 6}, report(result)
    assert result["warehouse_rows"] == result["rows_loaded_sum"] == 291 * result["uploads"]
    assert "POST /api/uploads/" in result["endpoints"]
    assert {f"GET {url}" for url in READ_URLS[:2]} <= result["endpoints"].keys(), report(result)
