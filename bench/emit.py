"""The emit path alone: CPU per lifecycle event in-process (incident_create and the
four transitions, each with its outbox row, deliveries and wake-up), against a plain
ORM insert-and-commit loop in the same process, rounds interleaved; and CPU per
`POST /api/v1/incidents` through Django's whole stack in-process (middleware, key,
rate limit, serializers; no web server), to show what the API adds to a create.

    python -m bench.emit [--rounds 3] [--incidents 200] [--endpoints 5] [--profile | --profile-api]

Uses the bench's PostgreSQL database (opsknight_bench or BENCH_DATABASE_NAME, emptied
first) and Redis database (13 or BENCH_REDIS_DB); the wake-ups go to Redis for real
(nothing consumes them; the queue is emptied after). Scenario 9 of `python -m bench`
runs it with `--json`.
"""

import argparse
import cProfile
import json
import os
import pstats
import sys
import time


def setup_bench_django() -> None:
    """Django in this process, on the bench's own database (emptied by the caller) and
    Redis database."""
    from bench.stack import bench_database_url, bench_redis_url, ensure_database

    database_url = bench_database_url(os.environ.get("DATABASE_URL"))
    ensure_database(database_url)
    os.environ.update(
        DATABASE_URL=database_url,
        REDIS_URL=bench_redis_url(os.environ.get("REDIS_URL")),
        DJANGO_SETTINGS_MODULE="opsknight.settings",
        DJANGO_SECRET_KEY="bench-only-secret-key-not-for-production",
        WEBHOOK_ALLOW_PRIVATE_TARGETS="true",
        LOG_LEVEL="WARNING",
        ALLOWED_HOSTS="testserver",  # Django's test client
        API_RATE_LIMIT="100000/min",  # counted, never refused (as in the bench's scenarios)
    )
    import django

    django.setup()


def fresh_bench_data(*, endpoints: int, tag: str) -> None:
    """The bench database migrated and emptied, with `endpoints` subscribed endpoints
    (on a closed port: nothing consumes the wake-ups)."""
    from django.core.management import call_command

    from webhooks.endpoints import endpoint_create

    call_command("migrate", verbosity=0)
    call_command("flush", interactive=False, verbosity=0)
    for n in range(endpoints):
        endpoint_create(name=f"{tag} {n}", url=f"http://127.0.0.1:9/{n}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.emit", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--incidents", type=int, default=200, help="incidents per round (5 events each)")
    parser.add_argument("--endpoints", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="print the top of a cProfile of one round")
    parser.add_argument("--profile-api", action="store_true", help="the same for API creates")
    parser.add_argument("--json", action="store_true", help="print one JSON line instead (for `python -m bench`)")
    args = parser.parse_args(argv)
    setup_bench_django()
    from django.db import connection, transaction
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from incidents import services
    from incidents.actors import Actor
    from incidents.models import Service
    from opsknight.celery import app
    from opsknight.services import api_key_create
    from webhooks.models import WebhookEndpoint

    fresh_bench_data(endpoints=args.endpoints, tag="emit")
    service = Service.objects.create(name="emit bench")
    actor = Actor.system("bench.emit")
    counter = iter(range(10**9))
    _, raw_key = api_key_create(name="bench emit", scopes=["incidents:read", "incidents:write"])
    client = Client(HTTP_AUTHORIZATION=f"Bearer {raw_key}")

    def lifecycle() -> None:
        incident, _ = services.incident_create(
            title="emit bench", idempotency_key=f"k{next(counter)}", actor=actor, service=service
        )
        services.incident_acknowledge(incident=incident, actor=actor)
        services.incident_escalate(incident=incident, actor=actor)
        services.incident_resolve(incident=incident, actor=actor)
        services.incident_reopen(incident=incident, actor=actor)

    def baseline() -> None:
        # Five single-row transactions, as the five events are: the floor of the database round trips.
        for _ in range(5):
            with transaction.atomic():
                Service.objects.create(name=f"baseline {next(counter)}")

    def api_create() -> None:
        body = {"title": "emit bench", "idempotency_key": f"k{next(counter)}", "severity": "high"}
        response = client.post("/api/v1/incidents", body, content_type="application/json")
        if response.status_code != 201:
            raise RuntimeError(f"POST /api/v1/incidents: {response.status_code} {response.content[:300]!r}")

    def measure(step, count: int, events: int = 5) -> float:
        started = time.process_time()
        for _ in range(count):
            step()
        return (time.process_time() - started) / (count * events) * 1000

    lifecycle()  # warm up: connections, imports, the producer pool
    baseline()
    api_create()
    # Counted at once: every request of the test client empties the connection's query log.
    with CaptureQueriesContext(connection) as queries:
        lifecycle()
    queries_per_event = len(queries.captured_queries) / 5
    with CaptureQueriesContext(connection) as queries:
        api_create()
    api_queries = len(queries.captured_queries)
    best = {"baseline": float("inf"), "emit": float("inf"), "api_create": float("inf")}
    for _ in range(args.rounds):
        best["baseline"] = min(best["baseline"], measure(baseline, args.incidents))
        best["emit"] = min(best["emit"], measure(lifecycle, args.incidents))
        best["api_create"] = min(best["api_create"], measure(api_create, args.incidents, events=1))
    endpoints = WebhookEndpoint.objects.count()
    if args.json:
        result = {
            **best,
            "queries_per_event": queries_per_event,
            "api_queries": api_queries,
            "endpoints": endpoints,
        }
        print(json.dumps({**result, "incidents": args.incidents, "rounds": args.rounds}), flush=True)
    else:
        print(f"{args.incidents} incidents × 5 events × {args.rounds} rounds, {args.endpoints} endpoints, best round:")
        print(f"  plain ORM insert + commit (baseline)  {best['baseline']:6.2f} ms CPU/event  1.00x")
        ratio = best["emit"] / best["baseline"]
        print(f"  lifecycle event with its outbox       {best['emit']:6.2f} ms CPU/event  {ratio:.2f}x")
        print(f"  queries per event: {queries_per_event:.1f} ({endpoints} endpoints)")
        api_ratio = best["api_create"] / best["baseline"]
        print(f"  POST /api/v1/incidents in-process     {best['api_create']:6.2f} ms CPU/call   {api_ratio:.2f}x")
        print(f"  queries per API create: {api_queries}")
    if args.profile or args.profile_api:
        step = api_create if args.profile_api else lifecycle
        profile = cProfile.Profile(time.process_time)  # CPU, not wall: waits on the database left out
        profile.runcall(lambda: [step() for _ in range(args.incidents)])
        pstats.Stats(profile, stream=sys.stdout).sort_stats("cumulative").print_stats(35)
    app.connection_for_write().default_channel.client.delete("celery")


if __name__ == "__main__":
    main()
