"""Real servers for the tests, started on 127.0.0.1 and a free port, stopped after.

- gcp-storage-emulator (Google Cloud Storage, in this venv), in memory;
- local-bigquery (BigQuery REST API on DuckDB) in its own Python 3.13 venv, built once
  by scripts/bigquery-emulator-venv.sh; it reads gs:// URIs from the GCS emulator;
- redis-server and PostgreSQL from Debian's packages (.ci/run installs them), PostgreSQL
  in a throw-away cluster owned by the `postgres` user when the tests run as root.

Each fixture is session-scoped and starts only when a test asks for it.
"""

import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DUCKDB_VERSION = "v1.5.5"
GCS_BUCKET = "sales-test"
# Loaded by the BigQuery emulator's Python: see its docstring.
SITE = Path(__file__).resolve().parent / "local_bigquery_site"
# Who is in which Google group, for the BigQuery emulator's row access policies (it names the
# caller from the e-mail in the bearer token; tests/warehouse/test_row_access.py queries as them).
EMULATOR_GROUPS = {
    "user:uk-viewer@example.com": ["group:uk-heads@example.com"],
    "user:us-viewer@example.com": ["group:us-heads@example.com"],
    "user:two-regions@example.com": ["group:uk-heads@example.com", "group:us-heads@example.com"],
    "user:nobody@example.com": [],
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port: int, proc: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port} after {timeout}s:\n{log.read_text()[-3000:]}")


def stop(proc: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def start(args: list[str], *, log: Path, env: dict | None = None, cwd: Path | None = None) -> subprocess.Popen:
    # A process group of its own, so stopping it stops whatever it started.
    return subprocess.Popen(
        args,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        start_new_session=True,
    )


@dataclass(frozen=True)
class Gcs:
    url: str
    bucket: str


@pytest.fixture(scope="session")
def gcs_emulator(tmp_path_factory) -> Iterator[Gcs]:
    port, work = free_port(), tmp_path_factory.mktemp("gcs")
    exe = Path(sys.executable).with_name("gcp-storage-emulator")
    log = work / "gcs.log"
    proc = start(
        [str(exe), "start", "--host", "127.0.0.1", "--port", str(port), "--in-memory", "--default-bucket", GCS_BUCKET],
        log=log,
    )
    try:
        wait_listening(port, proc, log)
        yield Gcs(url=f"http://127.0.0.1:{port}", bucket=GCS_BUCKET)
    finally:
        stop(proc)


@dataclass(frozen=True)
class BigQueryEmulator:
    endpoint: str
    project: str


def bigquery_emulator_venv() -> Path:
    out = subprocess.run(
        [str(ROOT / "scripts/bigquery-emulator-venv.sh")], check=True, capture_output=True, text=True, timeout=900
    )
    return Path(out.stdout.strip().splitlines()[-1])


def _emulator_home(venv: Path, home: Path) -> None:
    """DuckDB looks for extensions under $HOME and cannot download them here: copy the
    icu, ducklake, spatial and httpfs (for gs:// URIs) extensions from their PyPI packages into place."""
    arch = {"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64"}[platform.machine()]
    target = home / ".duckdb" / "extensions" / DUCKDB_VERSION / f"linux_{arch}"
    target.mkdir(parents=True, exist_ok=True)
    found = list(venv.glob(f"lib/python3.13/site-packages/duckdb_extension_*/extensions/{DUCKDB_VERSION}/*"))
    assert {p.name for p in found} >= {f"{n}.duckdb_extension" for n in ("icu", "ducklake", "spatial", "httpfs")}, found
    for ext in found:
        shutil.copy2(ext, target / ext.name)


def _probe(endpoint: str, project: str) -> bool:
    try:
        with urllib.request.urlopen(f"{endpoint}/bigquery/v2/projects/{project}/datasets", timeout=30) as r:
            return r.status == 200
    except OSError:
        return False


@contextmanager
def bigquery_emulator_serving(root: Path, *, gcs_url: str = "") -> Iterator[BigQueryEmulator]:
    """local-bigquery on 127.0.0.1 and a free port, with its data under `root`, stopped after
    (the fixture below; bench/bigquery_load_test.py starts one too)."""
    venv = bigquery_emulator_venv()
    project = "local"
    for _attempt in range(3):
        work = Path(tempfile.mkdtemp(dir=root))
        _emulator_home(venv, work / "home")
        port, grpc_port, log = free_port(), free_port(), work / "bigquery.log"
        args = [str(venv / "bin/local-bigquery"), "serve", "--host", "127.0.0.1", "--port", str(port)]
        args += ["--grpc-port", str(grpc_port), "--project", project, "--data-dir", str(work / "data")]
        # gs:// URIs in load jobs are read from the GCS emulator. GROUPS: the Google groups of
        # the principals tests query as (row access policies); PYTHONPATH: local_bigquery_site.
        env = {
            "HOME": str(work / "home"),
            "STORAGE_EMULATOR_HOST": gcs_url or "http://127.0.0.1:9",
            "GROUPS": json.dumps(EMULATOR_GROUPS),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(SITE), os.environ.get("PYTHONPATH", "")])),
        }
        proc = start(args, log=log, env=env)
        endpoint = f"http://127.0.0.1:{port}"
        try:
            wait_listening(port, proc, log)
            # Its first request initialises DuckDB; if that one fails it stays broken,
            # so probe once it listens and start afresh if the probe fails.
            if _probe(endpoint, project):
                break
        except RuntimeError:
            pass
        stop(proc)
    else:
        raise RuntimeError(f"the BigQuery emulator did not answer:\n{log.read_text()[-3000:]}")
    try:
        yield BigQueryEmulator(endpoint=endpoint, project=project)
    finally:
        stop(proc)


