"""Everything the bench does in the database, through the project's public services
(`endpoint_create`, `incident_create`): the outbox enqueues deliveries on commit
exactly as in production. Only the scenario-6 pre-fill writes rows with SQL, into
the real tables, shaped as finished deliveries from the past month."""

import itertools
import os
import threading
import time

import django
from django.apps import apps
from django.db import connection, connections, models, transaction

from bench.stack import log


def setup_django(env: dict[str, str]) -> None:
    os.environ.update(env)
    django.setup()


def migrate() -> None:
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)


def bench_models() -> list[type[models.Model]]:
    """The incident and webhook tables, whatever the engine adds to them."""
    return [
        model
        for label in ("incidents", "webhooks")
        for model in apps.get_app_config(label).get_models()
        if model._meta.managed and not model._meta.proxy
    ]


def reset_state(redis_url: str) -> None:
    """Empty the incident and webhook tables and the bench's Redis database."""
    import redis

    tables = ", ".join(connection.ops.quote_name(model._meta.db_table) for model in bench_models())
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
    redis.Redis.from_url(redis_url).flushdb()


def settle_after_bulk_load() -> None:
    """What a long-running database would have done by itself: vacuum and statistics for
    the loaded tables, and a checkpoint, so the measurement does not pay for the bulk
    load (a checkpoint in progress, and full-page writes for every page first touched
    after it, cost the backends CPU and I/O that have nothing to do with table size)."""
    from django.db import DatabaseError

    from webhooks.models import Delivery, DeliveryAttempt, Event

    with connection.cursor() as cursor:
        for model in (Event, Delivery, DeliveryAttempt):
            cursor.execute(f"VACUUM ANALYZE {connection.ops.quote_name(model._meta.db_table)}")
        try:
            cursor.execute("CHECKPOINT")
        except DatabaseError as error:  # not a superuser (or pg_checkpoint member): go on without
            log(f"  no CHECKPOINT after the pre-fill: {error}")


def table_rows() -> dict[str, int]:
    from webhooks.models import Delivery, DeliveryAttempt

    return {"deliveries": Delivery.objects.count(), "attempts": DeliveryAttempt.objects.count()}


# --- Endpoints and events through the services ---------------------------------------


def endpoints_create(base_url: str, paths: list[str], *, ordering: str = "none") -> list:
    from webhooks.endpoints import endpoint_create

    return [endpoint_create(name=f"bench {path}", url=f"{base_url}{path}", ordering=ordering) for path in paths]


def endpoints_copy(template, base_url: str, paths: list[str]) -> None:
    """Endpoints like `template` (made by `endpoint_create`, so valid) at more paths,
    each with its own secret, bulk-inserted: the service takes about 5 ms an endpoint,
    most of a scenario for 10,000."""
    from django.utils import timezone

    from webhooks.models import WebhookEndpoint
    from webhooks.transport import signing

    now = timezone.now()
    own = {"id", "name", "url", "secret", "created_at", "updated_at"}
    # Every other field as the template has it (subscriptions, filters, format...),
    # whatever fields the model grows.
    fields = [f for f in WebhookEndpoint._meta.concrete_fields if f.name not in own]
    shared = {f.attname: getattr(template, f.attname) for f in fields}
    copies = [
        WebhookEndpoint(
            **shared,
            name=f"bench {path}",
            url=f"{base_url}{path}",
            secret=signing.generate_secret(),
            created_at=now,
            updated_at=now,
        )
        for path in paths
    ]
    WebhookEndpoint.objects.bulk_create(copies, batch_size=1000)


def endpoints_disable(endpoints: list) -> None:
    from webhooks.endpoints import endpoint_update

    for endpoint in endpoints:
        endpoint_update(endpoint=endpoint, is_active=False)


_sequence = itertools.count()


def emit_one(events: int = 1) -> None:
    """One incident created (`incident.triggered`), then taken through `events - 1` more
    lifecycle transitions (acknowledge, escalate, resolve, reopen, and round again), each
    in its own transaction as through the API: versions 1..`events`, each fanned out by
    the outbox."""
    from incidents import services
    from incidents.actors import Actor

    actor = Actor.system("bench")
    lifecycle = (
        services.incident_acknowledge, services.incident_escalate, services.incident_resolve, services.incident_reopen,
    )  # fmt: skip
    n = next(_sequence)
    incident, _ = services.incident_create(title=f"bench incident {n:07d}", actor=actor, severity="high")
    for step in range(events - 1):
        incident = lifecycle[step % len(lifecycle)](incident=incident, actor=actor)


