"""Migrating a database that the race of issue 17 left with doubled uploads: each shop's
content gets one current upload (the one the duplicate check used to find: the latest not
cancelled, not held, not replaced by a loaded upload), so the unique constraint can be made."""

import uuid

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

pytestmark = pytest.mark.django_db(transaction=True)
BEFORE = [("uploads", "0007_upload_date_order")]
AFTER = [("uploads", "0009_upload_unique_current_and_pending_replacement")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.fixture(autouse=True)
def _latest_schema_afterwards():
    """The tests after these need every migration applied again."""
    yield
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def test_the_migration_marks_one_current_upload_per_content_where_parallel_uploads_left_several(cast):
    old = _migrate(BEFORE)
    Upload, Shop = old.get_model("uploads", "Upload"), old.get_model("accounts", "Shop")
    shop = Shop.objects.get(code="US-NYC")
    now = timezone.now()

    def upload(sha: str, status: str, minutes: int, **kw):
        created = now - timezone.timedelta(minutes=minutes)
        return Upload.objects.create(id=uuid.uuid4(), shop=shop, sha256=sha, status=status, created_at=created, **kw)

    raced = [upload("a" * 64, "loaded", 3), upload("a" * 64, "loaded", 2), upload("a" * 64, "duplicate", 1)]
    replaced = upload("b" * 64, "loaded", 5)
    replacement = upload("c" * 64, "loaded", 4, replaces=replaced)
    cancelled = upload("d" * 64, "cancelled", 1)

    new = _migrate(AFTER)

    current = set(new.get_model("uploads", "Upload").objects.filter(content_current=True).values_list("pk", flat=True))
    assert current == {raced[1].pk, replacement.pk}
    assert cancelled.pk not in current
