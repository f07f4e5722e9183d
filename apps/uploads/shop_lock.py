"""One load at a time per shop: the overlap check and the warehouse commit of an upload run
under its shop's lock, so that two uploads of one shop holding the same lines, run by two
workers at the same moment, never both find the other's lines missing and both load them.

PostgreSQL (any number of workers, on any hosts sharing the database): a session-level
advisory lock, pg_advisory_lock(namespace, shop id), taken on a connection of its own, so
that the run's other writes (its stage, its progress, its heartbeat) are not held in a
transaction for the length of a load, and the lock goes when that connection closes: a
worker killed while holding it holds it no longer.

SQLite (one host by nature): an exclusive flock on DATA_DIR/locks/shop-<id>.lock, which the
kernel drops when the process dies. A SQLite write transaction would exclude too, but would
stop every other write of the whole database (heartbeats, other shops' runs, the web) for
the length of the load.
"""

import fcntl
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections

log = logging.getLogger(__name__)
# The first key of the advisory lock: this lock's own namespace among the database's users.
ADVISORY_NAMESPACE = 0x5A1E


@contextmanager
def shop_load_lock(shop_id: int) -> Iterator[float]:
    """Held while the block runs; yields the seconds it waited for the lock."""
    started = time.monotonic()
    if connections[DEFAULT_DB_ALIAS].vendor == "postgresql":
        lock = _advisory_lock(int(shop_id))
    else:
        lock = _file_lock(int(shop_id))
    with lock:
        waited = round(time.monotonic() - started, 3)
        if waited > 1:
            log.info("waited %.1fs for shop %s's load lock", waited, shop_id)
        yield waited


@contextmanager
def _advisory_lock(shop_id: int) -> Iterator[None]:
    own = connections.create_connection(DEFAULT_DB_ALIAS)
    try:
        with own.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s, %s)", [ADVISORY_NAMESPACE, shop_id])
        yield
    finally:
        own.close()  # ends the session: the lock goes with it


@contextmanager
def _file_lock(shop_id: int) -> Iterator[None]:
    folder = Path(settings.DATA_DIR) / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f"shop-{shop_id}.lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