def run_threads(target, threads: int, deadline: float, label: str) -> None:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            target()
        except BaseException as error:  # noqa: BLE001 - reported below, in the main thread
            errors.append(error)
        finally:
            connections.close_all()

    pool = [threading.Thread(target=run, daemon=True, name=f"{label}-{n}") for n in range(threads)]
    for thread in pool:
        thread.start()
    until = time.monotonic() + deadline
    for thread in pool:
        thread.join(timeout=max(0.0, until - time.monotonic()))
    if errors:
        raise RuntimeError(f"{label}: {errors[0]!r}") from errors[0]
    if any(thread.is_alive() for thread in pool):
        raise TimeoutError(f"{label}: not done in {deadline:.0f} s")


def emit_burst(count: int, *, threads: int, deadline: float) -> dict:
    """`count` events as fast as `threads` emitters go (one transaction each)."""
    counter = itertools.count()

    def emit() -> None:
        while next(counter) < count:
            emit_one()

    started = time.time()
    run_threads(emit, threads, deadline, "emit")
    seconds = time.time() - started
    return {"events": count, "seconds": seconds, "rate": count / seconds if seconds else 0.0}


def event_commit_times(since: float) -> dict[str, float]:
    """Event id → its `created_at` (the commit time used for latency), for real events
    created at or after `since` (time.time())."""
    from datetime import UTC, datetime

    from webhooks.models import Event

    moment = datetime.fromtimestamp(since, tz=UTC)
    rows = Event.objects.filter(created_at__gte=moment, is_test=False).values_list("id", "created_at")
    return {event_id: created_at.timestamp() for event_id, created_at in rows}


def first_attempt_starts(event_ids) -> dict[tuple[str, str], float]:
    """(event id, endpoint URL path) → when the first attempt of that delivery started
    (the worker's clock, as time.time()): splits a receipt's latency into the wait
    before the attempt and the sending itself."""
    from urllib.parse import urlsplit

    from webhooks.models import DeliveryAttempt

    rows = DeliveryAttempt.objects.filter(number=1, delivery__event_id__in=list(event_ids)).values_list(
        "delivery__event_id", "delivery__endpoint__url", "started_at"
    )
    return {(event_id, urlsplit(url).path): started.timestamp() for event_id, url, started in rows}


def event_versions(since: float) -> dict[str, tuple[str, int]]:
    """Event id → (incident id, incident version) for real events created at or after
    `since`: what a receiver needs to tell whether an incident's events came in order."""
    from datetime import UTC, datetime

    from webhooks.models import Event

    moment = datetime.fromtimestamp(since, tz=UTC)
    rows = Event.objects.filter(created_at__gte=moment, is_test=False).values_list("id", "facts")
    return {event_id: (facts["incident_id"], facts["version"]) for event_id, facts in rows}


# --- Scenario 6: finished deliveries pre-filled with SQL --------------------------------

PREFILL_CHUNK = 100_000


