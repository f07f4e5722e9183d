"""How many exports one person may start: counted per user in the cache (Redis when
REDIS_URL is set, so shared by every web process; else per process).

An export of order lines costs what the lines cost, so it has a limit of its own
(REPORT_LINE_EXPORTS_PER_WINDOW); every export, lines or figures, counts towards
REPORT_EXPORTS_PER_WINDOW, which only a script would reach. Each window is
REPORT_EXPORT_WINDOW seconds, counted from a fixed start (the counts start again at the
next window). A limit of 0 switches that count off.
"""

import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache


@dataclass(frozen=True)
class ExportRefusal:
    message: str
    retry_after: int  # seconds


def _counted(kind: str, user_id: int, limit: int, window: int, now: float) -> int:
    """Count one more export of `kind`; seconds to wait if that is past the limit, else 0."""
    if limit <= 0:
        return 0
    key = f"report-exports:{kind}:{user_id}:{int(now // window)}"
    cache.add(key, 0, timeout=window + 60)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=window + 60)
        count = 1
    return 0 if count <= limit else window - int(now % window)


def export_refusal(*, user_id: int, dataset: str, now: float | None = None) -> ExportRefusal | None:
    """Count this export for the user; a refusal (and when to try again) past a limit."""
    now = time.time() if now is None else now
    window = max(settings.REPORT_EXPORT_WINDOW, 1)
    minutes = max(round(window / 60), 1)
    if dataset == "lines":
        limit = settings.REPORT_LINE_EXPORTS_PER_WINDOW
        wait = _counted("lines", user_id, limit, window, now)
        if wait:
            return ExportRefusal(
                f"You have started {limit} order-line exports, the most allowed in {minutes} minutes. "
                f"Try again in {_minutes(wait)}.",
                wait,
            )
    limit = settings.REPORT_EXPORTS_PER_WINDOW
    wait = _counted("all", user_id, limit, window, now)
    if wait:
        return ExportRefusal(
            f"You have started {limit} exports, the most allowed in {minutes} minutes. Try again in {_minutes(wait)}.",
            wait,
        )
    return None


def _minutes(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} seconds"
    return f"{round(seconds / 60)} minutes"
