"""Group commit of staged batches: who applies them to the fact table, and when.

A worker stages its batch (a load job into a staging table: load jobs never conflict),
records a pending apply here, then takes the writer lock. Whoever holds the lock applies
every pending apply (up to a cap) in one statement, marks them, and lets go; a worker that
gets the lock and finds its own already applied returns at once. So no two writers of this
app ever run DML on the fact table at the same time, and under load there is less than one
statement per upload. A pending apply outlives the worker that recorded it: the next writer
applies it (its staging table lasts a day).

This module holds no Django: the BigQuery backend is given a `Commits` (apps/warehouse/
services.py builds the one on the app database, apps/warehouse/pending.py); `FileCommits`
keeps them in a folder, for tests and benches that run without a database.
"""

import fcntl
import json
import os
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Protocol

from apps.warehouse.base import DateSpan

PENDING, APPLIED, FAILED, SUPERSEDED = "pending", "applied", "failed", "superseded"
# How many uploads one statement applies at most: a MERGE's text and its source stay small
# (BigQuery's limit on a query's text is 1 MB; 50 staged tables are ~10 KB of SQL).
GROUP_CAP = 50
# How long a finished apply (applied, superseded, failed) is kept: its days widen the bound of
# a later run of its upload that died before recording its own (loaded_spans); a week covers
# any run again by the sweep or the reconciliation, after which the upload's span is known.
KEEP_FINISHED_SECONDS = 7 * 24 * 3600


@dataclass(frozen=True)
class Pending:
    """One upload's staged batch, waiting to be applied."""

    upload_id: str
    staging: str  # project.dataset.table of the staged rows
    span: DateSpan | None  # the staged rows' order days (None: no rows)
    # Where the rows this apply removes lie: its own earlier load, the uploads it retires
    # (base.removal_span); None: nothing earlier.
    removes: DateSpan | None
    retired: tuple[str, ...] = ()
    displaced: tuple[str, ...] = ()
    stores: tuple[str, ...] = ()
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    state: str = PENDING
    attempts: int = 0
    error: str = ""
    created: float = field(default_factory=time.time)

    @property
    def replaced(self) -> tuple[str, ...]:
        """The uploads whose rows this apply removes whole: its own (earlier) and retired ones."""
        return (self.upload_id, *self.retired)


class Commits(Protocol):
    def record(self, pending: Pending) -> None:
        """Keep `pending` (a writer marks an earlier pending apply of the same upload
        superseded: a run again has staged its batch anew)."""

    def writer(self) -> AbstractContextManager[None]:
        """Held while the holder applies: one writer at a time, across processes and hosts."""

    def get(self, pending_id: str) -> Pending | None: ...

    def waiting(self, limit: int = GROUP_CAP) -> list[Pending]:
        """The pending applies, oldest first, at most `limit`."""

    def mark(self, pending: Pending, state: str, *, error: str = "") -> None: ...

    def attempt(self, pendings: Sequence[Pending]) -> None:
        """Count one more try of each (an operator sees how often a group was retried)."""

    def loaded_spans(self, upload_id: str) -> list[DateSpan]:
        """The staged days of the upload's applied (or still pending) batches: where rows of
        it may lie even if its run died before recording its span on the upload."""

    def prune(self, *, older_than: float) -> int:
        """Forget the finished applies created before `older_than` (seconds since the epoch);
        how many. Pending ones are kept, however old."""


def latest_per_upload(pendings: Sequence[Pending]) -> tuple[list[Pending], list[Pending]]:
    """The newest pending apply of each upload (in the order given), and the older ones:
    one statement must not insert two stagings of one upload."""
    newest: dict[str, Pending] = {}
    for pending in pendings:
        if pending.upload_id not in newest or pending.created >= newest[pending.upload_id].created:
            newest[pending.upload_id] = pending
    kept = [p for p in pendings if newest[p.upload_id] is p]
    return kept, [p for p in pendings if newest[p.upload_id] is not p]


def _span_json(span: DateSpan | None) -> list[str] | None:
    return None if span is None else [span.first.isoformat(), span.last.isoformat()]


def _span_of(value: list[str] | None) -> DateSpan | None:
    import datetime as dt

    return None if value is None else DateSpan(dt.date.fromisoformat(value[0]), dt.date.fromisoformat(value[1]))


class FileCommits:
    """Pending applies as JSON files in a folder, the writer lock an flock on a file there:
    shared by every process of one host (tests, the load bench)."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    def _path(self, pending_id: str) -> Path:
        return self.folder / f"{pending_id}.json"

    def _write(self, pending: Pending) -> None:
        data = asdict(pending) | {"span": _span_json(pending.span), "removes": _span_json(pending.removes)}
        temp = self.folder / f".{pending.id}.{os.getpid()}.tmp"
        temp.write_text(json.dumps(data))
        temp.replace(self._path(pending.id))  # atomic: a reader never sees half a file

    def _read(self, path: Path) -> Pending | None:
        try:
            data = json.loads(path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        data |= {"span": _span_of(data["span"]), "removes": _span_of(data["removes"])}
        data |= {k: tuple(data[k]) for k in ("retired", "displaced", "stores")}
        return Pending(**data)

    def _all(self) -> list[Pending]:
        found = (self._read(p) for p in self.folder.glob("*.json"))
        return sorted((p for p in found if p is not None), key=lambda p: p.created)

    def record(self, pending: Pending) -> None:
        self._write(pending)

    @contextmanager
    def writer(self) -> Iterator[None]:
        with open(self.folder / "writer.lock", "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)  # the kernel lets go if the holder dies
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def get(self, pending_id: str) -> Pending | None:
        return self._read(self._path(pending_id))

    def waiting(self, limit: int = GROUP_CAP) -> list[Pending]:
        return [p for p in self._all() if p.state == PENDING][:limit]

    def mark(self, pending: Pending, state: str, *, error: str = "") -> None:
        current = self.get(pending.id) or pending
        self._write(replace(current, state=state, error=error))

    def attempt(self, pendings: Sequence[Pending]) -> None:
        for pending in pendings:
            current = self.get(pending.id) or pending
            self._write(replace(current, attempts=current.attempts + 1))

    def loaded_spans(self, upload_id: str) -> list[DateSpan]:
        found = (p for p in self._all() if p.upload_id == upload_id and p.state in (PENDING, APPLIED))
        return [p.span for p in found if p.span is not None]

    def prune(self, *, older_than: float) -> int:
        gone = [p for p in self._all() if p.state != PENDING and p.created < older_than]
        for pending in gone:
            self._path(pending.id).unlink(missing_ok=True)
        return len(gone)