def _insert_select(model, values: dict[str, str | tuple[str, list]], source: str, source_params: list) -> None:
    """INSERT INTO <model's table> (every column) SELECT ... FROM <source>: columns named
    in `values` get that SQL (on `g` and `ts`; with its params as `(sql, params)`), the
    others NULL or their model default, so a column the engine adds does not break it."""
    columns, expressions, params = [], [], []
    for field in model._meta.concrete_fields:
        if isinstance(field, models.AutoField | models.BigAutoField):
            continue
        columns.append(connection.ops.quote_name(field.column))
        value = values.get(field.name)
        if value is not None:
            sql, value_params = value if isinstance(value, tuple) else (value, [])
            expressions.append(sql)
            params.extend(value_params)
        elif field.null:
            expressions.append("NULL")
        elif field.has_default():
            expressions.append("%s")
            params.append(field.get_db_prep_save(field.get_default(), connection))
        elif field.blank and isinstance(field, models.CharField | models.TextField):
            expressions.append("''")
        else:
            raise RuntimeError(f"pre-fill: no value for {model.__name__}.{field.name}")
    sql = (
        f"INSERT INTO {connection.ops.quote_name(model._meta.db_table)} ({', '.join(columns)}) "
        f"SELECT {', '.join(expressions)} FROM {source}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *source_params])


def _series(scale: int) -> str:
    """Rows g = %s..%s; ts spreads row g of %s over the last 29 days, oldest first."""
    return (
        "generate_series(%s, %s) AS g, "
        f"LATERAL (SELECT now() - interval '29 days' * (1 - (g * {scale})::float8 / %s) AS ts) AS t"
    )


def prefill(*, endpoints: list, start: int, stop: int, total: int, payload: str) -> None:
    """Finished deliveries `start`..`stop-1` (ids sorting before any real id, created over
    the last 29 days, oldest first), each with one succeeded attempt, and their events
    (one per endpoint pair, as a fan-out to the endpoints gives)."""
    from webhooks.models import Delivery, DeliveryAttempt, Event

    fanout = len(endpoints)
    endpoint_ids = [endpoint.id for endpoint in endpoints]
    urls = [endpoint.url for endpoint in endpoints]
    request_headers = {
        "Content-Type": "application/json",
        "User-Agent": "OpsKnight-Webhooks/0.1.0",
        "X-OpsKnight-Event": "incident.triggered",
        "X-OpsKnight-Delivery": "dlv_00000000000000000000000000",
        "X-OpsKnight-Signature": "sha256=" + "0" * 64,
        "webhook-id": "evt_00000000000000000000000000",
        "webhook-timestamp": "1700000000",
        "webhook-signature": "v1," + "A" * 43 + "=",
    }
    from psycopg.types.json import Jsonb

    arr = "ARRAY[" + ", ".join(["%s"] * fanout) + "]"
    if start % fanout or PREFILL_CHUNK % fanout:
        raise ValueError("pre-fill chunks must hold whole fan-outs")
    for chunk_start in range(start, stop, PREFILL_CHUNK):
        chunk_stop = min(stop, chunk_start + PREFILL_CHUNK)
        with transaction.atomic():
            # One event per `fanout` deliveries, as a fan-out to the endpoints writes them.
            _insert_select(
                Event,
                {
                    "id": "'evt_00' || lpad(g::text, 24, '0')",
                    "type": "'incident.triggered'",
                    "payload": ("%s", [payload]),
                    "is_test": "false",
                    "created_at": "ts",
                },
                _series(fanout),
                [chunk_start // fanout, (chunk_stop - 1) // fanout, total],
            )
            _insert_select(
                Delivery,
                {
                    "id": "'dlv_00' || lpad(g::text, 24, '0')",
                    "event": f"'evt_00' || lpad((g / {fanout})::text, 24, '0')",
                    "endpoint": (f"({arr})[1 + mod(g, {fanout})]", endpoint_ids),
                    "status": "'succeeded'",
                    "origin": "'event'",
                    "is_test": "false",
                    "attempt_count": "1",
                    "last_status_code": "200",
                    "last_error": "''",
                    "created_at": "ts",
                    "completed_at": "ts + interval '40 milliseconds'",
                },
                _series(1),
                [chunk_start, chunk_stop - 1, total],
            )
            _insert_select(
                DeliveryAttempt,
                {
                    "delivery": "'dlv_00' || lpad(g::text, 24, '0')",
                    "number": "1",
                    "started_at": "ts",
                    "duration_ms": "12",
                    "url": (f"({arr})[1 + mod(g, {fanout})]", urls),
                    "request_headers": ("%s", [Jsonb(request_headers)]),
                    "response_status": "200",
                    "response_headers": ("%s", [Jsonb({"Content-Type": "text/plain", "Content-Length": "2"})]),
                    "response_body_excerpt": "'ok'",
                    "error_class": "''",
                    "error_message": "''",
                    "outcome": "'succeeded'",
                },
                _series(1),
                [chunk_start, chunk_stop - 1, total],
            )
        log(f"  pre-filled {chunk_stop:,} / {stop:,} deliveries and attempts")
