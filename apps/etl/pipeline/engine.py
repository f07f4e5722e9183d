"""The DuckDB work connection the stages share, and the SQL quoting they use."""

import atexit
import logging
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

log = logging.getLogger(__name__)
# An in-memory DuckDB opened for this process's next run once a run is over (opening one
# takes 12 ms on the run's critical path otherwise): (memory limit, threads) -> (pid, connection).
_spares: dict[tuple[str, int], tuple[int, duckdb.DuckDBPyConnection]] = {}
_spares_lock = threading.Lock()


def work_connection(
    *, temp_dir: Path, memory_limit: str = "700MB", threads: int = 2, on_disk: bool = False
) -> duckdb.DuckDBPyConnection:
    """A DuckDB working in `temp_dir`, spilling intermediate results there past `memory_limit`.

    Insertion order is kept so that a file's rows are numbered in the order they appear.
    """
    # Tables of an in-memory database stay in memory whatever the limit (a 5M-row file
    # peaked at 4.5 GB); those of a database file leave it for disk, at some cost in speed.
    # So big files work on disk, and the rest in memory.
    con = None if on_disk else _take_spare(memory_limit, threads)
    if con is None:
        database = str(temp_dir / "work.duckdb") if on_disk else ":memory:"
        con = duckdb.connect(database, config={"threads": threads, "memory_limit": memory_limit})
    con.execute("SET temp_directory = $dir", {"dir": str(temp_dir)})
    con.execute("SET preserve_insertion_order = true")
    return con


def open_spare(*, memory_limit: str = "700MB", threads: int = 2) -> None:
    """Open the in-memory DuckDB the next `work_connection` of this process will take (run it
    in a thread once a run is over; an older spare is closed)."""
    con = duckdb.connect(":memory:", config={"threads": threads, "memory_limit": memory_limit})
    with _spares_lock:
        old = _spares.pop((memory_limit, threads), None)
        _spares[(memory_limit, threads)] = (os.getpid(), con)
    if old is not None:
        old[1].close()


@atexit.register
def _close_spares() -> None:
    """A spare is closed before the interpreter tears down (once the closing threads are done)."""
    with _spares_lock:
        spares = [con for pid, con in _spares.values() if pid == os.getpid()]
        _spares.clear()
    for con in spares:
        con.close()


def _take_spare(memory_limit: str, threads: int) -> duckdb.DuckDBPyConnection | None:
    with _spares_lock:
        spare = _spares.pop((memory_limit, threads), None)
    # One opened before a fork is not used (nor closed): its worker threads did not come along.
    return spare[1] if spare is not None and spare[0] == os.getpid() else None


def work_connection_close(con: duckdb.DuckDBPyConnection, *, wait: bool, memory_limit: str = "700MB") -> None:
    """Close a run's connection. DuckDB frees the run's tables as it closes (0.02-0.03 s per
    million rows, the GIL released): an in-memory database is closed in a thread of its own
    while the run finishes, and the next run's is opened there; one in a file (`wait`) is
    closed before its work folder is removed."""
    if wait:
        con.close()
        return

    def close() -> None:
        try:
            con.close()
            open_spare(memory_limit=memory_limit)  # for this process's next run
        except Exception:  # the run is over; a failed close only leaks its memory
            log.exception("the ETL's DuckDB connection did not close, or no spare could be opened")

    # Not a daemon: a process that ends right after a run (`ingest --inline`) waits for it; a
    # daemon thread killed inside DuckDB aborts the process ("terminate called ...").
    threading.Thread(target=close, name="etl-close").start()


@contextmanager
def progress_watch(
    con: duckdb.DuckDBPyConnection,
    report: Callable[[float], None],
    *,
    every: float = 0.5,
    finished: Callable[[], None] = lambda: None,
) -> Iterator[Callable[[float, float], None]]:
    """Call `report(fraction)` every `every` seconds with how far the statement `con` is
    running has got (DuckDB's own estimate, asked from another thread: the statement itself
    has no callback). `finished` runs in that thread when it stops (to close what it opened).

    A stage may run several statements, each estimated from 0. The caller may give each
    step its band of the stage with the function yielded (`band(0.3, 1.0)`: the statements
    from now on fill 30% to 100%); only a fraction above the last one reported is reported,
    so the bar never moves back.
    """
    con.execute("SET enable_progress_bar = true")
    con.execute("SET enable_progress_bar_print = false")
    con.execute("SET progress_bar_time = 0")
    stop = threading.Event()
    span = [0.0, 1.0]

    def band(start: float, end: float) -> None:
        span[:] = [start, end]

    def poll() -> None:
        last = -1.0
        try:
            while not stop.wait(every):
                percent = con.query_progress()
                if percent is None or not 0 <= percent <= 100:
                    continue
                start, end = span
                fraction = start + (end - start) * percent / 100
                if fraction > last:
                    last = fraction
                    report(fraction)
        finally:
            finished()

    watcher = threading.Thread(target=poll, name="etl-progress", daemon=True)
    watcher.start()
    try:
        yield band
    finally:
        stop.set()
        watcher.join()


def ident(name: str) -> str:
    """A quoted SQL identifier (file headers may hold any character)."""
    return '"' + name.replace('"', '""') + '"'


def literal(value: str) -> str:
    """A quoted SQL string literal, for values built into DDL from code or the schema."""
    return "'" + value.replace("'", "''") + "'"


def starts_with_space(v: str) -> str:
    """SQL: whether text `v` starts with a space. The same as starts_with(v, ' '), as two
    comparisons of the string's inlined prefix: a fifth of the function call's cost."""
    return f"({v} >= ' ' AND {v} < '!')"


def enum_type(values) -> str:
    """A DuckDB ENUM of `values` (sorted, each once): the same values give the same type,
    and a cast between equal ENUMs costs nothing."""
    return f"ENUM({', '.join(literal(v) for v in sorted(set(values)))})"


def sql_list(values: list[str]) -> str:
    return "[" + ", ".join(literal(v) for v in values) + "]"


def scalar(con: duckdb.DuckDBPyConnection, sql: str, params: dict | None = None):
    return con.execute(sql, params or {}).fetchall()[0][0]
