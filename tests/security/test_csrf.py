"""CSRF: every URL refuses a POST without a CSRF token (Django's middleware runs before any
view, so this covers each form: login, logout, upload, decision, mapping, the admin's forms,
actions and warehouse sync). The API is the exception by design: with a token in the
Authorization header there is no ambient credential to ride on, so it is exempt; the same
API used with the browser's session cookie is CSRF-checked by DRF's SessionAuthentication."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token

from apps.accounts.models import Shop
from apps.uploads.models import Upload
from tests.conftest import PASSWORD
from tests.security.urls import routes, url_of
from tests.uploads.helpers import SOME_BAD

# The API token endpoint: DRF views are csrf_exempt, and its POST carries the credentials.
EXEMPT = {"api:token"}


def _strict(user=None, **headers) -> Client:
    client = Client(enforce_csrf_checks=True, **headers)
    if user is not None:
        client.force_login(user)
    return client


def _csrf_refused(response) -> bool:
    return response.status_code == 403 and b"CSRF" in response.content


@pytest.mark.parametrize("username", [None, "admin", "mgr_us_nyc"])
def test_every_url_refuses_a_post_without_a_csrf_token(cast, nyc_upload, username):
    client = _strict(cast[username] if username else None)
    values = {"upload_id": nyc_upload.id, "fmt": "csv", "dataset": "kpis", "country_code": "US"}
    values |= {"app_label": "accounts", "content_type_id": 1, "object_id": 1, "request_id": 1}
    accepted = []
    for route in routes():
        if route.key in EXEMPT or (route.key.startswith("api:") and username is None):
            continue  # anonymous API calls are 401 before anything else
        url = url_of(route, values)
        if not _csrf_refused(client.post(url, {"choice": "cancel", "username": "admin", "password": PASSWORD})):
            accepted.append(url)
    assert not accepted
    assert Upload.objects.get(pk=nyc_upload.pk).status == nyc_upload.status


def _post_upload(client: Client, **headers):
    shop = Shop.objects.get(code="US-NYC")
    data = {"shop": shop.pk, "file": SimpleUploadedFile("sales.csv", SOME_BAD.encode())}
    return client.post("/uploads/", data, headers={"Accept": "application/json", **headers})


def test_the_forms_work_with_the_token_the_page_gave(cast, django_capture_on_commit_callbacks):
    client = _strict()
    client.get(reverse("login"))
    token = client.cookies["csrftoken"].value

    login = client.post(
        reverse("login"), {"username": "mgr_us_nyc", "password": PASSWORD, "csrfmiddlewaretoken": token}
    )
    client.get(reverse("uploads:index"))  # login rotates the token
    with django_capture_on_commit_callbacks():
        upload = _post_upload(client, **{"X-CSRFToken": client.cookies["csrftoken"].value})
    logout = client.post(reverse("logout"), {"csrfmiddlewaretoken": client.cookies["csrftoken"].value})

    assert (login.status_code, upload.status_code, logout.status_code) == (302, 201, 302)


def test_the_api_with_the_session_cookie_needs_the_csrf_token(cast):
    client = _strict(cast["mgr_us_nyc"])

    response = client.post(reverse("api:uploads"), {"shop": "US-NYC", "file": SimpleUploadedFile("s.csv", b"x")})

    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    assert not Upload.objects.exists()


def test_the_api_with_a_token_is_exempt_by_design(cast, django_capture_on_commit_callbacks):
    key = Token.objects.create(user=cast["mgr_us_nyc"]).key
    client = _strict(HTTP_AUTHORIZATION=f"Token {key}")

    with django_capture_on_commit_callbacks():
        response = client.post(
            reverse("api:uploads"), {"shop": "US-NYC", "file": SimpleUploadedFile("s.csv", SOME_BAD.encode())}
        )
    token = _strict().post(reverse("api:token"), {"username": "mgr_us_nyc", "password": PASSWORD})

    assert response.status_code == 201
    assert token.status_code == 200
