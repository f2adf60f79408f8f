"""A load-generating process: incidents created through `incident_create`, each in
its own transaction, so the outbox writes and enqueues the deliveries on commit as in
production. Several of these run at once, like the processes of a web tier: one
Python process alone cannot create 200 incidents/s with fan-out on a small machine.

    python -m bench.emitter burst --count 2500 --threads 4 --start-at EPOCH [--events-per-incident 4]
    python -m bench.emitter paced --rate 100 --duration 30 --threads 4 --start-at EPOCH [--offset 0.005]

`--count` counts incidents; with `--events-per-incident N` each is created, then taken
through N - 1 transitions by the same thread (bench.data.emit_one).

Runs with the environment the bench gives it (DATABASE_URL, REDIS_URL, ...), and
prints one JSON line: events (lifecycle events), skipped (a paced run's events not
sent by its end), start, end, max_lag (seconds an event went out late), cpu (its CPU
seconds from the start time on).
"""

import argparse
import itertools
import json
import threading
import time

import django


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.emitter")
    parser.add_argument("mode", choices=["burst", "paced"])
    parser.add_argument("--count", type=int, default=0)
    parser.add_argument("--rate", type=float, default=0.0)
    parser.add_argument("--duration", type=float, default=0.0)
    parser.add_argument("--offset", type=float, default=0.0, help="paced: shift this process's schedule")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--start-at", type=float, required=True, help="time.time() to start at")
    parser.add_argument("--deadline", type=float, default=300.0)
    parser.add_argument(
        "--events-per-incident", type=int, default=1, help="burst: lifecycle events per incident (1: created only)"
    )
    args = parser.parse_args()

    django.setup()
    from django.db import connections

    from bench.data import emit_one
    from incidents.models import Incident

    # Load the code and reach the database before the start time: the clock measures emitting.
    Incident.objects.exists()
    paced = args.mode == "paced"
    total = int(args.rate * args.duration) if paced else args.count
    counter = itertools.count()
    lags: list[float] = []
    emitted: list[int] = []
    errors: list[str] = []
    start = args.start_at + args.offset
    # No new event after this (time.time()): a paced run lasts its duration (events an
    # overloaded machine could not send by then are skipped and reported); a burst has
    # its deadline.
    until = start + (args.duration + 1.0 if paced else args.deadline)

    def run() -> None:
        mine, count = [], 0
        try:
            while (n := next(counter)) < total:
                if paced:
                    delay = start + n / args.rate - time.time()
                    if delay > 0:
                        time.sleep(delay)
                    mine.append(max(0.0, -delay))
                if time.time() >= until:
                    break
                emit_one(args.events_per_incident)
                count += args.events_per_incident
        except Exception as error:  # noqa: BLE001 - reported in the JSON line
            errors.append(repr(error))
        finally:
            lags.extend(mine)
            emitted.append(count)
            connections.close_all()

    delay = start - time.time()
    if delay > 0:
        time.sleep(delay)
    cpu_at_start = time.process_time()
    threads = [threading.Thread(target=run, daemon=True) for _ in range(args.threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=max(0.0, until + 30 - time.time()))
    end = time.time()
    result = {
        "events": sum(emitted),
        "skipped": total * args.events_per_incident - sum(emitted),
        "start": start,
        "end": end,
        "max_lag": max(lags, default=0.0),
        "cpu": time.process_time() - cpu_at_start,
        "errors": errors[:3],
        "timed_out": any(thread.is_alive() for thread in threads),
    }
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
