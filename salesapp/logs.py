"""Log records that carry the upload they are about, and an optional JSON format.

`LOG_FORMAT=json` writes one JSON object per line (for Cloud Logging, Loki and the like);
every line logged while an upload's ETL runs carries its `upload_id`, in either format.
"""

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

current_upload_id: ContextVar[str | None] = ContextVar("current_upload_id", default=None)


@contextmanager
def upload_log_context(upload_id) -> Iterator[None]:
    """Tag every log line inside the block with this upload's id."""
    token = current_upload_id.set(str(upload_id))
    try:
        yield
    finally:
        current_upload_id.reset(token)


class UploadIdFilter(logging.Filter):
    """Adds `upload_id` (or "-") to every record a handler writes."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "upload_id"):
            record.upload_id = current_upload_id.get() or "-"
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        upload_id = getattr(record, "upload_id", None) or current_upload_id.get()
        if upload_id and upload_id != "-":
            entry["upload_id"] = upload_id
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)
