"""The webhook delivery benchmark: `python -m bench` (or `make bench`).

    python -m bench [--scenarios 1,2,...] [--quick] [--workers N] [--concurrency N]
                    [--pool threads] [--out FILE]

Runs against the real stack on this machine: PostgreSQL (database opsknight_bench on
the server of DATABASE_URL, or BENCH_DATABASE_NAME; created and migrated if missing),
Redis (database 13 of REDIS_URL's server, or BENCH_REDIS_DB), real Celery workers, beat
and (scenarios 8-12) gunicorn started as subprocesses, and a fast receiver process on
127.0.0.1. Prints one Markdown table on stdout (progress goes to
stderr); every figure also as a ratio to the baseline measured in the same run.
"""

import argparse
import hashlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.meters import cores
from bench.procfile import API_RATE_LIMIT, procfile_lines
from bench.stack import (
    ROOT,
    ReceiverProcess,
    base_environment,
    bench_database_url,
    bench_redis_url,
    check_loopback,
    ensure_database,
    log,
)

SCENARIO_COUNT = 13
ALL = ",".join(str(n) for n in range(1, SCENARIO_COUNT + 1))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenarios", default=ALL, help=f"comma-separated, of {ALL} (1 always runs)")
    parser.add_argument("--quick", action="store_true", help="smaller sizes, about 10 minutes")
    parser.add_argument("--workers", type=int, default=1, help="Celery worker processes (default 1)")
    parser.add_argument("--concurrency", type=int, default=16, help="threads per worker (default 16)")
    parser.add_argument("--pool", default="threads", help="Celery pool (default threads)")
    parser.add_argument(
        "--emitters", type=int, default=2, help="processes creating incidents, like a web tier (default 2)"
    )
    parser.add_argument("--baseline-threads", type=int, help="threads per baseline process (default: --concurrency)")
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a setting for every process of the stack, e.g. --env WEBHOOK_BATCH_SIZE=100 (repeatable)",
    )
    parser.add_argument("--rate", type=int, default=200, help="events/s in scenarios 3 and 5 (default 200)")
    parser.add_argument("--out", type=Path, help="also write the table to this file")
    parser.add_argument(
        "--profile", action="store_true", help="py-spy the workers during scenario 2 (needs py-spy installed)"
    )
    args = parser.parse_args(argv)
    try:
        chosen = sorted({int(part) for part in args.scenarios.split(",") if part.strip()})
    except ValueError:
        parser.error(f"--scenarios takes numbers of {ALL}, comma-separated")
    if not set(chosen) <= set(range(1, SCENARIO_COUNT + 1)):
        parser.error(f"--scenarios takes numbers of {ALL}")
    # Every figure is a ratio to the baseline of the same run; isolation is judged
    # against the latency scenario.
    chosen = sorted({1, *chosen, *([3] if 5 in chosen else [])})
    args.scenario_list = chosen
    overrides = {}
    for item in args.env:
        name, sep, value = item.partition("=")
        if not sep or not name:
            parser.error(f"--env takes NAME=VALUE, not {item!r}")
        overrides[name] = value
    args.overrides = overrides
    return args


def git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


