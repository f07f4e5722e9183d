"""Fixtures for tests/uploads: logged-in clients of the demo cast."""

import pytest
from django.test import Client


@pytest.fixture
def client_of(cast):
    """A test client logged in as one of the cast (by username)."""

    def login(username: str) -> Client:
        client = Client()
        client.force_login(cast[username])
        return client

    return login
