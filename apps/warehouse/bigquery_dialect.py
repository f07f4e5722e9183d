"""What differs between the portable query subset and GoogleSQL, and between BigQuery's
transient and permanent faults. Pure functions: no client, no settings."""

import datetime as dt
import decimal
import re
from collections.abc import Mapping
from typing import Any

import pyarrow as pa
from google.api_core import exceptions as gexc
from google.cloud import bigquery

# Single-quoted strings pass through untouched; "identifiers" become `identifiers`;
# $name parameters become @name.
_TOKEN = re.compile(r"""('(?:[^'\\]|\\.|'')*')|"((?:[^"]|"")*)"|\$([A-Za-z_][A-Za-z0-9_]*)""")

# Reasons BigQuery gives for faults that pass if the same request is sent again later
# (docs' error table: backendError is 500/503/504, "retry the request later"; rateLimitExceeded
# is a 403, jobRateLimitExceeded a 400: googleapis/java-bigquery#1498).
TRANSIENT_REASONS = {
    "rateLimitExceeded",
    "jobRateLimitExceeded",
    "backendError",
    "internalError",
    "jobBackendError",
    "jobInternalError",
}
# Messages of faults that pass though their reason (invalidQuery, resourcesExceeded) is
# otherwise permanent: two writers on one table (BigQuery aborts a transaction, or a DML
# statement's snapshot went stale), and the per-table DML queue being full ("Too many DML
# statements outstanding against table ..., limit is 20") or slow ("DML statement has been
# queued for too long", after 6 hours).
CONFLICT_MESSAGES = (
    "concurrent update",
    "could not serialize access",
    "too many dml statements outstanding",
    "queued for too long",
)
# quotaExceeded (403) is both: a limit on concurrency or rate passes ("Quota exceeded: Your
# user_method exceeded quota for concurrent api requests per user per method",
# googleapis/nodejs-bigquery#542); a daily or byte quota ("... for free query bytes scanned")
# does not, and fails the upload with its reason rather than retrying for hours.
PASSING_QUOTAS = ("concurrent", "rate limit", "per second", "per minute")


def to_googlesql(sql: str) -> str:
    """Translate quoting and parameters of the portable subset into GoogleSQL."""

    def swap(match: re.Match) -> str:
        literal, identifier, parameter = match.groups()
        if literal is not None:
            return literal
        if identifier is not None:
            if "`" in identifier:
                raise ValueError(f"Identifier with a backtick: {identifier!r}")
            return "`" + identifier.replace('""', '"') + "`"
        return "@" + parameter

    return _TOKEN.sub(swap, sql)


def _scalar_type(value: Any) -> str:
    # bool before int: True is an int too; datetime before date, for the same reason.
    if isinstance(value, bool):
        return "BOOL"
    if isinstance(value, int):
        return "INT64"
    if isinstance(value, float):
        return "FLOAT64"
    if isinstance(value, decimal.Decimal):
        return "NUMERIC"
    if isinstance(value, dt.datetime):
        return "TIMESTAMP" if value.tzinfo else "DATETIME"
    if isinstance(value, dt.date):
        return "DATE"
    if isinstance(value, bytes):
        return "BYTES"
    return "STRING"


def query_parameters(params: Mapping[str, Any]) -> list:
    """Bound parameters with the GoogleSQL type of each value (lists become arrays)."""
    bound = []
    for name, value in params.items():
        if isinstance(value, (list, tuple, set, frozenset)):
            items = sorted(value) if isinstance(value, (set, frozenset)) else list(value)
            kind = _scalar_type(items[0]) if items else "STRING"
            bound.append(bigquery.ArrayQueryParameter(name, kind, items))
        else:
            kind = "STRING" if value is None else _scalar_type(value)
            bound.append(bigquery.ScalarQueryParameter(name, kind, value))
    return bound


def column_type(arrow_type: pa.DataType) -> str:
    """The BigQuery type of a fact column, from its Arrow type."""
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return "STRING"
    if pa.types.is_integer(arrow_type):
        return "INT64"
    if pa.types.is_boolean(arrow_type):
        return "BOOL"
    if pa.types.is_date(arrow_type):
        return "DATE"
    if pa.types.is_timestamp(arrow_type):
        # A naive file time is kept as TIMESTAMP (read as UTC), as the fact table specifies.
        return "TIMESTAMP"
    if pa.types.is_decimal(arrow_type):
        return "NUMERIC"
    if pa.types.is_floating(arrow_type):
        return "FLOAT64"
    raise ValueError(f"No BigQuery type for {arrow_type}")


def schema_fields(schema: pa.Schema) -> list[bigquery.SchemaField]:
    return [bigquery.SchemaField(f.name, column_type(f.type), mode="NULLABLE") for f in schema]


def error_reason(exc: BaseException) -> str:
    """A one-line reason for an operator: BigQuery's message and its reason code."""
    if isinstance(exc, gexc.GoogleAPICallError):
        reasons = {e.get("reason") for e in (exc.errors or []) if isinstance(e, dict)} - {None}
        suffix = f" ({', '.join(sorted(reasons))})" if reasons else ""
        return f"{exc.message}{suffix}"
    return str(exc) or type(exc).__name__


def is_transient(exc: BaseException) -> bool:
    """True for faults worth retrying: 5xx, 429, rate limits, concurrent-update conflicts
    and dropped connections; and 412, a table changed by another writer between our read of
    it and our update (its etag): read again and retried, the update still applies. Everything
    else (bad schema, bad SQL, no permission) is not."""
    if isinstance(exc, (gexc.ServerError, gexc.TooManyRequests, gexc.PreconditionFailed)):
        return True
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return True
    try:
        import requests

        if isinstance(exc, (requests.ConnectionError, requests.Timeout)):
            return True
    except ImportError:  # pragma: no cover - requests comes with google-cloud-core
        pass
    if isinstance(exc, gexc.GoogleAPICallError):
        reasons = {e.get("reason") for e in (exc.errors or []) if isinstance(e, dict)}
        if reasons & TRANSIENT_REASONS:
            return True
        message = (exc.message or "").lower()
        if "quotaExceeded" in reasons and any(text in message for text in PASSING_QUOTAS):
            return True
        return any(text in message for text in CONFLICT_MESSAGES)
    return False
