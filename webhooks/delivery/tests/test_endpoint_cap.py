"""The per-endpoint in-flight cap: a slow endpoint (a request in flight for longer than
WEBHOOK_SLOW_REQUEST_SECONDS) gets at most WEBHOOK_MAX_IN_FLIGHT_PER_ENDPOINT requests at
once; the rest are handed back uncounted, due shortly. A fast endpoint is not held back."""

import threading
import time

import pytest
from django.utils import timezone

from incidents import services as incident_services
from tests.support.receiver import Reply
from webhooks import transport
from webhooks.actions import delivery_redeliver
from webhooks.delivery.worker import deliveries_attempt
from webhooks.endpoints import endpoint_create
from webhooks.models import Delivery, DeliveryAttempt

pytestmark = pytest.mark.django_db


def five_deliveries(receiver, system_actor, path: str):
    endpoint = endpoint_create(name=path, url=receiver.url(path))
    for n in range(5):
        incident_services.incident_create(title=f"t{n}", idempotency_key=f"{path}-{n}", actor=system_actor)
    return endpoint, list(Delivery.objects.filter(endpoint=endpoint).values_list("id", flat=True))


def send_and_wait(requests):
    """Through the one send path (the pool), waiting for each result; None where capped."""
    return [sending and sending.future.result() for sending in transport.start_many(requests)]


def test_a_fast_endpoint_is_not_held_to_the_cap(receiver, system_actor, settings):
    settings.WEBHOOK_MAX_IN_FLIGHT_PER_ENDPOINT = 3
    settings.WEBHOOK_SLOW_REQUEST_SECONDS = 1.0
    endpoint, ids = five_deliveries(receiver, system_actor, "/fast")
    assert len(deliveries_attempt(delivery_ids=ids)) == 5
    assert not Delivery.objects.filter(endpoint=endpoint, status="pending").exists()


def test_deliveries_over_a_slow_endpoints_cap_are_deferred_uncounted(receiver, system_actor, settings):
    settings.WEBHOOK_MAX_IN_FLIGHT_PER_ENDPOINT = 3
    settings.WEBHOOK_SLOW_REQUEST_SECONDS = 0.1
    settings.WEBHOOK_DEFER_SECONDS = 1.0
    receiver.script("/capped", [Reply(status=200, delay=0.3)])
    endpoint, ids = five_deliveries(receiver, system_actor, "/capped")
    # One slow answer makes the endpoint slow.
    assert deliveries_attempt(delivery_ids=ids[:1])[0].duration_ms >= 300
    ids = ids[1:] + [delivery_redeliver(delivery=Delivery.objects.get(pk=ids[0])).pk]

    before = timezone.now()
    attempts = deliveries_attempt(delivery_ids=ids)

    assert len(attempts) == 3 and len(receiver.received("/capped")) == 1 + 3
    deferred = Delivery.objects.filter(endpoint=endpoint, status="pending")
    assert deferred.count() == 2
    for delivery in deferred:
        assert delivery.attempt_count == 0 and delivery.locked_until is None
        assert 0.9 <= (delivery.next_attempt_at - before).total_seconds() <= 2.0
    assert DeliveryAttempt.objects.filter(delivery__in=deferred).count() == 0


def test_a_slow_endpoint_holds_only_its_own_slots(receiver, settings):
    """While one endpoint's requests hang, another endpoint's go straight through."""
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    settings.WEBHOOK_MAX_IN_FLIGHT_PER_ENDPOINT = 2
    settings.WEBHOOK_SLOW_REQUEST_SECONDS = 0.1
    settings.WEBHOOK_READ_TIMEOUT = 5.0
    receiver.script("/slow", [Reply(status=200, delay=1.5)] * 4)
    slow = [transport.OutgoingRequest(receiver.url("/slow"), b"{}", {}, "slow") for _ in range(4)]
    fast = [transport.OutgoingRequest(receiver.url("/fast"), b"{}", {}, "fast") for _ in range(2)]

    holder = threading.Thread(target=send_and_wait, args=(slow,))
    holder.start()
    time.sleep(0.3)  # its requests are now in flight for longer than 0.1 s: it is slow
    assert transport.busy_endpoint_keys() == ["slow"]
    started = time.monotonic()
    results = send_and_wait([*fast, slow[0]])
    assert time.monotonic() - started < 1.0
    assert [r.response_status for r in results[:2]] == [200, 200]
    assert results[2] is None  # over the slow endpoint's cap: not sent, the caller defers it
    holder.join()
    assert transport.busy_endpoint_keys() == []


def test_an_endpoint_that_answered_slowly_stays_capped_after_its_requests_finish(receiver, settings):
    """Otherwise a dead endpoint would look fast again each time its requests time out,
    and take a fresh burst of the sending pool."""
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    settings.WEBHOOK_MAX_IN_FLIGHT_PER_ENDPOINT = 1
    settings.WEBHOOK_SLOW_REQUEST_SECONDS = 0.2
    receiver.script("/sluggish", [Reply(status=200, delay=0.4)])
    request = transport.OutgoingRequest(receiver.url("/sluggish"), b"{}", {}, "sluggish")
    assert send_and_wait([request])[0].response_status == 200  # slow answer: remembered
    assert transport.busy_endpoint_keys() == []  # nothing in flight
    first, second = send_and_wait([request, request])
    assert first is not None and second is None  # one in flight at most while it is slow
