"""Login throttling: after LOGIN_FAILURE_LIMIT failed sign-ins for one username from one
address within LOGIN_FAILURE_WINDOW seconds, that pair is refused for LOGIN_LOCKOUT_SECONDS.

Every attempt is counted, atomically, *before* its password is checked, and only the first
LOGIN_FAILURE_LIMIT of a window are checked: attempts sent in parallel cannot all slip past
a check that would only learn of their failures once their slow password checks are done.
A success ends the count.

Counts live in the cache: Redis when REDIS_URL is set, which every web process shares; the
per-process memory otherwise, which is right only for one web process (each process of a
server with several would count on its own). Keyed by username and address together, so an
attacker elsewhere cannot lock a user out."""

import hashlib

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

# Set on the request when the throttle refused a sign-in, so the login form and the token
# endpoint can say why (authenticate() itself only says "no user").
REFUSED = "login_throttle_refused"


def client_ip(request: HttpRequest | None) -> str:
    # REMOTE_ADDR only: X-Forwarded-For is whatever the client wants it to be unless a
    # trusted proxy rewrites it, and then REMOTE_ADDR is set by the WSGI server behind it.
    return request.META.get("REMOTE_ADDR", "") if request is not None else ""


def _key(username: str, ip: str) -> str:
    digest = hashlib.sha256(f"{username.strip().lower()}\0{ip}".encode()).hexdigest()
    return f"login-attempts:{digest}"


def lockout_message() -> str:
    minutes = max(1, round(settings.LOGIN_LOCKOUT_SECONDS / 60))
    return f"Too many failed sign-ins for this account from your address. Try again in {minutes} minutes."


def login_attempt_count(*, username: str, ip: str) -> int | None:
    """Count an attempt before its password is checked: its number in the window, or None
    when the pair is locked out (the password must then not be checked at all)."""
    key = _key(username, ip)
    for _ in range(2):
        # add and incr are atomic in Redis and in the local-memory cache alike: of N attempts
        # at once, each gets its own number.
        cache.add(key, 0, timeout=settings.LOGIN_FAILURE_WINDOW)
        try:
            attempt = cache.incr(key)
        except ValueError:  # the window ended between add and incr: start the next one
            continue
        if attempt == 1:
            # Django's Redis incr checks the key exists, then INCRs: a key that expired in
            # between is made again with no expiry. The first attempt starts the window anyway.
            cache.touch(key, settings.LOGIN_FAILURE_WINDOW)
        return attempt if attempt <= settings.LOGIN_FAILURE_LIMIT else None
    return None  # the cache keeps losing the key: refuse rather than check unthrottled


def login_failure_record(*, username: str, ip: str, attempt: int) -> bool:
    """The checked attempt `attempt` failed; whether the pair is now locked out. The last
    attempt a window allows starts the lockout: the count, already at the limit, refuses
    every later attempt until it expires LOGIN_LOCKOUT_SECONDS from now."""
    if attempt < settings.LOGIN_FAILURE_LIMIT:
        return False
    cache.touch(_key(username, ip), settings.LOGIN_LOCKOUT_SECONDS)
    return True


def login_success_record(*, username: str, ip: str) -> None:
    cache.delete(_key(username, ip))


def login_refused(request: HttpRequest | None) -> str:
    """The throttle's message when it refused this request's sign-in, else ""."""
    return getattr(request, REFUSED, "") if request is not None else ""
