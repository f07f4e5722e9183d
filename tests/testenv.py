"""Loaded first (pytest `-p tests.testenv`), before pytest-django reads the settings:
every test run gets its own DATA_DIR (database, files, warehouse, broker), so tests never
touch var/."""

import atexit
import os
import shutil
import tempfile

os.environ["DATA_DIR"] = tempfile.mkdtemp(prefix="salesapp-test-")
for name in ("DATABASE_URL", "REDIS_URL", "GCS_BUCKET", "WAREHOUSE"):
    # The suite runs on the embedded defaults; tests that need a real service start it.
    os.environ.pop(name, None)

_data_dir = os.environ["DATA_DIR"]


@atexit.register
def _remove_data_dir() -> None:
    shutil.rmtree(_data_dir, ignore_errors=True)
