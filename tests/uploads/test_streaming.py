"""Files arrive through the streaming upload handler: to disk in chunks, hashed on the way,
a body over the limit refused before it is read; the page script gets JSON answers."""

import hashlib

from django.core.files.storage import default_storage
from django.core.handlers.wsgi import WSGIRequest
from django.test import RequestFactory

from apps.uploads.handlers import StreamingUploadHandler
from apps.uploads.models import Upload

from .helpers import SOME_BAD, post_file


def test_page_script_upload_gets_201_with_the_status_page_url(client_of):
    response = post_file(client_of("mgr_us_nyc"), "US-NYC", SOME_BAD.encode())

    upload = Upload.objects.get()
    assert response.status_code == 201
    assert response.json() == {"id": str(upload.id), "url": f"/uploads/{upload.id}/", "status": "queued"}


def test_hash_computed_while_streaming_is_the_files_sha256_and_no_temp_file_is_left(client_of, settings):
    content = SOME_BAD.encode() * 20_000  # ~3.6 MB: above FILE_UPLOAD_MAX_MEMORY_SIZE

    post_file(client_of("mgr_us_nyc"), "US-NYC", content)

    upload = Upload.objects.get()
    assert upload.sha256 == hashlib.sha256(content).hexdigest()
    assert upload.size_bytes == len(content)
    with default_storage.open(upload.raw_path, "rb") as stored:
        assert stored.read() == content
    assert list(settings.TEMP_DIR.glob("*.upload*")) == []  # moved into storage, not copied


def test_an_upload_streams_into_a_temp_dir_made_on_first_use(client_of, settings, tmp_path):
    settings.TEMP_DIR = tmp_path / "fresh" / "tmp"  # as on a fresh DATA_DIR: the settings create nothing
    content = SOME_BAD.encode()

    response = post_file(client_of("mgr_us_nyc"), "US-NYC", content)

    assert response.status_code == 201
    with default_storage.open(Upload.objects.get().raw_path, "rb") as stored:
        assert stored.read() == content
    assert settings.TEMP_DIR.is_dir()
    assert list(settings.TEMP_DIR.iterdir()) == []  # moved into storage


def test_body_over_the_limit_is_refused_with_413_before_it_is_read(client_of, settings):
    settings.UPLOAD_MAX_BYTES = 1000

    response = post_file(client_of("mgr_us_nyc"), "US-NYC", b"a,b\n" * 50_000)  # 200 KB body

    assert response.status_code == 413
    assert "the limit is 1000\xa0bytes per file" in response.json()["errors"][0]
    assert not Upload.objects.exists()


def test_file_over_the_limit_inside_a_small_body_is_stopped_while_streaming(client_of, settings):
    settings.UPLOAD_MAX_BYTES = 1000

    response = post_file(client_of("mgr_us_nyc"), "US-NYC", b"a,b\n" * 1000)  # 4 KB: within the body allowance

    assert response.status_code == 413
    assert response.json()["errors"] == ["'sales.csv' is too big: the limit is 1000\xa0bytes."]
    assert not Upload.objects.exists()


def test_handler_does_not_read_a_body_over_the_limit(settings):
    settings.UPLOAD_MAX_BYTES = 10
    request: WSGIRequest = RequestFactory().post("/uploads/")
    handler = StreamingUploadHandler(request)

    class Unreadable:
        def read(self, *args):
            raise AssertionError("the body was read")

    post, files = handler.handle_raw_input(Unreadable(), {}, 10 + 64 * 1024 + 1, b"x")

    assert (dict(post), dict(files)) == ({}, {})
    assert request.upload_refused.startswith("The upload is 64.0")
