"""What an order-line export costs the web process (issue 17, point 2).

Loads N generated fact rows (default 2,000,000: bench/reports_bench.py's generator, 8 shops
over two years) into a fresh embedded warehouse, starts the real web process (runserver,
DEBUG off, as `make run` serves) on that DATA_DIR, signs in as the admin and, sampling the
server's resident memory (VmRSS, every 20 ms):

  * streams the CSV export of every line (`/reports/export/lines.csv`, the two years) and
    counts its rows: time, peak and retained RSS growth over the warm process;
  * asks for the same as XLSX, past Excel's 1,048,576-row limit: the time to the answer;
  * starts the CSV export again, reads 1 MB and hangs up: how soon the server's CPU stops;
  * the baseline, in the same run: DuckDB's own `COPY (...) TO 'lines.csv'` of the same rows
    in the same order, in a process of its own (time and peak RSS).

    .venv/bin/python bench/exports_bench.py [--rows 2000000] [--tree /work/main]

`--tree` serves another checkout of the app (e.g. the code before a change) on the same data.
Prints a table and one JSON line; exits 1 if the CSV export's peak growth is --max-growth-mb
or more.
"""

import argparse
import importlib
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import fastexcel
import requests

BASE_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("LOG_LEVEL", "WARNING")
# First: it sets DATA_DIR to a temporary folder and sets Django up.
reports_bench = importlib.import_module("bench.reports_bench")

from django.conf import settings  # noqa: E402

from apps.reports.lines import LINE_COLUMNS  # noqa: E402
from apps.warehouse.services import warehouse  # noqa: E402

PASSWORD = "bench-pass-1"  # reports_bench.load seeds the demo users with it
PERIOD = "preset=custom&start=2010-01-01&end=2011-12-31"
ORDER = "order_date DESC NULLS LAST, store_id NULLS LAST, order_id NULLS LAST, upload_id NULLS LAST, source_row"


def rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except FileNotFoundError:
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Sampler:
    """The peak VmRSS of a process while a block runs."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self._stop = pid, rss_kb(pid), threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_kb(self.pid))
            time.sleep(0.02)

    def __enter__(self) -> "Sampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_start(tree: Path, port: int) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "GCS_BUCKET", "WAREHOUSE"}}
    env.update(
        DATA_DIR=str(settings.DATA_DIR),
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY="exports-bench-only",
        DJANGO_SSL_REDIRECT="0",
        DJANGO_SECURE_COOKIES="0",
        PYTHONUNBUFFERED="1",
        LOG_LEVEL="WARNING",
        REPORT_EXPORTS_PER_WINDOW="1000",
    )
    command = [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"]
    server = subprocess.Popen(command, cwd=tree, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return server
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit("the web server did not start")


def sign_in(base: str) -> requests.Session:
    session = requests.Session()
    page = session.get(f"{base}/accounts/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    form = {"username": "admin", "password": PASSWORD, "csrfmiddlewaretoken": token}
    done = session.post(f"{base}/accounts/login/", data=form, headers={"Referer": f"{base}/accounts/login/"})
    assert "/accounts/login/" not in done.url, "could not sign in"
    return session


def export_csv(session: requests.Session, url: str) -> tuple[int, int, int]:
    """Status, bytes and lines of a streamed download (read in 1 MiB pieces)."""
    size = lines = 0
    with session.get(url, stream=True, timeout=3600) as response:
        for chunk in response.iter_content(1024 * 1024):
            size += len(chunk)
            lines += chunk.count(b"\n")
        return response.status_code, size, lines


def hang_up_after(session: requests.Session, port: int, path: str, nbytes: int) -> None:
    """GET `path` on a socket of our own, read `nbytes` and close it: the client is gone."""
    cookies = "; ".join(f"{k}={v}" for k, v in session.cookies.items())
    with socket.create_connection(("127.0.0.1", port), timeout=600) as sock:
        sock.sendall(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {cookies}\r\nConnection: close\r\n\r\n".encode()
        )
        read = 0
        while read < nbytes and (chunk := sock.recv(64 * 1024)):
            read += len(chunk)


def cpu_stops_after(pid: int, *, quiet: float = 0.05, limit: float = 300) -> float:
    """Seconds until the server uses less than `quiet` s of CPU in a 0.5 s window."""
    started = time.perf_counter()
    last = cpu_seconds(pid)
    while time.perf_counter() - started < limit:
        time.sleep(0.5)
        now = cpu_seconds(pid)
        if now - last < quiet:
            return time.perf_counter() - started - 0.5
        last = now
    return limit


COPY_SCRIPT = """
import sys, time, duckdb, resource
files, out = sys.argv[1].split("\\x1f"), sys.argv[2]
listed = ", ".join("'" + f + "'" for f in files)
con = duckdb.connect()
con.execute("SET enable_progress_bar = false")
started = time.perf_counter()
con.execute(f"COPY (SELECT {sys.argv[3]} FROM read_parquet([{listed}]) "
            f"WHERE order_date BETWEEN DATE '2010-01-01' AND DATE '2011-12-31' ORDER BY {sys.argv[4]}) "
            f"TO '{out}' (HEADER)")
