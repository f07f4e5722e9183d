"""Load: N concurrent uploaders and M report readers against the real app on 127.0.0.1.

Starts `manage.py serve` (the web server and a Celery worker with beat, the `make run`
setup) on a free port over a fresh temporary DATA_DIR with the demo data, then for a
bounded time
  * each uploader POSTs /api/uploads/ with an API token (`manage.py api_token`), a file of
    its own each time (tests/data/bernasiakk_usa.csv, rows shuffled and order numbers suffixed, so none
    is a duplicate nor holds lines loaded before);
  * each reader, logged in as the admin, GETs the report pages and their JSON/CSV exports;
then waits until every upload has finished and checks that none was lost: each ended
loaded, and the warehouse holds exactly the sum of their rows_loaded. Prints p50/p95/max
latency per endpoint; exits 1 on any error or lost upload.

    .venv/bin/python bench/load_test.py [--uploaders 4] [--readers 4] [--seconds 30] [--json]
"""

import argparse
import contextlib
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "tests" / "data" / "bernasiakk_usa.csv"
PASSWORD = "load-test-pass-1"
READ_URLS = [
    "/reports/",
    "/reports/US/",
    "/reports/lines/",
    "/reports/coverage/",
    "/reports/export/kpis.json",
    "/reports/export/by_shop.json",
    "/reports/export/over_time.csv",
    "/uploads/",
]
FINISHED = {"loaded", "loaded_with_errors", "rejected", "failed", "cancelled", "overlap"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """`manage.py serve` on a temporary DATA_DIR, with the demo data and an API token."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        drop = {"DATABASE_URL", "REDIS_URL", "GCS_BUCKET", "WAREHOUSE", "ETL_TEST_PAUSE_AT"}
        self.env = {k: v for k, v in os.environ.items() if k not in drop}
        self.env |= {"DATA_DIR": str(data_dir), "DEMO_PASSWORD": PASSWORD, "LOG_LEVEL": "WARNING"}
        self.proc: subprocess.Popen | None = None

    def manage(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, check=True, capture_output=True, text=True
        )
        return done.stdout.strip()

    def start(self) -> None:
        self.manage("migrate", "-v0")
        self.manage("seed_demo")
        log = (self.data_dir / "serve.log").open("wb")
        command = [sys.executable, "manage.py", "serve", "--port", str(self.port)]
        self.proc = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=log, stderr=log, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"serve exited:\n{self.log()}")
            try:
                if requests.get(f"{self.base}/healthz", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"the web server did not answer within 60 s:\n{self.log()}")

    def log(self) -> str:
        return (self.data_dir / "serve.log").read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # serve stops the web server and the worker
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=20)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)


class Recorder:
    """Latencies and errors per endpoint, from many threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.errors: list[str] = []

    def timed(self, name: str, call, ok=(200,)) -> requests.Response | None:
        started = time.perf_counter()
        try:
            response = call()
        except requests.RequestException as exc:
            with self.lock:
                self.errors.append(f"{name}: {exc}")
            return None
        elapsed = time.perf_counter() - started
        with self.lock:
            self.latencies[name].append(elapsed)
            if response.status_code not in ok:
                self.errors.append(f"{name}: HTTP {response.status_code} {response.text[:200]}")
        return response

    def summary(self) -> dict[str, dict]:
        def pct(values: list[float], p: float) -> float:
            return statistics.quantiles(values, n=100, method="inclusive")[p - 1] if len(values) > 1 else values[0]

        return {
            name: {
                "requests": len(v),
                "p50_ms": round(pct(v, 50) * 1000),
                "p95_ms": round(pct(v, 95) * 1000),
                "max_ms": round(max(v) * 1000),
            }
            for name, v in sorted(self.latencies.items())
        }


def uploader(
    server: Server, token: str, number: int, deadline: float, rec: Recorder, ids: list[str], most: int
) -> None:
    header, *rows = SAMPLE.read_text().splitlines(keepends=True)
    session = requests.Session()
    session.headers["Authorization"] = f"Token {token}"
    sent = 0
    while time.monotonic() < deadline and sent < most:
        random.Random(f"{number}-{sent}").shuffle(rows)  # new bytes each time: never a duplicate
        # Other sales each time (the order numbers suffixed): the same lines again would be
        # held as lines loaded before (status overlap).
        body = (header + "".join(r.replace(",", f"-{number}-{sent},", 1) for r in rows)).encode()
        files = {"file": (f"load-{number}-{sent}.csv", body, "text/csv")}

        def post(files=files) -> requests.Response:
            return session.post(f"{server.base}/api/uploads/", data={"shop": "US-NYC"}, files=files, timeout=60)

        response = rec.timed("POST /api/uploads/", post, ok=(201,))
        if response is not None and response.status_code == 201:
            with rec.lock:
                ids.append(response.json()["id"])
        sent += 1


def reader(server: Server, number: int, deadline: float, rec: Recorder) -> None:
    session = requests.Session()
    login = f"{server.base}/accounts/login/"
    session.get(login, timeout=30)
    form = {"username": "admin", "password": PASSWORD, "csrfmiddlewaretoken": session.cookies["csrftoken"]}
    rec.timed(
        "POST /accounts/login/", lambda: session.post(login, data=form, timeout=30, allow_redirects=False), (302,)
    )
    i = number
    while time.monotonic() < deadline:
        url = READ_URLS[i % len(READ_URLS)]
        rec.timed(f"GET {url}", lambda url=url: session.get(f"{server.base}{url}", timeout=60))
        i += 1


def wait_all_finished(server: Server, token: str, ids: list[str], timeout: float) -> dict[str, dict]:
    """Each upload's final status body, polling the API until all have finished."""
    session = requests.Session()
    session.headers["Authorization"] = f"Token {token}"
    ended: dict[str, dict] = {}
    deadline = time.monotonic() + timeout
    while len(ended) < len(ids) and time.monotonic() < deadline:
        for upload_id in ids:
            if upload_id not in ended:
                body = session.get(f"{server.base}/api/uploads/{upload_id}/", timeout=30).json()
                if body["status"] in FINISHED:
                    ended[upload_id] = body
        time.sleep(0.5)
    return ended


def run(uploaders: int, readers: int, seconds: float, drain_seconds: float = 600, uploads_each: int = 0) -> dict:
    """The whole run; `uploads_each` caps each uploader's uploads (0: as many as it can)."""
    data_dir = Path(tempfile.mkdtemp(prefix="load-test-"))
    server = Server(data_dir)
    try:
        server.start()
        token = server.manage("api_token", "mgr_us_nyc")
        rec, ids = Recorder(), []
        deadline, most = time.monotonic() + seconds, uploads_each or sys.maxsize
        up = (server, token)
        threads = [threading.Thread(target=uploader, args=(*up, i, deadline, rec, ids, most)) for i in range(uploaders)]
        threads += [threading.Thread(target=reader, args=(server, n, deadline, rec)) for n in range(readers)]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        ended = wait_all_finished(server, token, ids, drain_seconds)
        drained = time.monotonic() - started
        rows_loaded = sum(body["rows_loaded"] or 0 for body in ended.values())
        counted = json.loads(server.manage("warehouse_sql", 'SELECT count(*) AS n FROM "orders-cleaned"', "--json"))
        statuses: dict[str, int] = defaultdict(int)
        for body in ended.values():
            statuses[body["status"]] += 1
        result = {
            "uploaders": uploaders,
            "readers": readers,
            "seconds": seconds,
            "uploads": len(ids),
            "finished": len(ended),
            "statuses": dict(statuses),
            "rows_loaded_sum": rows_loaded,
            "warehouse_rows": counted[0]["n"],
            "all_done_after_s": round(drained, 1),
            "errors": rec.errors,
            "endpoints": rec.summary(),
        }
        result["lost"] = (len(ended) != len(ids)) or statuses.keys() - {"loaded"} != set()
        result["lost"] = result["lost"] or result["warehouse_rows"] != rows_loaded
        return result
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


def report(result: dict) -> str:
    lines = [
        f"{result['uploaders']} uploaders x {result['readers']} readers for {result['seconds']:g} s",
        f"uploads: {result['uploads']} sent, {result['finished']} finished {result['statuses']}, "
        f"all done after {result['all_done_after_s']} s",
        f"rows: sum of rows_loaded {result['rows_loaded_sum']}, warehouse {result['warehouse_rows']}",
        f"errors: {len(result['errors'])}; lost: {result['lost']}",
        f"{'endpoint':<34} {'n':>5} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7}",
    ]
    for name, s in result["endpoints"].items():
        lines.append(f"{name:<34} {s['requests']:>5} {s['p50_ms']:>7} {s['p95_ms']:>7} {s['max_ms']:>7}")
    lines += [f"  ! {e}" for e in result["errors"][:20]]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--uploaders", type=int, default=4)
    parser.add_argument("--readers", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--uploads-each", type=int, default=0, help="cap per uploader (default: none)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args()
    result = run(args.uploaders, args.readers, args.seconds, uploads_each=args.uploads_each)
    print(json.dumps(result, indent=2) if args.json else report(result))
    return 1 if result["errors"] or result["lost"] else 0


if __name__ == "__main__":
    sys.exit(main())
