"""The stack as the Procfile starts it: its `web` (gunicorn) and `worker` lines run
through the shell with the bench's environment and the Procfile's own defaults, plus
only what the bench needs to find them: a free port for the web, a `--hostname` per
worker (to ping, pause and resume each one). Beat is the bench's (its schedule file in
the run's folder)."""

import os
import socket
import time
from pathlib import Path

import requests

from bench.meters import process_tree
from bench.stack import PYTHON, ROOT, CeleryProcess, CeleryStack

# Settings the bench sets for its own scenarios that the Procfile scenarios leave at the
# Procfile's defaults (unless given with --env): LOG_LEVEL (the Procfile's `info`).
BENCH_ONLY = ("LOG_LEVEL",)
# Each client thread has its own API key; the default limit (1,200/min a key) would
# answer 429 to a client doing more than 20 creates/s. Requests are still counted in
# Redis as in production, only never refused.
API_RATE_LIMIT = "100000/min"


def procfile_lines(path: Path = ROOT / "Procfile") -> dict[str, str]:
    """Process name → its command line, as honcho reads the Procfile."""
    lines = {}
    for line in path.read_text().splitlines():
        name, sep, command = line.partition(":")
        if sep and name.strip() and not name.lstrip().startswith("#"):
            lines[name.strip()] = command.strip()
    return lines


def shell(command: str) -> list[str]:
    """As honcho runs a Procfile line: through the shell (so `${PORT:-8000}` expands),
    `exec`ed so the pid the bench holds is the process itself."""
    return ["sh", "-c", f"exec {command}"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def procfile_environment(env: dict[str, str], overrides: dict[str, str]) -> dict[str, str]:
    """The bench's environment with the venv's scripts first on PATH (the Procfile says
    `gunicorn`, `celery`), minus what the bench sets only for its own scenarios."""
    env = {**env, "PATH": f"{Path(PYTHON).parent}{os.pathsep}{env.get('PATH', '')}"}
    for name in BENCH_ONLY:
        if name not in overrides:
            env.pop(name, None)
    if "API_RATE_LIMIT" not in overrides:
        env["API_RATE_LIMIT"] = API_RATE_LIMIT
    return env


class ProcfileStack(CeleryStack):
    """N workers from the Procfile's `worker` line, one beat, and (with `web`) the
    Procfile's `web` line on a free port of 127.0.0.1."""

    def __init__(self, *, workers: int, env: dict[str, str], overrides: dict[str, str], tmp: Path, tag: str, web: bool):
        env = procfile_environment(env, overrides)
        super().__init__(workers=workers, pool="threads", concurrency=16, env=env, tmp=tmp, tag=tag)
        lines = procfile_lines()
        self.workers = [
            CeleryProcess("worker", f"worker{n}", shell(f"{lines['worker']} --hostname {hostname}"), env, self.tmp)
            for n, hostname in enumerate(self.hostnames)
        ]
        self.web: CeleryProcess | None = None
        self.port = 0
        if web:
            self.port = free_port()
            self.web = CeleryProcess("web", "web", shell(lines["web"]), {**env, "PORT": str(self.port)}, self.tmp)

    @property
    def processes(self) -> list[CeleryProcess]:
        return [*self.workers, self.beat, *([self.web] if self.web else [])]

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def web_pids(self) -> list[int]:
        """The gunicorn master and its worker processes."""
        return process_tree(self.web.pid) if self.web is not None and self.web.alive() else []

    def start(self, deadline: float = 90.0) -> None:
        super().start(deadline)
        if self.web is not None:
            self.wait_for_web(deadline)

    def wait_for_web(self, deadline: float) -> None:
        session = requests.Session()
        session.trust_env = False
        until = time.monotonic() + deadline
        while True:
            if not self.web.alive():
                raise RuntimeError(f"web exited at start:\n{self.web.tail()}")
            try:
                if session.get(f"{self.base}/readyz", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            if time.monotonic() > until:
                raise RuntimeError(f"web not ready in {deadline:.0f} s:\n{self.web.tail()}")
            time.sleep(0.2)