print(time.perf_counter() - started, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def duckdb_copy(out: Path) -> tuple[float, float]:
    """DuckDB's own COPY of the same lines, in the same order, to CSV: seconds, peak RSS MB."""
    files = "\x1f".join(warehouse()._latest_table().file_uris())
    done = subprocess.run(
        [sys.executable, "-c", COPY_SCRIPT, files, str(out), ", ".join(LINE_COLUMNS), ORDER],
        capture_output=True,
        text=True,
        check=True,
    )
    seconds, peak_kb = done.stdout.split()[-2:]
    return float(seconds), int(peak_kb) / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--tree", type=Path, default=BASE_DIR, help="the checkout whose web process is measured")
    parser.add_argument("--max-growth-mb", type=float, default=300)
    parser.add_argument("--busy-limit", type=float, default=120, help="seconds to watch a server still busy")
    parser.add_argument(
        "--xlsx-year", action=argparse.BooleanOptionalAction, default=True,
        help="also download the XLSX of 2011 alone (about half the lines: under a sheet's limit up to 2M)",
    )  # fmt: skip
    args = parser.parse_args()

    loaded = reports_bench.load(args.rows)
    rows = warehouse().query('SELECT count(*) FROM "orders-cleaned"').column(0)[0].as_py()
    print(f"loaded {rows:,} fact rows in {loaded:.1f} s; serving {args.tree}")
    copy_seconds, copy_peak = duckdb_copy(Path(settings.DATA_DIR) / "copy.csv")

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = server_start(args.tree, port)
    try:
        session = sign_in(base)
        session.get(f"{base}/reports/?{PERIOD}")  # warm: the warehouse reader, the templates
        session.get(f"{base}/reports/export/kpis.csv?{PERIOD}")
        warm = rss_kb(server.pid)
        with Sampler(server.pid) as sampler:
            started = time.perf_counter()
            status, size, lines = export_csv(session, f"{base}/reports/export/lines.csv?{PERIOD}")
            csv_seconds = time.perf_counter() - started
        time.sleep(1)
        after = rss_kb(server.pid)

        hang_up_after(session, port, f"/reports/export/lines.csv?{PERIOD}", 1024 * 1024)
        hang_up_cpu = cpu_stops_after(server.pid, limit=args.busy_limit)

        started = time.perf_counter()
        try:  # a client that waits a minute at most for the first byte, then gives up
            with session.get(f"{base}/reports/export/lines.xlsx?{PERIOD}", stream=True, timeout=60) as xlsx:
                xlsx_status = xlsx.status_code
        except requests.exceptions.ReadTimeout:
            xlsx_status = "none in 60 s"
        xlsx_seconds = time.perf_counter() - started
        xlsx_cpu = cpu_stops_after(server.pid, limit=args.busy_limit)

        year = {"status": "not run", "lines": 0, "mb": 0, "seconds": 0, "growth_mb": 0, "hang_up_busy_seconds": 0}
        if args.xlsx_year:
            before = rss_kb(server.pid)
            with Sampler(server.pid) as year_sampler:
                started = time.perf_counter()
                url = f"{base}/reports/export/lines.xlsx?preset=custom&start=2011-01-01&end=2011-12-31"
                with session.get(url, stream=True, timeout=600) as response:
                    body = b"".join(response.iter_content(1024 * 1024))
                    year["status"] = response.status_code
                year["seconds"] = round(time.perf_counter() - started, 1)
            year["mb"] = round(len(body) / 1e6, 1)
            year["growth_mb"] = round((year_sampler.peak - before) / 1024, 1)
            if year["status"] == 200:
                year["lines"] = fastexcel.read_excel(body).load_sheet(0, n_rows=None).height
                hang_up_after(session, port, url.removeprefix(base), 1024 * 1024)
                year["hang_up_busy_seconds"] = round(cpu_stops_after(server.pid, limit=args.busy_limit), 1)
    finally:
        server.terminate()
        server.wait(timeout=30)

    result = {
        "rows": rows,
        "tree": str(args.tree),
        "csv_status": status,
        "csv_lines": lines - 1,
        "csv_mb": round(size / 1e6, 1),
        "csv_seconds": round(csv_seconds, 1),
        "rss_warm_mb": round(warm / 1024, 1),
        "rss_peak_growth_mb": round((sampler.peak - warm) / 1024, 1),
        "rss_retained_growth_mb": round((after - warm) / 1024, 1),
        "xlsx_status": xlsx_status,
        "xlsx_answer_seconds": round(xlsx_seconds, 2),
        "xlsx_server_busy_after_seconds": round(xlsx_cpu, 1),
        "hang_up_server_busy_after_seconds": round(hang_up_cpu, 1),
        "xlsx_2011": year,
        "duckdb_copy_seconds": round(copy_seconds, 1),
        "duckdb_copy_peak_rss_mb": round(copy_peak, 1),
        "load_average": round(os.getloadavg()[0], 1),
    }
    print(
        f"\n| | time | memory |\n|---|---:|---:|\n"
        f"| CSV export, {lines - 1:,} lines, {size / 1e6:.0f} MB (HTTP {status}) | {csv_seconds:.1f} s "
        f"| +{result['rss_peak_growth_mb']} MB peak, +{result['rss_retained_growth_mb']} MB after |\n"
        f"| DuckDB COPY of the same lines to CSV (own process) | {copy_seconds:.1f} s | {copy_peak:.0f} MB peak |\n"
        f"| CSV export, client hangs up after 1 MB | server busy {hang_up_cpu:.1f} s after | |\n"
        f"| XLSX of the same lines: answer (HTTP {xlsx_status}) | {xlsx_seconds:.2f} s | "
        f"server busy {xlsx_cpu:.1f} s after |\n"
        f"| XLSX of 2011, {year['lines']:,} lines, {year['mb']} MB (HTTP {year['status']}) | {year['seconds']} s "
        f"| +{year['growth_mb']} MB peak |\n"
        f"| the same XLSX, client hangs up after 1 MB | server busy {year['hang_up_busy_seconds']} s after | |"
    )
    print(json.dumps(result))
    return 0 if status == 200 and (sampler.peak - warm) / 1024 < args.max_growth_mb else 1


if __name__ == "__main__":
    sys.exit(main())
