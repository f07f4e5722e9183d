"""Shared fixtures: an isolated data folder per test, and the demo cast of users."""

from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

from apps.accounts.demo import demo_seed
from apps.warehouse.services import warehouse_sync

TEST_DATA = Path(__file__).parent / "data"
PASSWORD = "correct-horse-battery-1"


@pytest.fixture(autouse=True)
def data_dir(settings, tmp_path) -> Path:
    """Files and the embedded warehouse under this test's own folder, laid out exactly as
    DATA_DIR would lay them out (so a worker process given DATA_DIR sees the same)."""
    root = tmp_path / "data"
    root.mkdir()
    settings.DATA_DIR = root
    settings.WAREHOUSE_DIR = root / "warehouse"
    settings.MEDIA_ROOT = root / "files"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": root / "files"},
        },
    }
    return root


@pytest.fixture
def cast(db, settings) -> dict:
    """The demo regions, shops, schema and users (admin, head_*, mgr_*), by username."""
    # A deliberately slow hasher costs seconds per test on a 2-core machine; tests need none.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    demo_seed(password=PASSWORD)
    warehouse_sync()
    users = get_user_model().objects.all()
    return {u.username: u for u in users}


@pytest.fixture
def sample() -> "callable":
    """Path of a small real file in tests/data (see tests/data/README.md)."""

    def path(name: str) -> Path:
        found = TEST_DATA / name
        assert found.is_file(), found
        return found

    return path
