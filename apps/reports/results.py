"""Report results cached under the warehouse's version, and a page's reads run at once.

A result is cached (Django's cache: Redis in production, so every web process shares it)
under the warehouse it came from, the version of its contents (apps/warehouse/models.py,
changed after every load, delete and replace) and its SQL and parameters: a page viewed
again with no load in between costs no warehouse query, and a load makes every cached
result unreachable at once. Results bigger than REPORT_CACHE_MAX_BYTES are not cached (a
breakdown or a page of lines is a few kilobytes; an export is never cached).

The reads a page needs that miss the cache run concurrently, one thread each: the page
costs about as much as its slowest read. The threads touch only the warehouse; the version
(the caller's, apps/reports/query.py) is read before they start, and each closes any
database connection it opened.
"""

import hashlib
import io
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

import pyarrow as pa
from django.conf import settings
from django.core.cache import cache
from django.db import connections

from apps.warehouse.base import ResultPage

PREFIX = "reports:result"


def result_key(sql: str, params: dict[str, Any], *, version: str, kind: str = "table") -> str:
    """The cache key of a result: the warehouse and the version of its contents (`version`),
    SQL and parameters (hashed: the cache's keys are short), and what kind of result it is
    (a table, a page from a start)."""
    text = repr((version, sql, sorted(params.items()), kind))
    return f"{PREFIX}:{hashlib.sha256(text.encode()).hexdigest()}"


def table_dumps(table: pa.Table) -> bytes | None:
    """The table as Arrow IPC bytes, or None when it is too big to cache."""
    if table.nbytes > settings.REPORT_CACHE_MAX_BYTES:
        return None
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


def table_loads(data: bytes) -> pa.Table:
    return pa.ipc.open_stream(data).read_all()


def cached_tables(
    statements: Sequence[tuple[str, dict[str, Any]]], *, version: str, run: Callable[[str, dict], pa.Table]
) -> list[pa.Table]:
    """The result of each (sql, params): from the cache, else run (concurrently, when more
    than one misses) and cached when small enough."""
    keys = [result_key(sql, params, version=version) for sql, params in statements]
    found = cache.get_many(keys)
    missing = [i for i, key in enumerate(keys) if key not in found]
    results = dict(zip(missing, concurrently([partial(run, *statements[i]) for i in missing]), strict=True))
    stored = {}
    for i, table in results.items():
        data = table_dumps(table)
        if data is not None:
            stored[keys[i]] = data
    if stored:
        cache.set_many(stored, timeout=settings.REPORT_CACHE_SECONDS)
    return [results[i] if i in results else table_loads(found[key]) for i, key in enumerate(keys)]


def concurrently[T](calls: Sequence[Callable[[], T]]) -> list[T]:
    """Each call's result, in order; more than one call runs in threads at once."""
    if len(calls) <= 1:
        return [call() for call in calls]
    with ThreadPoolExecutor(max_workers=len(calls), thread_name_prefix="report-read") as pool:
        return list(pool.map(_in_thread, calls))


def _in_thread[T](call: Callable[[], T]) -> T:
    try:
        return call()
    finally:
        connections.close_all()  # this thread's own connections, if it opened any


def cached_page(
    sql: str, params: dict[str, Any], *, start: int, size: int, version: str, run: Callable[..., ResultPage]
) -> ResultPage:
    """A page of a listing: from the cache, else from the backend, which is handed the
    result it kept of the same listing before (BigQuery: the query's result table, read
    from `start` without running the query again), if any under this version."""
    page_key = result_key(sql, params, version=version, kind=f"page:{start}:{size}")
    listing_key = result_key(sql, params, version=version, kind="listing")
    found = cache.get(page_key)
    if found is not None:
        total, data = found
        return ResultPage(rows=table_loads(data), total=total)
    page = run(sql, params, start=start, size=size, result=cache.get(listing_key, ""))
    if page.result:
        cache.set(listing_key, page.result, timeout=settings.REPORT_CACHE_SECONDS)
    data = table_dumps(page.rows)
    if data is not None:
        cache.set(page_key, (page.total, data), timeout=settings.REPORT_CACHE_SECONDS)
    return page
