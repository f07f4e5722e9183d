"""/api/: token-authenticated uploads, status, rejected rows and the OpenAPI schema, in
the caller's scope (out of scope is 404, not 403)."""

from io import StringIO

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from apps.uploads.models import Upload
from apps.uploads.run import upload_run
from tests.factories import upload_of
from tests.uploads.helpers import SOME_BAD


@pytest.fixture
def api(cast):
    """api(username) -> an APIClient that sends that user's token."""

    def client(username: str) -> APIClient:
        c = APIClient()
        c.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=cast[username])[0].key}")
        return c

    return client


def _post(client: APIClient, shop: str = "US-NYC", content: bytes = SOME_BAD.encode(), name="sales.csv", **extra):
    return client.post("/api/uploads/", {"shop": shop, "file": SimpleUploadedFile(name, content), **extra})


@pytest.fixture
def with_errors(cast, tmp_path) -> Upload:
    path = tmp_path / "some_bad.csv"
    path.write_text(SOME_BAD)
    return upload_run(upload_id=upload_of(cast["mgr_us_nyc"], "US-NYC", path).id)


def test_post_a_file_gives_201_with_its_status_url(api, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as enqueued:
        response = _post(api("mgr_us_nyc"))

    upload = Upload.objects.get()
    assert response.status_code == 201
    assert response["Location"] == f"http://testserver/api/uploads/{upload.id}/"
    body = response.json()
    assert (body["status"], body["shop"], body["uploaded_by"], body["file"]) == (
        "queued",
        "US-NYC",
        "mgr_us_nyc",
        "sales.csv",
    )
    assert body["page_url"] == f"http://testserver/uploads/{upload.id}/"
    assert len(enqueued) == 1


def test_status_then_rejected_rows_of_a_finished_upload(api, with_errors):
    client = api("head_us")

    status = client.get(f"/api/uploads/{with_errors.id}/").json()
    rejected = client.get(status["rejected_csv_url"])

    assert (status["status"], status["rows_loaded"], status["rows_rejected"]) == ("loaded_with_errors", 3, 2)
    assert status["errors_by_reason"] == {"cannot be read as a whole number": 1, "unknown country": 1}
    assert rejected.status_code == 200
    lines = b"".join(rejected.streaming_content).decode().splitlines()
    assert lines[0] == '"row","InvoiceNo","StockCode","Quantity","InvoiceDate","UnitPrice","Country","errors"'
    assert len(lines) == 3


@pytest.mark.parametrize("path", ["", "rejected.csv"])
@pytest.mark.parametrize("username", ["mgr_uk_lon", "head_uk", "mgr_fr_par"])
def test_out_of_scope_upload_is_404_through_the_api(api, with_errors, username, path):
    assert api(username).get(f"/api/uploads/{with_errors.id}/{path}").status_code == 404


def test_list_holds_only_uploads_in_scope(api, with_errors, cast, sample):
    upload_of(cast["mgr_uk_lon"], "UK-LON", sample("online_retail_sample_sfc.csv"))

    assert [u["shop"] for u in api("mgr_us_nyc").get("/api/uploads/").json()] == ["US-NYC"]
    assert sorted(u["shop"] for u in api("admin").get("/api/uploads/").json()) == ["UK-LON", "US-NYC"]


def test_without_a_token_nothing_is_answered(cast, with_errors):
    assert APIClient().get(f"/api/uploads/{with_errors.id}/").status_code == 401
    assert _post(APIClient()).status_code == 401
    assert not Upload.objects.exclude(pk=with_errors.pk).exists()


@pytest.mark.parametrize(
    ("username", "shop", "code"), [("head_us", "US-NYC", 403), ("mgr_us_nyc", "UK-LON", 400), ("mgr_us_nyc", "XX", 400)]
)
def test_upload_for_a_shop_outside_the_callers_rights_is_refused(api, username, shop, code):
    assert _post(api(username), shop).status_code == code
    assert not Upload.objects.exists()


@pytest.mark.parametrize(
    ("content", "name", "detail"),
    [
        (b"", "sales.csv", "The submitted file is empty."),
        (b"\x89PNG\r\n", "sales.csv", "'sales.csv' is not a text file: it looks like a PNG image."),
        (b"a,b\n", "sales.pdf", "'sales.pdf' is not a CSV or Excel file."),
    ],
)
def test_bad_files_get_a_400_with_the_reason(api, content, name, detail):
    response = _post(api("mgr_us_nyc"), content=content, name=name)

    assert response.status_code == 400
    assert detail in str(response.json())


def test_file_over_the_limit_is_413(api, settings):
    settings.UPLOAD_MAX_BYTES = 100

    response = _post(api("mgr_us_nyc"), content=b"a,b\n" * 100)

    assert response.status_code == 413
    assert "the limit is 100\xa0bytes" in response.json()["detail"]


def test_duplicate_is_held_or_refused_as_asked_and_decided_through_the_api(
    api, with_errors, django_capture_on_commit_callbacks
):
    client = api("mgr_us_nyc")

    refused = _post(client, on_duplicate="cancel")
    held = _post(client)
    with django_capture_on_commit_callbacks(execute=False):
        decided = client.post(f"/api/uploads/{held.json()['id']}/decision", {"choice": "replace"}, format="json")

    assert refused.status_code == 409
    assert refused.json()["duplicate_of"] == str(with_errors.id)
    assert (held.status_code, held.json()["status"], held.json()["duplicate_of"]) == (
        201,
        "duplicate",
        str(with_errors.id),
    )
    assert (decided.json()["status"], decided.json()["replaces"]) == ("queued", str(with_errors.id))


def test_schema_is_served_and_lists_the_upload_endpoints(api):
    response = api("mgr_us_nyc").get("/api/schema/")

    assert response.status_code == 200
    text = response.content.decode()
    for path in ("/api/uploads/:", "/api/uploads/{upload_id}/:", "/api/uploads/{upload_id}/rejected.csv:"):
        assert path in text


def test_api_token_command_prints_one_token_per_user_and_reset_replaces_it(cast):
    def run(*args) -> str:
        out = StringIO()
        call_command("api_token", "mgr_us_nyc", *args, stdout=out)
        return out.getvalue().strip()

    first = run()

    assert run() == first
    assert run("--reset") != first
    assert APIClient(HTTP_AUTHORIZATION=f"Token {run()}").get("/api/uploads/").status_code == 200


def test_a_user_gets_their_own_token_with_their_password(cast):
    from tests.conftest import PASSWORD

    response = APIClient().post("/api/token/", {"username": "mgr_us_nyc", "password": PASSWORD})

    assert response.json()["token"] == Token.objects.get(user=cast["mgr_us_nyc"]).key


def test_list_takes_the_uploads_pages_filters(api, with_errors, cast, sample, tmp_path):
    from datetime import timedelta

    from django.utils import timezone

    clean = upload_run(upload_id=upload_of(cast["mgr_us_nyc"], "US-NYC", sample("bernasiakk_usa.csv")).id)
    old = upload_of(cast["mgr_uk_lon"], "UK-LON", sample("online_retail_sample_sfc.csv"))
    Upload.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=10))
    admin = api("admin")

    def ids(query: str) -> set[str]:
        response = admin.get(f"/api/uploads/?{query}")
        assert response.status_code == 200, response.json()
        return {u["id"] for u in response.json()}

    assert ids("") == {str(with_errors.id), str(clean.id), str(old.id)}
    assert ids("status=loaded") == {str(clean.id)}
    assert ids("status=loaded_with_errors&shop=US-NYC") == {str(with_errors.id)}
    assert ids("shop=UK-LON") == {str(old.id)}
    week_ago = (timezone.localdate() - timedelta(days=7)).isoformat()
    assert ids(f"date_to={week_ago}") == {str(old.id)}
    assert ids(f"date_from={week_ago}") == {str(with_errors.id), str(clean.id)}


@pytest.mark.parametrize(
    ("username", "query", "field"),
    [
        ("mgr_us_nyc", "shop=UK-LON", "shop"),  # a shop outside the caller's scope
        ("admin", "status=lost", "status"),
        ("admin", "date_from=31/02/2026", "date_from"),
    ],
)
def test_a_filter_that_cannot_apply_is_a_400_naming_it(api, with_errors, username, query, field):
    response = api(username).get(f"/api/uploads/?{query}")

    assert response.status_code == 400
    assert field in response.json()["errors"]
