"""Broker down while files arrive: Redis is stopped, three files are uploaded through the
web form; each is stored and recorded queued, and the page answers (no 500). Redis comes
back, the sweep (Celery beat's task, called here) enqueues them, and the worker, which
reconnects by itself, loads each exactly once."""

import time

import pytest
from django.core.files.storage import default_storage

from apps.accounts.models import Shop
from apps.uploads.models import Upload, UploadEvent
from apps.uploads.tasks import sweep_uploads

from .conftest import wait_finished

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def broker(redis_broker):
    return redis_broker


@pytest.fixture
def files(sample, tmp_path) -> dict[str, int]:
    """Three different files cut from one, none holding another's lines (so none is held as a
    duplicate or as lines loaded before): name -> rows."""
    header, *rows = sample("bernasiakk_usa.csv").read_text().splitlines(keepends=True)
    cuts = {"first-100.csv": rows[:100], "middle-100.csv": rows[100:200], "last-91.csv": rows[200:]}
    for name, lines in cuts.items():
        (tmp_path / name).write_text(header + "".join(lines))
    return {str(tmp_path / name): len(lines) for name, lines in cuts.items()}


def test_uploads_made_while_redis_is_down_are_kept_and_loaded_once_it_returns(
    celery_worker, redis_server, settings, client, cast, files, warehouse_count
):
    client.force_login(cast["mgr_us_nyc"])
    redis_server.stop()

    ids = []
    for path in files:
        started = time.monotonic()
        with open(path, "rb") as fh:
            response = client.post("/uploads/", {"shop": Shop.objects.get(code="US-NYC").pk, "file": fh})
        assert response.status_code == 302, response.content[:2000]
        assert time.monotonic() - started < 15  # the publish gives up, the request does not hang
        upload = Upload.objects.latest("created_at")
        assert (upload.status, upload.original_name) == (Upload.Status.QUEUED, path.rsplit("/", 1)[1])
        assert default_storage.exists(upload.raw_path)
        assert client.get(f"/uploads/{upload.pk}/").status_code == 200
        ids.append(upload.pk)

    redis_server.start()
    settings.UPLOAD_SWEEP_QUEUED_AFTER = 0
    assert sweep_uploads() == 3
    done = [wait_finished(pk, describe=celery_worker.describe) for pk in ids]

    assert [u.status for u in done] == [Upload.Status.LOADED] * 3, [u.message for u in done]
    assert [u.rows_loaded for u in done] == list(files.values())
    assert [UploadEvent.objects.filter(upload=u, kind=UploadEvent.Kind.FINISHED).count() for u in done] == [1] * 3
    assert warehouse_count('SELECT count(*) FROM "orders-cleaned"') == sum(files.values()) == 291
    assert sweep_uploads() == 0
