"""The harness the scenarios run on: Celery stacks on a clean database, warm-up, CPU
meters, emitter processes, collecting receipts, the baseline loop, paced and closed
loops. Commit time of an event = its Event row's `created_at`; receipt = the receiver's
clock (time.time(), same machine); a delivery is matched by `webhook-id` and the path of
its endpoint."""

import contextlib
import subprocess
import threading
import time
from pathlib import Path

from bench import data
from bench.meters import CpuMeter
from bench.results import Options, Receipts, Sizes
from bench.stack import (
    BENCH_DATABASE,
    PYTHON,
    ROOT,
    CeleryStack,
    ReceiverProcess,
    log,
    parse_json_line,
)

EMITTER_THREADS = 4  # per emitter process
EMITTER_LEAD = 3.0  # seconds for the emitter processes to start before their common start time


class Harness:
    def __init__(self, *, options: Options, receiver: ReceiverProcess, env: dict, redis_url: str, tmp: Path):
        self.options = options
        self.sizes = Sizes.for_run(options.quick)
        self.receiver = receiver
        self.env = env
        self.redis_url = redis_url
        self.tmp = tmp
        self.baseline: dict[str, float] = {}
        self.latency_p99: float | None = None
        self.current: CeleryStack | None = None
        self.profile_report = ""

    # --- Plumbing ---------------------------------------------------------------------

    @contextlib.contextmanager
    def stack(
        self,
        tag: str,
        env: dict | None = None,
        *,
        warm_up: bool = True,
        procfile: bool = False,
        web: bool = False,
        workers: int | None = None,
    ):
        """Clean database and Redis, fresh Celery processes (stopped on the way out,
        whatever happens), warmed up with a few deliveries so every thread has its
        database and HTTP connections, then a clean receiver. `procfile`: the worker
        (and with `web`, gunicorn) as the Procfile starts them (bench/procfile.py)."""
        data.reset_state(self.redis_url)
        self.receiver.hold([])
        self.receiver.reset()
        workers = workers or self.options.workers
        if procfile:
            from bench.procfile import ProcfileStack

            stack = ProcfileStack(
                workers=workers,
                env={**self.env, **(env or {})},
                overrides=self.options.overrides,
                tmp=self.tmp,
                tag=tag,
                web=web,
            )
        else:
            stack = CeleryStack(
                workers=workers,
                pool=self.options.pool,
                concurrency=self.options.concurrency,
                env={**self.env, **(env or {})},
                tmp=self.tmp,
                tag=tag,
            )
        self.current = stack
        try:
            what = f"{workers} worker(s){' (Procfile)' if procfile else ''}, beat{' and web' if web else ''}"
            log(f"{tag}: starting {what}")
            stack.start()
            if warm_up:
                self.warm_up(tag)
            yield stack
        finally:
            self.current = None
            log(f"{tag}: stopping the Celery processes")
            stack.stop()
            self.receiver.hold([])

    def warm_up(self, tag: str) -> None:
        paths = [f"/{tag}/warmup/0", f"/{tag}/warmup/1"]
        endpoints = data.endpoints_create(self.receiver.base, paths)
        events = max(20, self.options.workers * self.options.concurrency)
        since = time.time()
        data.emit_burst(events, threads=4, deadline=60)
        receipts = self.collect(data.event_commit_times(since), paths, deadline=60, label=f"{tag} warm-up")
        if receipts.received < receipts.expected:
            raise RuntimeError(f"warm-up: {receipts.received}/{receipts.expected} received in 60 s")
        data.endpoints_disable(endpoints)
        self.receiver.reset()

    def meter(self, stack: CeleryStack | None = None) -> CpuMeter:
        import os

        groups = {
            "receiver": lambda: [self.receiver.pid],
            "bench": lambda: [os.getpid()],
            "db": lambda: data_backends(),
        }
        if stack is not None:
            groups["workers"] = stack.worker_pids
            groups["beat"] = stack.beat_pids
            if getattr(stack, "web", None) is not None:
                groups["web"] = stack.web_pids
        return CpuMeter(groups).start()

    def collect(self, commits: dict[str, float], paths: list[str], *, deadline: float, label: str) -> Receipts:
        """Wait (at most `deadline` seconds) until every event reached every path, then
        read the receiver's records."""
        receipts = Receipts(commits=commits, paths=list(paths))
        until = time.monotonic() + deadline
        next_progress = time.monotonic() + 5
        wanted = set(paths)
        while True:
            answered = self.receiver.count()["answered"]
            out_of_time = time.monotonic() > until
            if answered >= receipts.expected or out_of_time:
                receipts.first.clear()
                receipts.duplicates = receipts.held = 0
                for path, event_id, _delivery_id, received_at, held in self.receiver.records():
                    if held:
                        receipts.held += 1
                        continue
                    if path not in wanted or event_id not in commits:
                        continue
                    key = (event_id, path)
                    if key in receipts.first:
                        receipts.duplicates += 1
                        receipts.first[key] = min(receipts.first[key], received_at)
                    else:
                        receipts.first[key] = received_at
                if receipts.received >= receipts.expected or out_of_time:
                    if out_of_time and receipts.received < receipts.expected:
                        log(f"{label}: deadline ({deadline:.0f} s): {receipts.received:,}/{receipts.expected:,}")
                    return receipts
            if time.monotonic() >= next_progress:
                log(f"{label}: {answered:,}/{receipts.expected:,} received")
                next_progress += 5
            if self.current is not None:
                self.current.check_alive()
            time.sleep(0.1 if receipts.expected < 5000 else 0.25)

    def paced_note(self, emitted: dict) -> str:
        skipped = f"; {emitted['skipped']:,} not sent in time, skipped" if emitted["skipped"] else ""
        return (
            f"{emitted['events']:,} events at {emitted['rate']:,.0f}/s of the {self.options.rate}/s asked "
            f"(worst lag {emitted['max_lag']:.1f} s{skipped})"
        )

    def cpu_note(self, meter: CpuMeter) -> str:
        names = ("web", "workers", "db", "bench")
        parts = [f"{name} {meter.share(name):.0%}" for name in names if name in meter.used]
        rest = max(0.0, meter.machine_busy - sum(meter.share(name) for name in meter.used))
        parts.append(f"rest (Redis, kernel, other work) {rest:.0%}")
        return f"machine CPU busy {meter.machine_busy:.0%}: " + ", ".join(parts)

    def emit(
        self,
        mode: str,
        *,
        count: int = 0,
        rate: float = 0.0,
        seconds: float = 0.0,
        deadline: float = 300,
        events_per_incident: int = 1,
    ):
        """Events from `--emitters` processes (each `EMITTER_THREADS` threads) starting
        together; returns when they are all emitted, with `since` (the common start) for
        `data.event_commit_times`, and a CPU meter started at that start (the emitters'
        own CPU goes to its "bench" group once they finish). A burst creates `count`
        incidents, each taken through `events_per_incident` lifecycle events."""
        processes = self.options.emitters
        start_at = time.time() + EMITTER_LEAD
        common = [PYTHON, "-m", "bench.emitter", mode, "--threads", str(EMITTER_THREADS), "--start-at", f"{start_at}"]
        common += ["--deadline", str(deadline), "--events-per-incident", str(events_per_incident)]
        if mode == "burst":
            shares = [count // processes + (1 if n < count % processes else 0) for n in range(processes)]
            commands = [[*common, "--count", str(share)] for share in shares if share]
        else:
            commands = [
                [*common, "--rate", str(rate / processes), "--duration", str(seconds), "--offset", str(n / rate)]
                for n in range(processes)
            ]
        meter: list[CpuMeter] = []

        def start_meter() -> None:
            time.sleep(max(0.0, start_at - time.time()))
            meter.append(self.meter(self.current))

        starter = threading.Thread(target=start_meter, daemon=True)
        starter.start()
        results = self.run_json(commands, env=self.env, timeout=deadline + EMITTER_LEAD + 60)
        starter.join()
        errors = [error for result in results for error in result["errors"]]
        if errors:
            raise RuntimeError(f"emitter: {errors[0]}")
        events = sum(result["events"] for result in results)
        elapsed = max(r["end"] for r in results) - start_at
        return {
            "since": start_at,
            "events": events,
            "seconds": elapsed,
            "rate": events / elapsed if elapsed > 0 else 0.0,
            "max_lag": max(result["max_lag"] for result in results),
            "timed_out": any(result["timed_out"] for result in results),
            "skipped": sum(result["skipped"] for result in results),
            "cpu": sum(result["cpu"] for result in results),
            "meter": meter[0],
        }

    @staticmethod
    def stop_meter(emitted: dict) -> CpuMeter:
        meter = emitted["meter"]
        meter.stop()
        meter.add("bench", emitted["cpu"])
        return meter

    def run_json(self, commands: list[list[str]], *, env: dict | None = None, timeout: float) -> list[dict]:
        """Run the commands at once (own sessions: Ctrl-C reaches only the bench, which
        kills them by pid), each printing one JSON line; every one stopped on the way out."""
        running = [
            subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, start_new_session=True)
            for command in commands
        ]
        results = []
        until = time.monotonic() + timeout
        try:
            for process in running:
                out, _ = process.communicate(timeout=max(1.0, until - time.monotonic()))
                if process.returncode:
                    raise RuntimeError(f"{' '.join(commands[0][1:4])} exited with {process.returncode}")
                results.append(parse_json_line(out))
        finally:
            for process in running:
                if process.poll() is None:
                    process.kill()
                    process.wait()
        return results

    def run_baseline(
        self, mode: str, *, paths: int, prefix: str, count: int = 0, rate: float = 0, seconds=0, processes=0
    ) -> dict:
        """The same signed POSTs from plain `requests.Session` threads: one process per
        worker process (or `processes`), each with the engine's thread count."""
        processes = processes or self.options.workers
        threads = self.options.baseline_threads or self.options.concurrency
        command = [
            PYTHON, "-m", "bench.baseline", mode, "--base", self.receiver.base,
            "--threads", str(threads), "--paths", str(paths), "--path-prefix", prefix,
        ]  # fmt: skip
        # Together, once every process has warmed up (a process starts in about a second).
        command += ["--start-at", f"{time.time() + 2.0 + processes}"]
        if mode == "burst":
            shares = [count // processes + (1 if n < count % processes else 0) for n in range(processes)]
            commands = [[*command, "--count", str(share)] for share in shares]
        else:
            commands = [
                [*command, "--rate", str(rate / processes), "--duration", str(seconds)] for _ in range(processes)
            ]
        results = self.run_json(commands, timeout=180)
        start, end = min(r["start"] for r in results), max(r["end"] for r in results)
        return {
            "count": sum(r["count"] for r in results),
            "errors": sum(r["errors"] for r in results),
            "seconds": end - start,
            "latencies": [x / 1000 for r in results for x in r["latencies_ms"]],
        }

    # --- 1. Baseline ------------------------------------------------------------------

    def paced_run(self, tag: str, paths: list[str], hold: list[str] | None = None) -> tuple[Receipts, dict, CpuMeter]:
        """`--rate` events/s (200) for the scenario's duration, to every path."""
        seconds = self.sizes.latency_seconds
        data.endpoints_create(self.receiver.base, paths)
        if hold:
            self.receiver.hold(hold)
        log(f"{tag}: {self.options.rate} events/s for {seconds:g} s")
        emitted = self.emit("paced", rate=self.options.rate, seconds=seconds, deadline=seconds + 30)
        commits = data.event_commit_times(emitted["since"])
        healthy = [p for p in paths if not any(p.startswith(h) for h in hold or [])]
        receipts = self.collect(commits, healthy, deadline=self.sizes.drain_seconds, label=tag)
        meter = self.stop_meter(emitted)
        return receipts, emitted, meter

    def closed_loop(self, *, events: int, fanout: int, deadline: float, label: str, window: int = 2000, on_poll=None):
        """Emit `events` events while keeping at most `window` deliveries not yet received;
        returns how many were received by the end (or the deadline)."""
        base = self.receiver.count()["answered"]
        state = {"answered": 0, "emitted": 0, "stop": False}
        lock = threading.Lock()
        until = time.monotonic() + deadline

        def poll() -> None:
            next_progress = time.monotonic() + 5
            while not state["stop"]:
                state["answered"] = self.receiver.count()["answered"] - base
                if on_poll:
                    on_poll()
                if time.monotonic() >= next_progress:
                    log(f"{label}: {state['answered']:,}/{events * fanout:,} received")
                    next_progress += 5
                time.sleep(0.2)

        def emit() -> None:
            while time.monotonic() < until:
                with lock:
                    if state["emitted"] >= events:
                        return
                    if state["emitted"] * fanout - state["answered"] > window:
                        wait = True
                    else:
                        state["emitted"] += 1
                        wait = False
                if wait:
                    time.sleep(0.02)
                else:
                    data.emit_one()

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        try:
            data.run_threads(emit, 4, deadline + 30, label)
            while state["answered"] < events * fanout and time.monotonic() < until:
                if self.current is not None:
                    self.current.check_alive()
                time.sleep(0.2)
        finally:
            state["stop"] = True
            poller.join(timeout=5)
        return self.receiver.count()["answered"] - base


def data_backends() -> list[int]:
    from bench.meters import database_backends

    return database_backends(BENCH_DATABASE)


def sample_payload() -> str:
    """A stored event body of the usual size, for pre-filled events."""
    import json

    return json.dumps(
        {
            "id": "evt_00000000000000000000000000",
            "event": "incident.triggered",
            "timestamp": "2026-01-01T00:00:00.000Z",
            "incident": {
                "id": "inc_00000000000000000000000000",
                "title": "bench incident 0000000",
                "summary": "",
                "status": "triggered",
                "severity": "high",
                "service": None,
                "assignee": None,
                "createdAt": "2026-01-01T00:00:00.000Z",
                "updatedAt": "2026-01-01T00:00:00.000Z",
                "acknowledgedAt": None,
                "resolvedAt": None,
                "escalationLevel": 0,
                "version": 1,
                "visibility": "public",
            },
        },
        separators=(",", ":"),
    )
