"""Fixtures of the report tests."""

import pytest

from apps.uploads.models import Upload
from tests.reports.regions_mix import regions_mix_load


@pytest.fixture
def regions_mix(cast, sample, tmp_path) -> dict[str, Upload]:
    """Real files of five shops with customers in several countries (tests/reports/regions_mix.py)."""
    return regions_mix_load(cast, sample, tmp_path)
