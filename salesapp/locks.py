"""A lock held across processes, and across hosts where the app database can: what the
per-shop load lock (apps/uploads/shop_lock.py) and the BigQuery writer lock
(apps/warehouse/pending.py) are made of.

PostgreSQL (any number of workers, on any hosts sharing the database): a session-level
advisory lock, pg_advisory_lock(namespace, key), taken on a connection of its own, so that
the holder's other writes are not held in a transaction for as long as the lock, and the
lock goes when that connection closes: a process killed while holding it holds it no longer.

SQLite (one host by nature): an exclusive flock on DATA_DIR/locks/<name>.lock, which the
kernel drops when the process dies.
"""

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections


@contextmanager
def process_lock(*, namespace: int, key: int, name: str) -> Iterator[None]:
    """Held while the block runs. `namespace` and `key`: the advisory lock's two keys;
    `name`: the lock file's, on SQLite."""
    if connections[DEFAULT_DB_ALIAS].vendor == "postgresql":
        own = connections.create_connection(DEFAULT_DB_ALIAS)
        try:
            with own.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_lock(%s, %s)", [namespace, key])
            yield
        finally:
            own.close()  # ends the session: the lock goes with it
        return
    folder = Path(settings.DATA_DIR) / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f"{name}.lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
