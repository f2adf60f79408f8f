"""The real stack for the benchmark: a dedicated PostgreSQL database and Redis
database, the receiver process, and real Celery processes (N workers and one beat)
started as subprocesses with env settings, as in production (CPU and memory readers:
bench/meters.py)."""

import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import requests

from bench.meters import process_tree

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
# The bench truncates and flushes these: overridable so that two people on one machine
# (or a bench next to someone's test run) each have their own.
BENCH_DATABASE = os.environ.get("BENCH_DATABASE_NAME", "opsknight_bench")
BENCH_REDIS_DB = int(os.environ.get("BENCH_REDIS_DB", "13"))
BENCH_SECRET_KEY = "bench-only-secret-key-not-for-production"


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- Configuration -----------------------------------------------------------------


def bench_database_url(source: str | None) -> str:
    """The server of DATABASE_URL (default: local PostgreSQL), database opsknight_bench
    (or BENCH_DATABASE_NAME): the bench truncates its tables, so it never runs in the
    database it was given."""
    parts = urlsplit(source or "postgres://postgres@127.0.0.1:5432/postgres")
    if parts.scheme not in ("postgres", "postgresql", "pgsql"):
        raise SystemExit(f"The benchmark needs PostgreSQL; DATABASE_URL is {parts.scheme}://...")
    return urlunsplit((parts.scheme, parts.netloc, f"/{BENCH_DATABASE}", "", ""))


def bench_redis_url(source: str | None) -> str:
    parts = urlsplit(source or "redis://127.0.0.1:6379/0")
    return urlunsplit((parts.scheme, parts.netloc, f"/{BENCH_REDIS_DB}", "", ""))


def base_environment(database_url: str, redis_url: str) -> dict[str, str]:
    """What both the bench process and the Celery processes run with."""
    return {
        "DJANGO_SETTINGS_MODULE": "opsknight.settings",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "CACHE_URL": redis_url,
        "DJANGO_SECRET_KEY": BENCH_SECRET_KEY,
        "DEBUG": "false",  # DEBUG keeps every query in memory: it would skew time and RSS
        "WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",
        # The fan-out scenarios create more endpoints than the default bound allows.
        "WEBHOOK_MAX_ENDPOINTS": "100000",
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }


def ensure_database(database_url: str) -> None:
    import psycopg

    parts = urlsplit(database_url)
    admin_url = urlunsplit((parts.scheme, parts.netloc, "/postgres", "", ""))
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=10) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [BENCH_DATABASE]).fetchone()
        if not exists:
            log(f"creating database {BENCH_DATABASE}")
            conn.execute(f'CREATE DATABASE "{BENCH_DATABASE}"')


def check_loopback(url: str) -> None:
    host = urlsplit(url).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit(f"The benchmark only talks to services on 127.0.0.1, not {host}")


# --- /proc ---------------------------------------------------------------------------


class ReceiverProcess:
    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.process: subprocess.Popen | None = None
        self.port = 0
        self.session = requests.Session()
        self.session.trust_env = False

    def start(self) -> None:
        self.stderr = open(self.tmp / "receiver.log", "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [PYTHON, "-m", "bench.receiver"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            start_new_session=True,  # Ctrl-C reaches the bench only; it stops us in order
        )
        selector = selectors.DefaultSelector()
        selector.register(self.process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout=20):
            raise RuntimeError("the receiver did not start within 20 s")
        line = self.process.stdout.readline().decode()
        if not line.startswith("PORT "):
            raise RuntimeError(f"the receiver said {line!r}")
        self.port = int(line.split()[1])

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _control(self, method: str, action: str, payload=None):
        response = self.session.request(method, f"{self.base}/__bench/{action}", json=payload, timeout=60)
        response.raise_for_status()
        return response.json()

    def reset(self) -> None:
        self._control("POST", "reset")

    def hold(self, prefixes: list[str]) -> None:
        self._control("POST", "hold", prefixes)

    def count(self) -> dict:
        return self._control("GET", "count")

    def records(self) -> list[list]:
        """[path, webhook_id, delivery_id, received_at, held] for every request."""
        return self._control("GET", "records")

    def stop(self) -> None:
        stop_process(self.process, "receiver")
        if hasattr(self, "stderr"):
            self.stderr.close()


def stop_process(process: subprocess.Popen | None, name: str, timeout: float = 15.0, *, signalled=False) -> None:
    """SIGTERM (unless already sent), then SIGKILL after `timeout`: only the process we
    started, by its pid."""
    if process is None or process.poll() is not None:
        return
    if not signalled:
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        log(f"{name} (pid {process.pid}) did not stop in {timeout:.0f} s: SIGKILL")
        process.kill()
        process.wait(timeout=10)


