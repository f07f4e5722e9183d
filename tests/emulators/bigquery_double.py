"""A BigQuery double: an HTTP proxy on 127.0.0.1 in front of local-bigquery that behaves as
the real service does where the emulator does not.

local-bigquery serialises writers with a lock, so a test against it never sees what
Google's servers do to concurrent writers. This proxy passes every request through, and on
the requests that create query jobs (jobs.insert, jobs.query) it does what BigQuery does:

(a) A multi-statement transaction that mutates a table while another transaction or
    mutating DML statement on that table runs is cancelled. Docs, "Multi-statement
    transactions", Transaction concurrency: "If a transaction mutates (update or deletes)
    rows in a table, then other transactions or DML statements that mutate rows in the same
    table cannot run concurrently. Conflicting transactions are cancelled. Conflicting DML
    statements that run outside of a transaction are queued to run later, subject to
    queuing limits." Payload as seen by users: HTTP 400, "Query error: Transaction is
    aborted due to concurrent update against table PROJECT:DATASET.TABLE. Transaction ID:
    ..." (estuary/connectors#111, dlt-hub/dlt#2892), reason invalidQuery, as for its
    sibling "Could not serialize access to table ... due to concurrent update"
    ({"code": 400, "errors": [{"domain": "global", "reason": "invalidQuery", ...}],
    "status": "INVALID_ARGUMENT"}: confluentinc/kafka-connect-bigquery#279).
(b) Mutating DML (UPDATE, DELETE, MERGE) is queued per table. Docs, "UPDATE, DELETE,
    MERGE DML concurrency": "BigQuery runs up to 2 of them concurrently, after which up to
    20 are queued as PENDING ... Additional statements past the maximum queue length for
    each table fail with the error message: Resources exceeded during query execution: Too
    many DML statements outstanding against table PROJECT_ID:TABLE, limit is 20." Payload:
    HTTP 400, reason resourcesExceeded (m-lab/etl-gardener#293: "Error 400: Resources
    exceeded during query execution: Too many DML statements outstanding against table
    mlab-sandbox:tmp_ndt.ndt5, limit is 20, resourcesExceeded"). A queued statement waits
    here; "DML statement has been queued for too long" (after 6 hours, same docs) can be
    injected (reason not documented: invalidQuery, the 400 of DML conflicts, is used).
(c) Faults injected at a rate, or the next N in order, on mutating requests (or every
    query job): rateLimitExceeded (HTTP 403, domain usageLimits: "Exceeded rate limits: too
    many table update operations for this table.", googleapis/python-bigquery-sqlalchemy#34),
    quotaExceeded (HTTP 403, usageLimits) that passes ("Quota exceeded: Your user_method
    exceeded quota for concurrent api requests per user per method", googleapis/nodejs-
    bigquery#542) and one that does not (dailyQuotaExceeded here: "Quota exceeded: Your
    project exceeded quota for free query bytes scanned", hugovk/pypi-tools#5),
    invalidQuery (a permanent fault), backendError (HTTP 503; docs' error table:
    backendError is 500, 503 or 504, "retry the request later").

Statements are counted (per kind: transaction, dml, insert, query; loads) so a load test
can report statements per upload; the most mutating statements seen running at once on a
table is kept too. Other processes steer it over HTTP: POST /_double/faults
{"rates": {...}, "next": [...], "scope": "dml"|"query"}, GET /_double/stats.
"""

import http.client
import json
import random
import re
import threading
import time
import uuid
from collections import Counter, defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

RUNNING_PER_TABLE = 2
PENDING_PER_TABLE = 20
_JOB_PATH = re.compile(r"^/bigquery/v2/projects/([^/]+)/(jobs|queries)$")
_TARGET = re.compile(r"\b(MERGE(?:\s+INTO)?|DELETE(?:\s+FROM)?|UPDATE|INSERT(?:\s+INTO)?)\s+`([^`]+)`", re.I)
_HOP = {"connection", "transfer-encoding", "content-length", "keep-alive"}


