"""Fixtures for tests/uploads: logged-in clients of the demo cast."""

from contextlib import contextmanager

import pytest
from django.test import Client

from salesapp.celery import app as celery_app


@pytest.fixture
def client_of(cast):
    """A test client logged in as one of the cast (by username)."""

    def login(username: str) -> Client:
        client = Client()
        client.force_login(cast[username])
        return client

    return login


@pytest.fixture
def worker_inline(django_capture_on_commit_callbacks, monkeypatch):
    """Within the block, what is enqueued on commit runs at once in this process (eager
    Celery: unit tests only; tests/integration use a real worker)."""

    @contextmanager
    def run():
        monkeypatch.setitem(celery_app.conf, "task_always_eager", True)
        with django_capture_on_commit_callbacks(execute=True):
            yield
        monkeypatch.setitem(celery_app.conf, "task_always_eager", False)

    return run
