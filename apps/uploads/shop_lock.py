"""One load at a time per shop: the overlap check and the warehouse commit of an upload run
under its shop's lock, so that two uploads of one shop holding the same lines, run by two
workers at the same moment, never both find the other's lines missing and both load them.

The lock is salesapp/locks.py's: a PostgreSQL advisory lock (namespace, shop id) on a
connection of its own, so the run's other writes (its stage, its progress, its heartbeat)
are not held in a transaction for the length of a load; on SQLite an flock on
DATA_DIR/locks/shop-<id>.lock. A SQLite write transaction would exclude too, but would stop
every other write of the whole database (heartbeats, other shops' runs, the web) for the
length of the load.
"""

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

from salesapp.locks import process_lock

log = logging.getLogger(__name__)
# The first key of the advisory lock: this lock's own namespace among the database's users.
ADVISORY_NAMESPACE = 0x5A1E


@contextmanager
def shop_load_lock(shop_id: int) -> Iterator[float]:
    """Held while the block runs; yields the seconds it waited for the lock."""
    started = time.monotonic()
    lock = process_lock(namespace=ADVISORY_NAMESPACE, key=int(shop_id), name=f"shop-{int(shop_id)}")
    with lock:
        waited = round(time.monotonic() - started, 3)
        if waited > 1:
            log.info("waited %.1fs for shop %s's load lock", waited, shop_id)
        yield waited