# --- Celery ----------------------------------------------------------------------------


class CeleryProcess:
    def __init__(self, role: str, name: str, command: list[str], env: dict[str, str], tmp: Path):
        self.role, self.name, self.command, self.env = role, name, command, env
        self.log_path = tmp / f"{name}.log"
        self.process: subprocess.Popen | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    def start(self) -> None:
        self.log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            self.command, cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def tail(self, size: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-size:]
        except OSError:
            return ""

    def terminate(self) -> None:
        if self.alive():
            self.process.send_signal(signal.SIGTERM)

    def stop(self, *, signalled: bool = False) -> None:
        stop_process(self.process, self.name, signalled=signalled)
        if hasattr(self, "log") and not self.log.closed:
            self.log.close()


class CeleryStack:
    """N workers (`--pool POOL --concurrency C`) and one beat, with env settings."""

    def __init__(self, *, workers: int, pool: str, concurrency: int, env: dict[str, str], tmp: Path, tag: str):
        self.tmp = tmp / tag
        self.tmp.mkdir(parents=True, exist_ok=True)
        celery = [PYTHON, "-m", "celery", "-A", "opsknight"]
        self.hostnames = [f"bench-{tag}-w{n}@{socket.gethostname()}" for n in range(workers)]
        self.workers = [
            CeleryProcess(
                "worker",
                f"worker{n}",
                [
                    *celery,
                    "worker",
                    "--hostname",
                    hostname,
                    "--pool",
                    pool,
                    "--concurrency",
                    str(concurrency),
                    "--loglevel",
                    "WARNING",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                ],  # fmt: skip
                env,
                self.tmp,
            )
            for n, hostname in enumerate(self.hostnames)
        ]
        self.beat = CeleryProcess(
            "beat",
            "beat",
            [*celery, "beat", "--schedule", str(self.tmp / "beat-schedule"), "--loglevel", "WARNING"],
            env,
            self.tmp,
        )

    @property
    def processes(self) -> list[CeleryProcess]:
        return [*self.workers, self.beat]

    def worker_pids(self) -> list[int]:
        return [pid for worker in self.workers if worker.alive() for pid in process_tree(worker.pid)]

    def beat_pids(self) -> list[int]:
        return [self.beat.pid] if self.beat.alive() else []

    def start(self, deadline: float = 90.0) -> None:
        from opsknight.celery import app

        for process in self.processes:
            process.start()
        waiting = set(self.hostnames)
        until = time.monotonic() + deadline
        while waiting:
            for process in self.processes:
                if not process.alive():
                    raise RuntimeError(f"{process.name} exited at start:\n{process.tail()}")
            if time.monotonic() > until:
                raise RuntimeError(f"workers not ready in {deadline:.0f} s: {sorted(waiting)}")
            for reply in app.control.ping(destination=sorted(waiting), timeout=1.0) or []:
                waiting -= set(reply)
        time.sleep(0.5)
        if not self.beat.alive():
            raise RuntimeError(f"beat exited at start:\n{self.beat.tail()}")

    def pause(self) -> None:
        """Workers stop taking messages (Celery's cancel_consumer on every queue they
        consume), so a backlog can pile up in Redis; `resume` lets them at it."""
        from opsknight.celery import app

        queues = app.control.inspect(destination=self.hostnames, timeout=3).active_queues() or {}
        if set(queues) != set(self.hostnames):
            raise RuntimeError(f"pause: no queue list from {sorted(set(self.hostnames) - set(queues))}")
        self.paused = {host: [queue["name"] for queue in listed] for host, listed in queues.items()}
        for host, names in self.paused.items():
            for name in names:
                app.control.cancel_consumer(name, destination=[host], reply=True, timeout=3)

    def resume(self) -> None:
        from opsknight.celery import app

        for host, names in getattr(self, "paused", {}).items():
            for name in names:
                app.control.add_consumer(name, destination=[host], reply=True, timeout=3)
        self.paused = {}

    def check_alive(self) -> None:
        for process in self.processes:
            if not process.alive():
                raise RuntimeError(f"{process.name} died (exit {process.process.returncode}):\n{process.tail()}")

    def stop(self) -> None:
        # All at once: each worker's warm shutdown (finishing its running tasks) overlaps.
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.stop(signalled=True)
            except Exception as error:  # noqa: BLE001 - stop the others all the same
                log(f"stopping {process.name}: {error}")


def parse_json_line(output: bytes) -> dict:
    for line in reversed(output.decode().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError(f"no JSON in {output[-500:]!r}")
