"""Fixtures for the security tests."""

import pytest
from django.core.cache import cache

from apps.accounts.models import Profile
from apps.uploads.run import upload_run
from tests.factories import upload_of, user_create
from tests.uploads.helpers import SOME_BAD


@pytest.fixture(autouse=True)
def empty_cache():
    """Login failures are counted in the cache: each test starts with none."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def nyc_upload(cast, tmp_path):
    """A US-NYC upload by its manager, processed: a raw file and rejected rows (CSV, XLSX)."""
    path = tmp_path / "march.csv"
    path.write_text(SOME_BAD)
    return upload_run(upload_id=upload_of(cast["mgr_us_nyc"], "US-NYC", path).id)


@pytest.fixture
def no_role(cast):
    """A signed-in user whose profile has no role (the `cast` fixture has none)."""
    user = user_create("nobody", role="")
    assert Profile.objects.get(user=user).role == ""
    return user
