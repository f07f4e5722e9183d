"""A running upload's heartbeat: a thread of the run records a sign of life every
UPLOAD_HEARTBEAT_EVERY seconds (transitions.upload_heartbeat), so that a run whose worker
died is told from a long one within minutes (transitions.run_died; the sweep queues it
again), whatever the broker does with the dead worker's message."""

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django import db
from django.conf import settings

from apps.uploads.transitions import upload_heartbeat

log = logging.getLogger(__name__)


@contextmanager
def heartbeat(upload_id, *, started_at) -> Iterator[None]:
    """Beat for the run's claim (made at `started_at`) while the block runs."""
    if db.connection.in_atomic_block:
        # The beat's own connection would wait on this transaction's lock (tests that wrap
        # everything in one transaction); such a run is never left for dead anyway.
        yield
        return
    stop = threading.Event()

    def beat() -> None:
        try:
            while not stop.wait(settings.UPLOAD_HEARTBEAT_EVERY):
                try:
                    if not upload_heartbeat(upload_id, started_at=started_at):
                        return  # ended, or claimed again by another run: nothing of ours to keep alive
                except db.Error:  # a busy database: the next beat tries again
                    log.warning("upload %s: heartbeat not recorded", upload_id, exc_info=True)
        finally:
            db.connection.close()  # the thread's own connection

    thread = threading.Thread(target=beat, name=f"heartbeat-{upload_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
