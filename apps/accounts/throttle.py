"""Login throttling: after LOGIN_FAILURE_LIMIT failed sign-ins for one username from one
address within LOGIN_FAILURE_WINDOW seconds, that pair is refused for LOGIN_LOCKOUT_SECONDS.

Counts live in the cache (Redis when REDIS_URL is set, so every web process shares them).
Keyed by username and address together, so an attacker elsewhere cannot lock a user out."""

import hashlib

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest


def client_ip(request: HttpRequest | None) -> str:
    # REMOTE_ADDR only: X-Forwarded-For is whatever the client wants it to be unless a
    # trusted proxy rewrites it, and then REMOTE_ADDR is set by the WSGI server behind it.
    return request.META.get("REMOTE_ADDR", "") if request is not None else ""


def _key(kind: str, username: str, ip: str) -> str:
    digest = hashlib.sha256(f"{username.strip().lower()}\0{ip}".encode()).hexdigest()
    return f"login-{kind}:{digest}"


def lockout_message() -> str:
    minutes = max(1, round(settings.LOGIN_LOCKOUT_SECONDS / 60))
    return f"Too many failed sign-ins for this account from your address. Try again in {minutes} minutes."


def login_locked(*, username: str, ip: str) -> bool:
    return bool(cache.get(_key("locked", username, ip)))


def login_failure_record(*, username: str, ip: str) -> bool:
    """Count a failed sign-in; whether the pair is now locked out."""
    key = _key("failures", username, ip)
    cache.add(key, 0, timeout=settings.LOGIN_FAILURE_WINDOW)
    try:
        failures = cache.incr(key)
    except ValueError:  # expired between add and incr: this failure starts a new window
        cache.set(key, failures := 1, timeout=settings.LOGIN_FAILURE_WINDOW)
    if failures < settings.LOGIN_FAILURE_LIMIT:
        return False
    cache.set(_key("locked", username, ip), True, timeout=settings.LOGIN_LOCKOUT_SECONDS)
    cache.delete(key)
    return True


def login_success_record(*, username: str, ip: str) -> None:
    cache.delete(_key("failures", username, ip))
