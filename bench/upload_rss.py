"""How much the web process grows while a big file is uploaded (issue 3: < 100 MB for 500 MB).

Starts the real app's web process (runserver, or gunicorn with --server gunicorn) on a
temporary DATA_DIR, generates a CSV file of --mb megabytes, POSTs it to /api/uploads/
(multipart, streamed from disk in 1 MiB chunks: the client holds no more than that either)
with a manager's API token, after a 1 MB warm-up upload, and samples the server's resident memory (VmRSS of the server
process and its children) every 20 ms. Prints one JSON line; exits 1 if the growth is over
--max-growth-mb or the upload was not accepted.

    .venv/bin/python bench/upload_rss.py              # 500 MB through runserver
    .venv/bin/python bench/upload_rss.py --server gunicorn --mb 200
"""

import argparse
import hashlib
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[1]
CHUNK = 1024 * 1024


def rss_kb(pid: int) -> int:
    """Resident memory of a process and its children, in KiB (Linux /proc)."""
    total = 0
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except FileNotFoundError:
            pass
    return total


def make_csv(path: Path, size: int) -> str:
    """A sales CSV of about `size` bytes; its SHA-256."""
    digest = hashlib.sha256()
    header = b"InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
    row = b"536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,12/1/2010 8:26,2.55,17850,United Kingdom\n"
    block = row * (CHUNK // len(row))
    with path.open("wb") as fh:
        fh.write(header)
        digest.update(header)
        written = len(header)
        while written < size:
            part = block[: size - written]
            fh.write(part)
            digest.update(part)
            written += len(part)
    return digest.hexdigest()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def manage(env: dict, *args: str) -> str:
    done = subprocess.run([sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{done.stderr}")
    return done.stdout


def post_streamed(port: int, token: str, path: Path, shop: str) -> tuple[int, dict]:
    boundary = uuid.uuid4().hex
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="shop"\r\n\r\n{shop}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{path.name}"\r\n'
        "Content-Type: text/csv\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()

    def body():
        yield head
        with path.open("rb") as fh:
            while chunk := fh.read(CHUNK):
                yield chunk
        yield tail

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    conn.request(
        "POST",
        "/api/uploads/",
        body=body(),
        headers={
            "Authorization": f"Token {token}",
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "Content-Length": str(len(head) + path.stat().st_size + len(tail)),
        },
    )
    response = conn.getresponse()
    return response.status, json.loads(response.read() or b"{}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=int, default=500, help="File size in MB (10^6 bytes).")
    parser.add_argument("--server", choices=["runserver", "gunicorn"], default="runserver")
    parser.add_argument("--max-growth-mb", type=float, default=100)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-upload-") as tmp:
        data_dir = Path(tmp) / "data"
        env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "GCS_BUCKET"}}
        env.update(DATA_DIR=str(data_dir), DJANGO_DEBUG="1", PYTHONUNBUFFERED="1", LOG_LEVEL="WARNING")
        manage(env, "migrate", "--noinput")
        manage(env, "seed_demo")
        token = manage(env, "api_token", "mgr_uk_lon").strip()
        sample = Path(tmp) / "big_sales.csv"
        sha256 = make_csv(sample, args.mb * 10**6)

        port = free_port()
        if args.server == "gunicorn":
            command = [sys.executable, "-m", "gunicorn", "-b", f"127.0.0.1:{port}", "-w", "1", "--timeout", "600"]
            command.append("salesapp.wsgi")
        else:
            command = [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"]
        server = subprocess.Popen(command, cwd=BASE_DIR, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(200):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    time.sleep(0.1)
            # A small upload first: the first one imports what enqueueing needs (Celery, the
            # ETL modules: ~50 MB once per process). The baseline is the warm process.
            cold = rss_kb(server.pid)
            warm_up = Path(tmp) / "warm_up.csv"
            make_csv(warm_up, CHUNK)
            post_streamed(port, token, warm_up, "UK-LON")
            baseline = rss_kb(server.pid)
            peak = [baseline]
            stop = threading.Event()

            def sample_rss() -> None:
                while not stop.is_set():
                    peak[0] = max(peak[0], rss_kb(server.pid))
                    time.sleep(0.02)

            sampler = threading.Thread(target=sample_rss, daemon=True)
            sampler.start()
            started = time.perf_counter()
            status, body = post_streamed(port, token, sample, "UK-LON")
            seconds = time.perf_counter() - started
            stop.set()
            sampler.join()
        finally:
            server.terminate()
            server.wait(timeout=20)

    growth_mb = (peak[0] - baseline) / 1024
    result = {
        "server": args.server,
        "file_mb": args.mb,
        "status": status,
        "upload_status": body.get("status"),
        "sha256_matches": body.get("sha256") == sha256,
        "seconds": round(seconds, 2),
        "mb_per_s": round(args.mb / seconds, 1),
        "rss_cold_mb": round(cold / 1024, 1),
        "rss_baseline_mb": round(baseline / 1024, 1),
        "rss_peak_mb": round(peak[0] / 1024, 1),
        "rss_growth_mb": round(growth_mb, 1),
        "limit_mb": args.max_growth_mb,
    }
    print(json.dumps(result))
    return 0 if status == 201 and result["sha256_matches"] and growth_mb < args.max_growth_mb else 1


if __name__ == "__main__":
    sys.exit(main())