def error_payload(status: int, reason: str, message: str, domain: str = "global") -> dict:
    state = {400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED", 500: "INTERNAL", 503: "UNAVAILABLE"}[status]
    return {
        "error": {
            "code": status,
            "message": message,
            "errors": [{"message": message, "domain": domain, "reason": reason}],
            "status": state,
        }
    }


def _colon(table: str) -> str:
    """project.dataset.table as BigQuery's messages write it: project:dataset.table."""
    project, _, rest = table.partition(".")
    return f"{project}:{rest}"


FAULTS = {
    "rateLimitExceeded": lambda t: error_payload(
        403,
        "rateLimitExceeded",
        "Exceeded rate limits: too many table update operations for this table.",
        "usageLimits",
    ),
    "quotaExceeded": lambda t: error_payload(
        403,
        "quotaExceeded",
        "Quota exceeded: Your user_method exceeded quota for concurrent api requests per user per method. "
        "For more information, see https://cloud.google.com/bigquery/troubleshooting-errors",
        "usageLimits",
    ),
    "dailyQuotaExceeded": lambda t: error_payload(
        403,
        "quotaExceeded",
        "Quota exceeded: Your project exceeded quota for free query bytes scanned. "
        "For more information, see https://cloud.google.com/bigquery/troubleshooting-errors",
        "usageLimits",
    ),
    "backendError": lambda t: error_payload(
        503, "backendError", "Error encountered during execution. Retrying may solve the problem."
    ),
    "queuedTooLong": lambda t: error_payload(400, "invalidQuery", "DML statement has been queued for too long"),
    "invalidQuery": lambda t: error_payload(400, "invalidQuery", f"Syntax error: injected for {_colon(t)}"),
}


def _aborted(table: str) -> dict:
    message = (
        f"Query error: Transaction is aborted due to concurrent update against table {_colon(table)}. "
        f"Transaction ID: {uuid.uuid4()}"
    )
    return error_payload(400, "invalidQuery", message)


def _outstanding(table: str, limit: int = PENDING_PER_TABLE) -> dict:
    message = (
        "Resources exceeded during query execution: Too many DML statements outstanding against table "
        f"{_colon(table)}, limit is {limit}"
    )
    return error_payload(400, "resourcesExceeded", message)


FAULTS["aborted"] = lambda t: _aborted(t)
FAULTS["tooManyDml"] = lambda t: _outstanding(t)


def classify(query: str) -> tuple[str, str]:
    """(kind, target table) of a query job's text: transaction, dml, insert or query."""
    found = _TARGET.search(query)
    target = found.group(2) if found else ""
    if re.search(r"\bBEGIN\s+TRANSACTION\b", query, re.I) and target:
        return "transaction", target
    if found and not found.group(1).upper().startswith("INSERT"):
        return "dml", target
    return ("insert", target) if found else ("query", "")


class BigQueryDouble:
    def __init__(
        self,
        upstream: str,
        *,
        seed: int | None = None,
        running: int = RUNNING_PER_TABLE,
        pending: int = PENDING_PER_TABLE,
    ) -> None:
        self.upstream = urlsplit(upstream)
        self.running_limit, self.pending_limit = running, pending
        self.rates: dict[str, float] = {}
        self.next_faults: list[str] = []
        self.scope = "dml"  # which requests faults hit: mutating ones, or every query job
        self.stats: Counter = Counter()
        self.max_running: dict[str, int] = defaultdict(int)
        self._random = random.Random(seed)
        self._cond = threading.Condition()
        self._running: Counter = Counter()  # mutating DML running per table
        self._outstanding: Counter = Counter()  # running + queued DML per table
        self._transactions: Counter = Counter()
        self._server: ThreadingHTTPServer | None = None

    # -- control --------------------------------------------------------------------------
    def start(self) -> str:
        double = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                double.handle(self, "GET")

            def do_POST(self) -> None:
                double.handle(self, "POST")

            def do_PUT(self) -> None:
                double.handle(self, "PUT")

            def do_PATCH(self) -> None:
                double.handle(self, "PATCH")

            def do_DELETE(self) -> None:
                double.handle(self, "DELETE")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def inject(self, *, rates: dict[str, float] | None = None, next: list[str] | None = None, scope: str = "dml"):
        with self._cond:
            self.rates = dict(rates or {})
            self.next_faults = list(next or [])
            self.scope = scope

    def snapshot(self) -> dict:
        with self._cond:
            return {"stats": dict(self.stats), "max_running": dict(self.max_running)}

    # -- requests -------------------------------------------------------------------------
    def handle(self, req: BaseHTTPRequestHandler, method: str) -> None:
        body = req.rfile.read(int(req.headers.get("Content-Length") or 0))
        path = urlsplit(req.path).path
        if path == "/_double/stats":
            return self._reply(req, 200, self.snapshot())
        if path == "/_double/faults":
            self.inject(**json.loads(body or b"{}"))
            return self._reply(req, 200, {"ok": True})
        if method == "POST" and path.startswith("/upload/") and path.endswith("/jobs"):
            self._count("load")
        query = self._query_of(method, path, body)
        if query is None:
            return self._relay(req, method, body)
        kind, table = classify(query)
        self._count(kind, table)
        fault = self._fault(kind)
        if fault:
            self._count(f"fault:{fault}")
            return self._reply(req, *self._status(FAULTS[fault](table)))
        if kind == "transaction":
            return self._transaction(req, method, body, table)
        if kind == "dml":
            return self._dml(req, method, body, table)
        return self._relay(req, method, body, wait=False)

    def _query_of(self, method: str, path: str, body: bytes) -> str | None:
        if method != "POST" or not _JOB_PATH.match(path):
            return None
        try:
            data = json.loads(body)
        except ValueError:
            return None
        if path.endswith("/queries"):
            return data.get("query")
        return (data.get("configuration") or {}).get("query", {}).get("query")

    def _count(self, kind: str, table: str = "") -> None:
        with self._cond:
            self.stats[kind] += 1
            if table.endswith("orders-cleaned") and kind in ("transaction", "dml", "insert"):
                self.stats["fact_statements"] += 1

    def _fault(self, kind: str) -> str | None:
        if self.scope == "dml" and kind not in ("transaction", "dml"):
            return None
        with self._cond:
            if self.next_faults:
                return self.next_faults.pop(0)
            for reason, rate in self.rates.items():
                if self._random.random() < rate:
                    return reason
        return None

    def _transaction(self, req, method: str, body: bytes, table: str) -> None:
        with self._cond:
            if self._transactions[table] or self._running[table]:
                self.stats["aborted"] += 1
                conflict = True
            else:
                self._transactions[table] += 1
                conflict = False
        if conflict:
            return self._reply(req, *self._status(_aborted(table)))
        try:
            self._relay(req, method, body, wait=True)
        finally:
            with self._cond:
                self._transactions[table] -= 1
                self._cond.notify_all()

    def _dml(self, req, method: str, body: bytes, table: str) -> None:
        with self._cond:
            if self._outstanding[table] >= self.running_limit + self.pending_limit:
                self.stats["outstanding_rejected"] += 1
                rejected = True
            else:
                rejected = False
                self._outstanding[table] += 1
                # Queued (PENDING) until fewer than 2 run and no transaction mutates the table.
                while self._running[table] >= self.running_limit or self._transactions[table]:
                    self._cond.wait()
                self._running[table] += 1
                self.max_running[table] = max(self.max_running[table], self._running[table])
        if rejected:
            return self._reply(req, *self._status(_outstanding(table, self.pending_limit)))
        try:
            self._relay(req, method, body, wait=True)
        finally:
            with self._cond:
                self._running[table] -= 1
                self._outstanding[table] -= 1
                self._cond.notify_all()

    @staticmethod
    def _status(payload: dict) -> tuple[int, dict]:
        return payload["error"]["code"], payload

    # -- plumbing -------------------------------------------------------------------------
    def _send(self, method: str, path: str, body: bytes, headers: dict) -> tuple[int, list, bytes]:
        conn = http.client.HTTPConnection(self.upstream.hostname, self.upstream.port, timeout=600)
        try:
            conn.request(method, path, body=body or None, headers=headers)
            response = conn.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            conn.close()

    def _relay(self, req, method: str, body: bytes, *, wait: bool = False) -> None:
        headers = {k: v for k, v in req.headers.items() if k.lower() not in _HOP | {"host"}}
        status, response_headers, data = self._send(method, req.path, body, headers)
        if wait and status == 200:
            self._wait_done(json.loads(data), headers)  # the job holds its slot while it runs
        req.send_response(status)
        for key, value in response_headers:
            if key.lower() not in _HOP:
                req.send_header(key, value)
        req.send_header("Content-Length", str(len(data)))
        req.end_headers()
        req.wfile.write(data)

    def _wait_done(self, job: dict, headers: dict) -> None:
        ref = job.get("jobReference") or {}
        if not ref.get("jobId") or job.get("jobComplete") is True:
            return
        path = f"/bigquery/v2/projects/{ref['projectId']}/jobs/{ref['jobId']}"
        if ref.get("location"):
            path += f"?location={ref['location']}"
        for _ in range(6000):
            status, _, data = self._send("GET", path, b"", headers)
            if status != 200 or (json.loads(data).get("status") or {}).get("state") == "DONE":
                return
            time.sleep(0.02)

    def _reply(self, req, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        req.send_response(status)
        req.send_header("Content-Type", "application/json; charset=UTF-8")
        req.send_header("Content-Length", str(len(data)))
        req.end_headers()
        req.wfile.write(data)
