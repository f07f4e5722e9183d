"""Login throttling: five failed sign-ins for one username from one address within 15
minutes refuse that pair for 15 minutes, on the login page, the admin's login and the API
token endpoint, with a clear message; other addresses and other users are unaffected."""

import time

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

PASSWORD = "correct-horse-battery-1"
LOCKED = "Too many failed sign-ins for this account from your address. Try again in 15 minutes."


@pytest.fixture
def alice(db):
    return get_user_model().objects.create_user("alice", password=PASSWORD, is_staff=True, is_superuser=True)


def _login(client: Client, password: str, username: str = "alice", url: str = "/accounts/login/"):
    return client.post(url, {"username": username, "password": password})


def _fail(client: Client, times: int, username: str = "alice") -> None:
    for _ in range(times):
        assert _login(client, "wrong", username).status_code == 200


def test_the_sixth_attempt_after_five_failures_is_refused_even_with_the_right_password(alice):
    client = Client(REMOTE_ADDR="203.0.113.7")
    _fail(client, 5)

    response = _login(client, PASSWORD)

    assert response.status_code == 200
    assert LOCKED in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_four_failures_still_let_the_right_password_in_and_success_resets_the_count(alice):
    client = Client(REMOTE_ADDR="203.0.113.7")
    _fail(client, 4)
    assert _login(client, PASSWORD).status_code == 302
    client.logout()
    _fail(client, 4)

    assert _login(client, PASSWORD).status_code == 302


def test_a_lockout_binds_one_username_at_one_address_only(alice):
    get_user_model().objects.create_user("bob", password=PASSWORD)
    attacker = Client(REMOTE_ADDR="203.0.113.7")
    _fail(attacker, 5)

    assert _login(Client(REMOTE_ADDR="198.51.100.1"), PASSWORD).status_code == 302
    assert _login(attacker, PASSWORD, username="bob").status_code == 302
    assert _login(attacker, PASSWORD, username="ALICE").status_code == 200  # same user, other case


def test_the_lockout_ends_after_its_time(alice, settings):
    settings.LOGIN_LOCKOUT_SECONDS = 1
    client = Client(REMOTE_ADDR="203.0.113.7")
    _fail(client, 5)
    assert "Try again in 1 minutes" in _login(client, PASSWORD).content.decode()

    time.sleep(1.1)

    assert _login(client, PASSWORD).status_code == 302


def test_limit_and_times_come_from_settings(alice, settings):
    settings.LOGIN_FAILURE_LIMIT = 2
    client = Client(REMOTE_ADDR="203.0.113.7")
    _fail(client, 2)

    assert LOCKED in _login(client, PASSWORD).content.decode()


def test_the_admin_login_is_throttled_too(alice):
    client = Client(REMOTE_ADDR="203.0.113.7")
    url = reverse("admin:login")
    for _ in range(5):
        assert _login(client, "wrong", url=url).status_code == 200

    response = _login(client, PASSWORD, url=url)

    assert response.status_code == 200
    assert LOCKED in response.content.decode()


def test_the_api_token_endpoint_is_throttled_too(alice):
    client = Client(REMOTE_ADDR="203.0.113.7")
    for _ in range(5):
        assert _login(client, "wrong", url="/api/token/").status_code == 400

    refused = _login(client, PASSWORD, url="/api/token/")
    other_address = _login(Client(REMOTE_ADDR="198.51.100.1"), PASSWORD, url="/api/token/")

    assert refused.status_code == 400
    assert refused.json() == {"non_field_errors": [LOCKED]}
    assert other_address.status_code == 200
    assert "token" in other_address.json()
