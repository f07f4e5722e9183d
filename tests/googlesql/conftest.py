"""The statements the app sends to BigQuery, captured once per test run (tests/googlesql/drive.py
drives the app over the local emulator) and shared by the checks of this folder.

Session-scoped, so it cannot use the function-scoped `db`, `settings` and `cast` fixtures: it
opens the test database itself (pytest-django's `django_db_blocker`), works inside one
transaction that it rolls back, and sets its own settings (as tests/conftest.py's `data_dir`
and `bigquery` fixtures set them). Set SQL_CAPTURE_OUT=path to also write the statements as
JSON (bench/bigquery_bytes.py reads them).
"""

import json
import os
import uuid
from dataclasses import asdict
from datetime import date, datetime
from decimal import Decimal

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.test import override_settings

from tests.conftest import PASSWORD
from tests.googlesql.capture import Statement, StatementCapture
from tests.googlesql.drive import drive_everything


@pytest.fixture(scope="session")
def captured(django_db_setup, django_db_blocker, bigquery_emulator, tmp_path_factory) -> list[Statement]:
    root = tmp_path_factory.mktemp("googlesql")
    dataset = f"sales_{uuid.uuid4().hex[:10]}"
    overrides = {
        "DATA_DIR": root,
        "WAREHOUSE_DIR": root / "warehouse",
        "MEDIA_ROOT": root / "files",
        "STORAGES": {
            **settings.STORAGES,
            "default": {
                "BACKEND": "django.core.files.storage.FileSystemStorage",
                "OPTIONS": {"location": root / "files"},
            },
        },
        "PASSWORD_HASHERS": ["django.contrib.auth.hashers.MD5PasswordHasher"],
        "WAREHOUSE": "bigquery",
        "BIGQUERY_PROJECT": bigquery_emulator.project,
        "BIGQUERY_DATASET": dataset,
        "BIGQUERY_API_ENDPOINT": bigquery_emulator.endpoint,
        "BIGQUERY_LOCATION": "US",
        "REPORT_EXPORTS_PER_WINDOW": 0,
        "REPORT_LINE_EXPORTS_PER_WINDOW": 0,
    }
    capture = StatementCapture(project=bigquery_emulator.project, dataset=dataset)
    with pytest.MonkeyPatch.context() as patch, django_db_blocker.unblock(), override_settings(**overrides):
        cache.clear()
        capture.wrap(patch)
        with transaction.atomic():
            drive_everything(capture, root, password=PASSWORD)
            transaction.set_rollback(True)
        cache.clear()
    if out := os.environ.get("SQL_CAPTURE_OUT"):
        with open(out, "w") as fh:
            json.dump([asdict(s) for s in capture.statements], fh, default=_json, indent=1)
    return capture.statements


def _json(value):
    if isinstance(value, date | datetime | Decimal):
        return str(value)
    raise TypeError(type(value))
