"""What the benchmarks share: databases, servers in subprocesses, wrk, timing figures.

Load generator: wrk (Debian's package). It is maintained, written in C around an
event loop, so on this 2-core machine it leaves nearly all the CPU to the server
under test (a Python client would need a core of its own to keep 32 connections
busy), and its Lua hooks give every POST a unique idempotency key and count the
answers by status.
"""

import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
CACHE = BENCH / ".cache"
RESULTS = BENCH / "results"
VENV_BIN = Path(sys.executable).parent
ORIGIN = "https://bench.example.com"
# Limits no benchmark except the flood reaches.
NO_LIMITS = {"COPYDESK_RATELIMIT_REPORTS_PER_IP": "100000000 per minute",
             "COPYDESK_RATELIMIT_REPORTS_PER_SITE": "100000000 per minute",
             "COPYDESK_RATELIMIT_LOGIN": "100000 per minute"}


def env_int(name, default):
    return int(os.environ.get(name, default))


def backends():
    """Which databases to measure: BENCH_BACKENDS=sqlite,postgresql (default both)."""
    return [b.strip() for b in os.environ.get("BENCH_BACKENDS", "sqlite,postgresql").split(",") if b.strip()]


def pg_url(name):
    """URL of the benchmark's own PostgreSQL database ``copydesk_bench_<name>``."""
    server = os.environ.get("BENCH_POSTGRESQL_SERVER", "postgresql+psycopg://postgres@127.0.0.1:5432")
    return f"{server.rstrip('/')}/copydesk_bench_{name}"


def postgresql_database(name, fresh=True):
    """A PostgreSQL database for a benchmark (created if missing); its schema emptied if fresh."""
    url = pg_url(name)
    admin = sa.create_engine(url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        dbname = url.rsplit("/", 1)[1]
        if not conn.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": dbname}):
            conn.execute(sa.text(f'CREATE DATABASE "{dbname}"'))
    admin.dispose()
    if fresh:
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
        engine.dispose()
    return url


def cached_database(backend, sqlite_file, pg_name, ready):
    """A benchmark's seeded database, made once and reused: a SQLite file under bench/.cache,
    or PostgreSQL's ``copydesk_bench_<pg_name>``. Answers (url, True) when ``ready(url)``
    finds the seed there; else (url, False) with the database emptied, to seed."""
    if backend == "sqlite":
        CACHE.mkdir(exist_ok=True)
        path = CACHE / sqlite_file
        url = f"sqlite:///{path}"
        if ready(url):
            return url, True
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        return url, False
    url = postgresql_database(pg_name, fresh=False)
    if ready(url):
        return url, True
    return postgresql_database(pg_name, fresh=True), False


def each_backend(describe):
    """(backend, instance folder) for each database asked for (``backends``) and reachable,
    each announced with ``describe(backend)`` as its heading."""
    import tempfile
    with tempfile.TemporaryDirectory(prefix="copydesk-bench-") as tmp:
        for backend in backends():
            if backend == "postgresql" and not postgresql_available():
                print("postgresql: not reachable, skipped")
                continue
            heading(describe(backend))
            instance = Path(tmp) / backend
            instance.mkdir()
            yield backend, instance


def postgresql_available():
    try:
        engine = sa.create_engine(pg_url("x").rsplit("/", 1)[0] + "/postgres")
        with engine.connect():
            pass
        engine.dispose()
        return True
    except sa.exc.OperationalError:
        return False


def copydesk_env(database_url, instance, **extra):
    return {**os.environ, "COPYDESK_DATABASE_URL": database_url, "COPYDESK_SECRET_KEY": "bench-secret-7c41e9a2d05b8f36e1a4c7d92b5f0e83",
            "COPYDESK_INSTANCE_PATH": str(instance), **NO_LIMITS, **extra}


def copydesk(*args, env):
    subprocess.run([str(VENV_BIN / "copydesk"), *args], env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """A server in its own process group: ``copydesk serve`` or the bare baseline."""

    def __init__(self, command, env, log_dir, name):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        log_dir.mkdir(parents=True, exist_ok=True)
        self.stdout = open(log_dir / f"{name}.stdout", "wb")
        self.stderr = open(log_dir / f"{name}.stderr", "wb")
        self.process = subprocess.Popen([*command, "--bind", f"127.0.0.1:{self.port}"], env=env,
                                        stdout=self.stdout, stderr=self.stderr, start_new_session=True)
        self._wait()

    def _wait(self, path="/healthz", timeout=60):
        import urllib.error
        import urllib.request
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {Path(self.stderr.name).read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(self.url + path, timeout=2) as response:
                    if response.status == 200:
                        time.sleep(0.5)  # let every worker finish booting
                        return
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.2)
        raise RuntimeError("server not ready")

    def worker_pids(self):
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()
        return [int(pid) for pid in children]

    def cpu_seconds(self):
        """CPU time (user + system) used so far by the master and each worker: {pid: seconds}."""
        return process_cpu_seconds([self.process.pid, *self.worker_pids()])

    def peak_rss_mb(self):
        """Peak resident memory (VmHWM) of each worker process, in MB."""
        peaks = []
        for pid in self.worker_pids():
            status = Path(f"/proc/{pid}/status").read_text()
            peaks.append(int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024)
        return peaks

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        self.stdout.close()
        self.stderr.close()


def process_cpu_seconds(pids):
    """CPU time (user + system) of each of these processes, in seconds: {pid: seconds}."""
    seconds = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        seconds[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return seconds


def cpu_used(before, after):
    """CPU seconds used between two ``process_cpu_seconds`` readings; a process that
    started in between counts from zero."""
    return sum(value - before.get(pid, 0.0) for pid, value in after.items())


def postgresql_pids():
    """Every PostgreSQL server process on this machine (its backends do the database's
    share of the work of a request)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() in ("postgres", "postmaster"):
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def copydesk_server(database_url, instance, name, workers=None, **extra_env):
    command = [str(VENV_BIN / "copydesk"), "serve"]
    if workers:
        command += ["--workers", str(workers)]
    return Server(command, copydesk_env(database_url, instance, **extra_env), instance / "logs", name)


def bare_server(instance, workers=None):
    command = [sys.executable, str(BENCH / "bare_app.py")]
    if workers:
        command += ["--workers", str(workers)]
    return Server(command, copydesk_env("sqlite://", instance), instance / "logs", "bare")


def plain_server(database_url, instance, workers=None):
    """The plain Flask-SQLAlchemy commit-per-request peer (bench/plain_app.py)."""
    command = [sys.executable, str(BENCH / "plain_app.py")]
    if workers:
        command += ["--workers", str(workers)]
    return Server(command, copydesk_env(database_url, instance), instance / "logs", "plain")


def wrk_path():
    return shutil.which("wrk")


def run_wrk(url, script, duration, connections=32, threads=2, env=None):
    """Run wrk with a Lua script whose done() prints one JSON line; return that dict."""
    result = subprocess.run(
        ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{duration}s", "--latency",
         "-s", str(BENCH / script), url],
        env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=duration + 60)
    for line in result.stdout.splitlines():
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError(f"wrk printed no figures:\n{result.stdout}\n{result.stderr}")


def percentile(values, p):
    """The p-th percentile (nearest rank) of a list of numbers."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, round(p / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def timing_summary(samples_ms):
    return {"p50_ms": round(statistics.median(samples_ms), 2), "p95_ms": round(percentile(samples_ms, 95), 2),
            "max_ms": round(max(samples_ms), 2), "n": len(samples_ms)}


def save_result(name, data):
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(data, indent=2))


def heading(text):
    print(f"\n== {text}", flush=True)
