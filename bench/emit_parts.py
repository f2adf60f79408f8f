"""Where a lifecycle event's CPU goes: each step of a transition timed alone, in-process,
against the whole event, so the doc can say what stands between the emit path and its
target and by how much.

    python -m bench.emit_parts [--repeat 300] [--endpoints 5]

Each step runs `--repeat` times in a transaction that is rolled back (the whole event:
in committed transactions), best of three rounds, CPU time of the process
(`time.process_time`). Uses the bench's database and Redis database like `bench.emit`.
"""

import argparse
import itertools
import time


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.emit_parts", description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=300)
    parser.add_argument("--endpoints", type=int, default=5)
    args = parser.parse_args(argv)
    from bench.emit import fresh_bench_data, setup_bench_django

    setup_bench_django()
    from django.db import connection, transaction
    from django.utils import timezone

    from incidents import services
    from incidents.actors import Actor
    from incidents.models import IncidentEvent, Service
    from opsknight.celery import app
    from opsknight.rows import rows_insert
    from webhooks.delivery import outbox, wakeups
    from webhooks.formats import opsknight as opsknight_format
    from webhooks.models import Event, new_event_id

    fresh_bench_data(endpoints=args.endpoints, tag="parts")
    actor = Actor.system("bench.emit_parts")
    service = Service.objects.create(name="parts")
    incident, _ = services.incident_create(title="parts", actor=actor, service=service)
    versions = itertools.count(100)
    state: dict = {}

    def lock():
        state["locked"] = services.incident_lock(incident_id=incident.pk)

    def update():
        state["locked"].save()

    def timeline_entry():
        state["entry"] = IncidentEvent.objects.create(
            incident=state["locked"], type="incident.acknowledged", version=next(versions),
            occurred_at=timezone.now(), actor_type=actor.type, actor_id=actor.id, actor_name=actor.name,
        )  # fmt: skip

    def payload():
        locked = state["locked"]
        state["body"] = opsknight_format.event_body(
            event_id=new_event_id(),
            event_type="incident.acknowledged",
            timestamp=timezone.now(),
            actor=opsknight_format.actor_payload(type=actor.type, id=actor.id, name=actor.name),
            incident=opsknight_format.incident_payload(locked),
        )

    def endpoints():
        state["endpoints"] = outbox._first_active_endpoints(51)

    def event_insert():
        timeline_entry()  # an event per timeline entry: timed apart and taken off below
        state["event"] = Event.objects.create(
            id=new_event_id(), type="incident.acknowledged", incident_id=incident.pk, incident_event=state["entry"],
            payload=state["body"].decode(), created_at=timezone.now(), expanded_at=timezone.now(), facts={},
        )  # fmt: skip

    def delivery_rows():
        facts = outbox.EventFacts.of_incident(event_type="incident.acknowledged", incident=state["locked"], version=1)
        renderer, now = outbox.EventRenderer(state["event"]), timezone.now()
        state["rows"] = [
            d
            for e in state["endpoints"]
            for d in outbox._deliveries_for(e, event=state["event"], facts=facts, renderer=renderer, now=now)
        ]

    def deliveries_insert():
        event_insert()
        delivery_rows()
        rows_insert(state["rows"])

    def round_trip():
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")

    def per_call(step, count: int) -> float:
        best = float("inf")
        for _ in range(3):
            with transaction.atomic():
                step()  # warm
                started = time.process_time()
                for _ in range(count):
                    step()
                best = min(best, (time.process_time() - started) / count * 1000)
                transaction.set_rollback(True)
        return best

    def committed(step, count: int) -> float:
        best = float("inf")
        for _ in range(3):
            started = time.process_time()
            for _ in range(count):
                step()
            best = min(best, (time.process_time() - started) / count * 1000)
        return best

    def begin_commit():
        with transaction.atomic():
            round_trip()

    def transition_pair():
        # Two events (escalate, then reopen needs resolved: so resolve and reopen) per call.
        services.incident_resolve(incident=incident, actor=actor)
        services.incident_reopen(incident=incident, actor=actor)

    kept = app.producer_pool.acquire(block=True)
    ids = [f"dlv_{n:026d}" for n in range(args.endpoints)]
    repeat = args.repeat
    with transaction.atomic():  # the state the steps build on
        lock(), payload(), endpoints()
    figures = {"a round trip (`SELECT 1`) through the ORM's cursor": per_call(round_trip, repeat)}
    figures["lock: `SELECT … FOR UPDATE`, service and assignee joined, has links"] = per_call(lock, repeat)
    figures["update of the incident row (`save()`)"] = (
        per_call(lambda: (lock(), update()), repeat)
        - figures["lock: `SELECT … FOR UPDATE`, service and assignee joined, has links"]
    )
    entry = per_call(timeline_entry, repeat)
    figures["timeline entry (`IncidentEvent` insert)"] = entry
    figures["payload: `incident_payload` + `event_body` (JSON)"] = per_call(payload, repeat)
    figures[f"active endpoints read ({args.endpoints})"] = per_call(endpoints, repeat)
    event = per_call(event_insert, repeat) - entry
    figures["`Event` insert"] = event
    inserts = per_call(deliveries_insert, repeat) - entry - event
    rows = per_call(lambda: (event_insert(), delivery_rows()), repeat) - entry - event
    figures[f"{args.endpoints} `Delivery` objects (`endpoint_wants`, `new_delivery`)"] = rows
    figures[f"{args.endpoints} `Delivery` rows inserted (`rows_insert`)"] = inserts - rows
    figures["BEGIN and COMMIT"] = (
        committed(begin_commit, repeat) - figures["a round trip (`SELECT 1`) through the ORM's cursor"]
    )
    figures["the wake-up: `send_task` of the ids on a kept producer"] = committed(
        lambda: wakeups.enqueue_deliveries(ids, producer=kept), repeat
    )
    whole = committed(transition_pair, repeat // 2) / 2
    original = wakeups._publisher.submit
    wakeups._publisher.submit = lambda kind, ids: None
    try:
        quiet = committed(transition_pair, repeat // 2) / 2
    finally:
        wakeups._publisher.submit = original
    kept.release()
    app.connection_for_write().default_channel.client.delete("celery")

    steps = {k: v for k, v in figures.items() if not k.startswith("a round trip")}
    print(f"A transition's steps, {args.endpoints} endpoints, ms CPU each (best of 3 × {repeat}):")
    for name, value in figures.items():
        print(f"  {value:6.3f}  {name}")
    print(f"  {sum(steps.values()):6.3f}  sum of the steps")
    print(f"  {whole:6.3f}  a whole transition (resolve or reopen), with its wake-up through the publisher thread")
    print(f"  {quiet:6.3f}  the same with no wake-up sent")
    print(f"  {whole - quiet:6.3f}  so the wake-up costs, thread hand-over included")


if __name__ == "__main__":
    main()
