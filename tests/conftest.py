"""Shared fixtures: an isolated data folder per test, and the demo cast of users."""

import uuid
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache

from apps.demo.seed import demo_seed
from apps.warehouse.services import warehouse_sync
from tests.emulators.servers import bigquery_emulator, gcs_emulator, postgres_url, redis_url  # noqa: F401 (fixtures)

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


@pytest.fixture(autouse=True)
def empty_cache() -> None:
    """Counts kept in the cache (login failures, exports started) start at none in each
    test: users of one test have the ids of another's."""
    cache.clear()


@pytest.fixture(autouse=True)
def fast_password_hashing(settings) -> None:
    """The cast hashes nine passwords; PBKDF2 makes that ~2.7 s a test, MD5 ~0 s."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


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


@pytest.fixture
def bigquery(settings, bigquery_emulator, db):  # noqa: F811
    """WAREHOUSE=bigquery against the local emulator, in a dataset of this test's own (with
    the app database, which holds the batches waiting to be applied)."""
    settings.WAREHOUSE = "bigquery"
    settings.BIGQUERY_PROJECT = bigquery_emulator.project
    settings.BIGQUERY_DATASET = f"sales_{uuid.uuid4().hex[:10]}"
    settings.BIGQUERY_API_ENDPOINT = bigquery_emulator.endpoint
    settings.BIGQUERY_LOCATION = "US"
    return bigquery_emulator


@pytest.fixture
def gcs_storage(settings, monkeypatch, gcs_emulator):  # noqa: F811
    """GCS_BUCKET set: files go through django-storages' GoogleCloudStorage backend and the
    real google-cloud-storage client to the emulator, in a bucket of this test's own."""
    from google.cloud import storage

    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_emulator.url)
    bucket = storage.Client(project="test").create_bucket(f"sales-{uuid.uuid4().hex[:12]}")
    settings.GCS_BUCKET = bucket.name
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.gcloud.GoogleCloudStorage",
            "OPTIONS": {"bucket_name": bucket.name, "project_id": "test", "file_overwrite": False},
        },
    }
    return bucket
