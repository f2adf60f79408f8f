"""Large fan-outs leave the change's transaction: with more active endpoints than
WEBHOOK_INLINE_FANOUT_MAX, the request writes the event alone and a worker writes its
deliveries after commit (outbox.event_expand); the dispatcher finds events whose
expansion was lost; expanding again after a crash writes only what is missing."""

import base64
import json
from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from webhooks.delivery.dispatcher import deliveries_dispatch_due
from webhooks.delivery.outbox import event_expand
from webhooks.endpoints import endpoint_create
from webhooks.models import Delivery, Event, WebhookEndpoint
from webhooks.tests.support import declare

pytestmark = pytest.mark.django_db


@pytest.fixture
def queue():
    """The Celery queue in the tests' own Redis database: what was really enqueued."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.delete("celery")
    yield lambda: [_task(raw) for raw in client.lrange("celery", 0, -1)]
    client.delete("celery")


def _task(raw: bytes) -> tuple[str, list]:
    message = json.loads(raw)
    args = json.loads(base64.b64decode(message["body"]))[0]
    return message["headers"]["task"], args[0]


def endpoints(receiver, count: int, **fields) -> list[WebhookEndpoint]:
    return [endpoint_create(name=f"e{n}", url=receiver.url(f"/e{n}"), **fields) for n in range(count)]


def test_a_large_fan_out_writes_only_the_event_in_the_request(
    system_actor, receiver, settings, queue, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_INLINE_FANOUT_MAX = 2
    endpoints(receiver, 4)
    endpoint_create(name="other", url=receiver.url("/other"), event_types=["incident.resolved"])

    with django_capture_on_commit_callbacks(execute=True):
        declare(system_actor)

    (event,) = Event.objects.all()
    assert event.expanded_at is None and not Delivery.objects.exists()
    assert queue() == [("webhooks.tasks.expand_events", [event.pk])]

    assert event_expand(event_id=event.pk) == 4  # the one subscribed to resolved only gets nothing
    event.refresh_from_db()
    assert event.expanded_at is not None
    assert sorted(Delivery.objects.values_list("endpoint__name", flat=True)) == ["e0", "e1", "e2", "e3"]
    batches = [args for task, args in queue() if task == "webhooks.tasks.deliver_batch"]
    assert sorted(sum(batches, [])) == sorted(Delivery.objects.values_list("id", flat=True))
    # Once expanded, a duplicate wake-up does nothing.
    assert event_expand(event_id=event.pk) == 0
    assert Delivery.objects.count() == 4


def test_an_expansion_cut_short_is_completed_without_duplicates(system_actor, receiver, settings):
    settings.WEBHOOK_INLINE_FANOUT_MAX = 2
    made = endpoints(receiver, 5)
    declare(system_actor)
    event = Event.objects.get()
    # A worker died after writing two of them.
    for endpoint in made[:2]:
        Delivery.objects.create(event=event, endpoint=endpoint, next_attempt_at=timezone.now())

    assert event_expand(event_id=event.pk) == 5

    assert Delivery.objects.count() == 5
    assert set(Delivery.objects.values_list("endpoint_id", flat=True)) == {e.pk for e in made}


def test_the_dispatcher_expands_events_whose_wake_up_was_lost(system_actor, receiver, settings, queue):
    settings.WEBHOOK_INLINE_FANOUT_MAX = 1
    settings.WEBHOOK_REDISPATCH_AFTER = 30
    endpoints(receiver, 2)
    declare(system_actor, key="old")
    declare(system_actor, key="new")
    old, new = Event.objects.order_by("created_at")
    Event.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(seconds=60))

    assert deliveries_dispatch_due() == 1

    assert queue() == [("webhooks.tasks.expand_events", [old.pk])]  # the fresh one waits for its own wake-up


def test_the_request_costs_the_same_with_ten_thousand_endpoints_as_with_one(system_actor, receiver):
    endpoint_create(name="one", url=receiver.url("/one"))
    with CaptureQueriesContext(connection) as with_one:
        declare(system_actor, key="one")
    WebhookEndpoint.objects.bulk_create(
        [
            WebhookEndpoint(name=f"bulk {n}", url=f"https://hooks{n}.example.com/in", secret="s" * 32)
            for n in range(9999)
        ]
    )
    with CaptureQueriesContext(connection) as with_many:
        declare(system_actor, key="many")

    assert len(with_many.captured_queries) <= len(with_one.captured_queries)
    # At most WEBHOOK_INLINE_FANOUT_MAX + 1 endpoint rows read, none written.
    assert Delivery.objects.filter(event__incident__idempotency_key="many").count() == 0
    assert Event.objects.get(incident__idempotency_key="many").expanded_at is None