def engine_fingerprint() -> str:
    """A hash of the engine's source (webhooks/, incidents/, opsknight/, tests left out),
    to tell whether it changed while the benchmark ran."""
    digest = hashlib.sha256()
    for folder in ("webhooks", "incidents", "opsknight"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if "tests" in path.relative_to(ROOT).parts:
                continue
            digest.update(str(path.relative_to(ROOT)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def code_version() -> str:
    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    changed = [line[3:] for line in git("status", "--porcelain", "--untracked-files=no").splitlines()]
    engine = [path for path in changed if path.split("/")[0] in ("webhooks", "incidents", "opsknight")]
    if engine:
        return f"{commit} + uncommitted changes in {', '.join(engine)}"
    return commit


def engine_settings(settings) -> str:
    """Every WEBHOOK_* number the engine reads (whatever it has today), and Celery's prefetch."""
    names = sorted(name for name in dir(settings) if name.startswith("WEBHOOK_"))
    shown = [
        f"{name}={getattr(settings, name):g}"
        for name in names
        if isinstance(getattr(settings, name), int | float) and not isinstance(getattr(settings, name), bool)
    ]
    lists = [
        f"{name}={','.join(f'{v:g}' for v in getattr(settings, name))}" for name in names if name.endswith("DELAYS")
    ]
    return ", ".join([*shown, *lists])


def database_pool(settings) -> str:
    options = settings.DATABASES["default"].get("OPTIONS", {}).get("pool")
    if not options:
        return "no database pool"
    return f"database pool {options['min_size']}-{options['max_size']} connections a process"


def render(rows, *, header: list[str]) -> str:
    lines = [*header, ""]
    lines.append("| # | Scenario | Figure | Target | Met | Ratio to baseline | Receiver CPU | Took | Notes |")
    lines.append("|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        cells = [
            str(row.number), row.name, row.figure, row.target, row.met, row.ratio, row.receiver_cpu,
            "″" if row.seconds is None else f"{row.seconds:.0f} s", row.notes,
        ]  # fmt: skip
        lines.append("| " + " | ".join(cell.replace("|", "/").replace("\n", " ") for cell in cells) + " |")
    return "\n".join(lines) + "\n"


RUN_LOCK_KEY = 0x0B3AC4  # pg advisory lock: "a bench run holds the bench database and its Redis db"


def hold_run_lock(database_url: str):
    """A session advisory lock on the bench database, held (by keeping this connection
    open) for the whole run; released by PostgreSQL if the bench dies."""
    import psycopg

    conn = psycopg.connect(database_url, autocommit=True, connect_timeout=10)
    if not conn.execute("SELECT pg_try_advisory_lock(%s)", [RUN_LOCK_KEY]).fetchone()[0]:
        conn.close()
        raise SystemExit("Another `python -m bench` is running against this database: wait for it to finish.")
    return conn


def services_identity(database_url: str, redis_url: str) -> tuple:
    """Changes when PostgreSQL or Redis restarts (other work on this machine may do that)."""
    import psycopg
    import redis

    with psycopg.connect(database_url, connect_timeout=5) as conn:
        started = conn.execute("SELECT pg_postmaster_start_time()").fetchone()[0]
    run_id = redis.Redis.from_url(redis_url, socket_timeout=5).info("server")["run_id"]
    return started, run_id


def services_up(database_url: str, redis_url: str, *, deadline: float) -> tuple:
    from django.db import connections

    until = time.monotonic() + deadline
    while True:
        try:
            identity = services_identity(database_url, redis_url)
            connections.close_all()  # a connection from before a restart is dead
            return identity
        except Exception as error:  # noqa: BLE001 - down for now: wait for it, up to the deadline
            if time.monotonic() > until:
                raise RuntimeError(f"PostgreSQL or Redis is down: {error!r}") from error
            time.sleep(1)


def run_scenario(number: int, bench, database_url: str, redis_url: str) -> list:
    """One scenario's row(s), once more if PostgreSQL or Redis restarted under it (the
    rows say so)."""
    from bench.results import Row
    from bench.scenarios import NAMES, SCENARIOS

    began = time.monotonic()
    code = (code_version(), engine_fingerprint())
    disturbed = ""
    for attempt in (1, 2):
        log(f"scenario {number}: {NAMES[number]}" + (" (again)" if attempt == 2 else ""))
        try:
            before = services_up(database_url, redis_url, deadline=120)
            rows = SCENARIOS[number](bench)
            failure = None
        except KeyboardInterrupt:
            raise
        except Exception as error:  # noqa: BLE001 - one broken scenario must not lose the others
            log(f"scenario {number} failed: {error!r}")
            rows = Row(number, NAMES[number], figure="**error**", met="**no**", notes=f"{error!r}"[:300])
            failure = error
        rows = rows if isinstance(rows, list) else [rows]
        try:
            restarted = services_up(database_url, redis_url, deadline=120) != before
        except RuntimeError as error:
            restarted, failure = True, failure or error
        if not restarted:
            break
        disturbed = "PostgreSQL or Redis restarted during a first try (other work on the machine); run again"
        log(f"scenario {number}: {disturbed}")
    else:
        disturbed = "**PostgreSQL or Redis restarted during both tries: figures disturbed**"
    for row in rows:
        if disturbed:
            row.notes = f"{row.notes}; {disturbed}" if row.notes else disturbed
        row.code = code
        row.seconds = None
    rows[0].seconds = time.monotonic() - began
    log(f"scenario {number} done in {rows[0].seconds:.0f} s: " + " | ".join(row.figure for row in rows))
    return rows


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    database_url = bench_database_url(os.environ.get("DATABASE_URL"))
    redis_url = bench_redis_url(os.environ.get("REDIS_URL"))
    for url in (database_url, redis_url):
        check_loopback(url)
    tmp = Path(tempfile.mkdtemp(prefix="opsknight-bench-"))
    # The processes' metric files: apart from a `make run` or a test run in the same tree.
    env = {
        **base_environment(database_url, redis_url),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp / "prometheus"),
        **args.overrides,
    }

    # SIGTERM behaves like Ctrl-C: unwind through every `finally`, stopping what we started.
    def interrupted(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)

    started = time.monotonic()
    version, fingerprint = code_version(), engine_fingerprint()
    log(f"code {version}; scenarios {args.scenario_list}; {'quick' if args.quick else 'full'} run")
    ensure_database(database_url)
    # One run at a time: a second one would truncate the first one's tables mid-scenario.
    run_lock = hold_run_lock(database_url)

    from bench import data

    data.setup_django(env)
    log("migrating the bench database")
    data.migrate()

    from django.conf import settings

    from bench.harness import EMITTER_THREADS
    from bench.results import Options, Row
    from bench.scenarios import Bench

    options = Options(
        workers=args.workers,
        pool=args.pool,
        concurrency=args.concurrency,
        quick=args.quick,
        emitters=args.emitters,
        baseline_threads=args.baseline_threads,
        profile=args.profile,
        rate=args.rate,
        overrides=args.overrides,
    )
    rows: list[Row] = []
    receiver = ReceiverProcess(tmp)
    worker_env = {**os.environ, **env}
    bench = None
    try:
        receiver.start()
        log(f"receiver on 127.0.0.1:{receiver.port} (pid {receiver.pid}); logs in {tmp}")
        bench = Bench(options=options, receiver=receiver, env=worker_env, redis_url=redis_url, tmp=tmp)
        for number in args.scenario_list:
            rows.extend(run_scenario(number, bench, database_url, redis_url))
    except KeyboardInterrupt:
        log("interrupted: stopping everything")
    finally:
        receiver.stop()
        try:
            services_up(database_url, redis_url, deadline=30)
            data.reset_state(redis_url)
        except Exception as error:  # noqa: BLE001 - best effort; the next run resets again
            log(f"could not clean the bench database: {error!r}")
        run_lock.close()

    after = engine_fingerprint()
    procfile = procfile_lines()
    # The engine may be changed while we run: say which code each scenario started with.
    for row in rows:
        if row.code and row.code[1] != fingerprint:
            row.notes += f"; **ran on {row.code[0]} (engine source {row.code[1]})**"
    header = [
        f"## Webhook delivery benchmark ({'quick' if args.quick else 'full'} run)",
        "",
        f"- Code: {version} (engine source {fingerprint}"
        + (", **changed during the run**" if after != fingerprint else "")
        + f"); {time.strftime('%Y-%m-%d %H:%M:%S %Z')}; took {time.monotonic() - started:.0f} s",
        f"- Machine: nproc {cores()}; receiver, PostgreSQL, Redis, workers and the bench all on it; "
        "CPU shares are of the whole machine",
        f"- Celery: {args.workers} worker(s), --pool {args.pool}, --concurrency {args.concurrency}, "
        f"prefetch multiplier {settings.CELERY_WORKER_PREFETCH_MULTIPLIER}, loglevel WARNING, one beat; "
        "production defaults except WEBHOOK_READ_TIMEOUT=2 in scenario 5"
        + "".join(f"; **{name}={value}**" for name, value in args.overrides.items()),
        f"- Engine settings: {engine_settings(settings)}",
        f"- Scenarios 8-13: the Procfile's lines as they are: web `{procfile['web']}`, worker "
        f"`{procfile['worker']}` (+ `--hostname`), at their defaults (loglevel info); {database_pool(settings)}; "
        f"API_RATE_LIMIT={API_RATE_LIMIT} per client key unless --env says otherwise",
        f"- Load: events from `incident_create` in {args.emitters} emitter process(es) × {EMITTER_THREADS} "
        f"threads (8, 10, 11: `POST /api/v1/incidents` over HTTP from {args.emitters} client processes, one key "
        f"per client thread); baseline: {args.workers} process(es) × {args.baseline_threads or args.concurrency} "
        "threads (12: 1 and 2 processes; 13: 1)",
        "- Latency: from the Event row's `created_at` (set in the emitting transaction) to the receiver's "
        "clock; deliveries missing at a scenario's deadline count as ∞",
    ]
    table = render(rows, header=header)
    if args.profile and bench is not None and bench.profile_report:
        report = tmp / "profile-s2.md"
        report.write_text(bench.profile_report + "\n")
        sys.stderr.write("\n## py-spy of the workers during scenario 2\n\n" + bench.profile_report + "\n\n")
        log(f"profile written to {report}")
    sys.stdout.write(table)
    sys.stdout.flush()
    if args.out:
        args.out.write_text(table)
        log(f"table written to {args.out}")
    done = {int(str(row.number).rstrip("abc")) for row in rows}
    return 0 if done == set(args.scenario_list) else 130


if __name__ == "__main__":
    sys.exit(main())
