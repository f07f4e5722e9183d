"""Uploads of real files (tests/data) and copies of them, run as a worker runs them."""

from pathlib import Path

import pytest
from django.core.files import File

from apps.accounts.access import scope_for
from apps.accounts.models import Shop
from apps.uploads.models import Upload
from apps.uploads.run import upload_run
from apps.uploads.services import upload_create
from apps.warehouse.services import warehouse
from tests.uploads.conftest import client_of, worker_inline  # noqa: F401 (fixtures)
from tests.warehouse.factories import EVERY_DAY


@pytest.fixture
def load(cast, tmp_path):
    """Upload `content` (bytes, or a file's path) for a shop as its manager, run it; the upload."""

    def upload(name: str, content, *, shop: str = "US-NYC", user: str = "mgr_us_nyc", on_overlap="ask") -> Upload:
        path = content if isinstance(content, Path) else tmp_path / name
        if not isinstance(content, Path):
            path.write_bytes(content)
        with path.open("rb") as fh:
            created = upload_create(
                scope=scope_for(cast[user]),
                user=cast[user],
                shop=Shop.objects.get(code=shop),
                file=File(fh, name=name),
                name=name,
                enqueue=False,
                on_overlap=on_overlap,
            )
        if created.status != Upload.Status.QUEUED:
            return created
        return upload_run(upload_id=created.id)

    return upload


def shop_totals(store_id: str = "US-NYC") -> dict:
    """The shop's rows in the warehouse, counted with SQL: lines, distinct line keys, revenue."""
    sql = f"""SELECT count(*) AS lines, count(DISTINCT line_key) AS keys, sum(revenue) AS revenue,
                    count(DISTINCT upload_id) AS uploads
             FROM "orders-cleaned" WHERE {EVERY_DAY} AND store_id = $store"""
    row = warehouse().query(sql, {"store": store_id}).to_pylist()[0]
    return {**row, "revenue": float(row["revenue"] or 0)}


def rows_of(upload: Upload) -> int:
    sql = f'SELECT count(*) AS n FROM "orders-cleaned" WHERE {EVERY_DAY} AND upload_id = $id'
    return warehouse().query(sql, {"id": str(upload.id)}).to_pylist()[0]["n"]
