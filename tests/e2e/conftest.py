"""End-to-end fixtures: a real Celery worker process (with beat running the dispatcher)
against the test database and a real Redis, with delays shrunk through settings."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]

# The schedule the e2e suite runs with: retries after 1, 2 and 3 s, a dispatcher every
# half second, and short timeouts, so that every path takes seconds, not minutes.
E2E_SETTINGS = {
    "WEBHOOK_RETRY_DELAYS": "1,2,3",
    "WEBHOOK_DISPATCH_INTERVAL": "0.5",
    "WEBHOOK_REDISPATCH_AFTER": "2",
    "WEBHOOK_CONNECT_TIMEOUT": "1",
    "WEBHOOK_READ_TIMEOUT": "1",
    "WEBHOOK_LEASE_SECONDS": "5",
}


def _database_url() -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class Worker:
    def __init__(self, tmp: Path):
        self.log_path = tmp / "worker.log"
        self.process: subprocess.Popen | None = None
        self.tmp = tmp

    def start(self) -> None:
        env = {
            **os.environ,
            **E2E_SETTINGS,
            "DATABASE_URL": _database_url(),
            "REDIS_URL": settings.REDIS_URL,
            "DJANGO_SECRET_KEY": settings.SECRET_KEY,
            "WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",
            "PYTHONUNBUFFERED": "1",
        }
        command = [
            sys.executable, "-m", "celery", "-A", "opsknight", "worker", "--beat",
            "--schedule", str(self.tmp / "beat-schedule"), "--pool", "threads", "--concurrency", "8",
            "--loglevel", "INFO", "--without-gossip", "--without-mingle", "--without-heartbeat",
        ]  # fmt: skip
        self.log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while b"ready." not in self.log_path.read_bytes():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("Celery worker did not start:\n" + self.log_path.read_text()[-3000:])
            time.sleep(0.2)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


@pytest.fixture(scope="session")
def celery_worker(django_db_setup, django_db_blocker, tmp_path_factory):
    if connection.vendor != "postgresql":
        pytest.skip("end-to-end tests need PostgreSQL (a worker process cannot share an in-memory SQLite)")
    redis.Redis.from_url(settings.REDIS_URL).flushdb()
    worker = Worker(tmp_path_factory.mktemp("celery"))
    worker.start()
    yield worker
    worker.stop()


@pytest.fixture
def e2e(celery_worker, transactional_db):
    """Everything a test commits is visible to the running worker."""
    return celery_worker