@pytest.fixture(scope="session")
def bigquery_emulator(tmp_path_factory, gcs_emulator) -> Iterator[BigQueryEmulator]:
    with bigquery_emulator_serving(tmp_path_factory.mktemp("bigquery"), gcs_url=gcs_emulator.url) as emulator:
        yield emulator


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory) -> Iterator[str]:
    exe = shutil.which("redis-server")
    if exe is None:
        pytest.fail("redis-server is not installed (apt-get install redis-server; .ci/run does it)")
    port, work = free_port(), tmp_path_factory.mktemp("redis")
    log = work / "redis.log"
    args = [exe, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no", "--dir", str(work)]
    proc = start(args, log=log)
    try:
        wait_listening(port, proc, log)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        stop(proc)


def _postgres_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    return found[-1].parent if found else None


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    bindir = _postgres_bin()
    if bindir is None:
        pytest.fail("PostgreSQL is not installed (apt-get install postgresql; .ci/run does it)")
    # PostgreSQL refuses to run as root: as root, the cluster belongs to `postgres`, in a
    # folder that user can reach (pytest's own temp folders are private to root).
    work = Path(tempfile.mkdtemp(prefix="salesapp-pg-"))
    as_owner: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(work, "postgres", "postgres")
        as_owner = ["runuser", "-u", "postgres", "--"]
    port, log = free_port(), work / "postgres.log"
    subprocess.run(
        [*as_owner, str(bindir / "initdb"), "-D", str(work / "data"), "-U", "sales", "--auth=trust", "--no-sync"],
        check=True,
        capture_output=True,
    )
    args = [str(bindir / "postgres"), "-D", str(work / "data"), "-h", "127.0.0.1", "-p", str(port)]
    args += ["-k", str(work), "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
    proc = start([*as_owner, *args], log=log)
    try:
        wait_listening(port, proc, log)
        url = f"postgres://sales@127.0.0.1:{port}/sales"
        for _ in range(50):  # listening is not yet accepting connections
            done = subprocess.run(
                [str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "sales", "sales"],
                capture_output=True,
            )
            if done.returncode == 0:
                break
            time.sleep(0.2)
        yield url
    finally:
        stop(proc, signal.SIGINT)  # SIGINT is PostgreSQL's fast shutdown; SIGTERM waits for clients
        shutil.rmtree(work, ignore_errors=True)
