"""Real Celery processes for end-to-end and chaos tests: one beat (the dispatcher) and
any number of workers, against the test database and Redis, with delays shrunk
through settings. Workers can be killed with SIGKILL and started again. They trust the
test CA (WEBHOOK_CA_BUNDLE) and resolve the test host names, as the test process does."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.db import connection

from tests.support import tls

ROOT = Path(__file__).resolve().parents[2]

# Retries after 1, 2 and 3 s, a dispatcher every half second, short timeouts and
# leases: every path takes seconds, not minutes.
FAST_SETTINGS = {
    "WEBHOOK_RETRY_DELAYS": "1,2,3",
    "WEBHOOK_DISPATCH_INTERVAL": "0.5",
    "WEBHOOK_REDISPATCH_AFTER": "2",
    "WEBHOOK_CONNECT_TIMEOUT": "1",
    "WEBHOOK_READ_TIMEOUT": "1",
    "WEBHOOK_LEASE_SECONDS": "5",
}


def worker_database_url() -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class CeleryProcess:
    def __init__(self, role: str, name: str, tmp: Path):
        self.role, self.name, self.tmp = role, name, tmp
        self.log_path = tmp / f"{name}.log"
        self.process: subprocess.Popen | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    def command(self) -> list[str]:
        celery = [sys.executable, "-m", "celery", "-A", "opsknight"]
        if self.role == "beat":
            return [*celery, "beat", "--schedule", str(self.tmp / "beat-schedule"), "--loglevel", "INFO"]
        return [
            *celery, "worker", "--hostname", f"{self.name}@%h", "--pool", "threads", "--concurrency", "8",
            "--loglevel", "INFO", "--without-gossip", "--without-mingle", "--without-heartbeat",
        ]  # fmt: skip

    def start(self) -> None:
        env = {
            **os.environ,
            **FAST_SETTINGS,
            "DATABASE_URL": worker_database_url(),
            "REDIS_URL": settings.REDIS_URL,
            "DJANGO_SECRET_KEY": settings.SECRET_KEY,
            "WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",
            # Receivers' certificates come from the test CA. The workers, children of the
            # test process, also share its mount namespace, so the test host names
            # (tests/support/testhosts.py) resolve for them too.
            "WEBHOOK_CA_BUNDLE": tls.ca_bundle(),
            "PYTHONUNBUFFERED": "1",
        }
        self.log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        offset = self.log_path.stat().st_size
        self.process = subprocess.Popen(self.command(), cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        ready = b"ready." if self.role == "worker" else b"beat: Starting"
        deadline = time.monotonic() + 60
        while ready not in self.log_path.read_bytes()[offset:]:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not start:\n" + self.log_path.read_text()[-3000:])
            time.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL: no clean-up, no acknowledgements, whatever it was sending cut off."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        self.log.close()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if not self.log.closed:
            self.log.close()


class CeleryCluster:
    def __init__(self, tmp: Path, workers: int = 1):
        self.tmp = tmp
        self.beat = CeleryProcess("beat", "beat", tmp)
        self.workers = [CeleryProcess("worker", f"worker{n}", tmp) for n in range(workers)]

    def start(self) -> None:
        self.beat.start()
        for worker in self.workers:
            worker.start()

    def add_worker(self) -> CeleryProcess:
        worker = CeleryProcess("worker", f"worker{len(self.workers)}", self.tmp)
        worker.start()
        self.workers.append(worker)
        return worker

    def remove_worker(self, worker: CeleryProcess) -> None:
        worker.stop()
        self.workers.remove(worker)

    def stop(self) -> None:
        for process in [*self.workers, self.beat]:
            process.stop()

    def logs(self) -> str:
        return "\n".join(p.log_path.read_text(errors="replace") for p in [self.beat, *self.workers])
