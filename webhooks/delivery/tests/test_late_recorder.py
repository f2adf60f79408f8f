"""A worker's batch does not wait on a hanging receiver: requests still in flight after
WEBHOOK_SLOW_REQUEST_SECONDS are recorded later by the process's late recorder, on its
own database connection, and the task thread is free at once."""

import time

import pytest

from incidents import services as incident_services
from tests.support.receiver import Reply
from tests.support.waiting import wait_until
from webhooks.delivery.worker import deliveries_attempt
from webhooks.endpoints import endpoint_create
from webhooks.models import Delivery, DeliveryAttempt

# The late recorder writes on its own connection: the rows must be committed.
pytestmark = pytest.mark.django_db(transaction=True)


def test_a_batch_records_fast_answers_now_and_a_hanging_one_when_it_ends(receiver, system_actor, settings):
    settings.WEBHOOK_SLOW_REQUEST_SECONDS = 0.3
    settings.WEBHOOK_READ_TIMEOUT = 5.0
    receiver.script("/slow", [Reply(status=200, delay=1.5)])
    fast = endpoint_create(name="fast", url=receiver.url("/fast"))
    slow = endpoint_create(name="slow", url=receiver.url("/slow"))
    incident_services.incident_create(title="t", idempotency_key="late-1", actor=system_actor)
    ids = list(Delivery.objects.values_list("id", flat=True))
    assert len(ids) == 2

    started = time.monotonic()
    attempts = deliveries_attempt(delivery_ids=ids, record_slow_later=True)
    waited = time.monotonic() - started

    assert waited < 1.2  # not the slow receiver's 1.5 s
    assert [attempt.delivery.endpoint_id for attempt in attempts] == [fast.id]
    assert Delivery.objects.get(endpoint=fast).status == "succeeded"
    hanging = Delivery.objects.get(endpoint=slow)
    assert hanging.status == "pending" and hanging.locked_until is not None  # still leased, not sent again
    assert not DeliveryAttempt.objects.filter(delivery=hanging).exists()

    recorded = wait_until(lambda: DeliveryAttempt.objects.filter(delivery=hanging).first(), timeout=5)
    assert recorded.response_status == 200 and recorded.duration_ms >= 1500 and recorded.number == 1
    hanging.refresh_from_db()
    assert hanging.status == "succeeded" and hanging.locked_until is None
    assert len(receiver.received("/slow")) == 1


def test_a_hanging_receiver_that_times_out_is_recorded_later_as_a_failure_with_its_retry(
    receiver, system_actor, settings
):
    settings.WEBHOOK_SLOW_REQUEST_SECONDS = 0.2
    settings.WEBHOOK_READ_TIMEOUT = 0.8
    receiver.script("/hang", [Reply(status=200, delay=3)])
    endpoint = endpoint_create(name="hang", url=receiver.url("/hang"))
    incident_services.incident_create(title="t", idempotency_key="late-2", actor=system_actor)
    (delivery_id,) = Delivery.objects.filter(endpoint=endpoint).values_list("id", flat=True)

    assert deliveries_attempt(delivery_ids=[delivery_id], record_slow_later=True) == []

    recorded = wait_until(lambda: DeliveryAttempt.objects.filter(delivery_id=delivery_id).first(), timeout=5)
    assert recorded.outcome == "failed" and recorded.error_class == "ReadTimeout"
    delivery = Delivery.objects.get(pk=delivery_id)
    assert delivery.status == "pending" and delivery.attempt_count == 1 and delivery.next_attempt_at is not None


def test_without_record_slow_later_the_caller_gets_every_attempt(receiver, system_actor, settings):
    """Send Test, the API and the admin need the outcome: they wait, as before."""
    settings.WEBHOOK_SLOW_REQUEST_SECONDS = 0.2
    receiver.script("/waited", [Reply(status=200, delay=0.6)])
    endpoint = endpoint_create(name="waited", url=receiver.url("/waited"))
    incident_services.incident_create(title="t", idempotency_key="late-3", actor=system_actor)
    ids = list(Delivery.objects.filter(endpoint=endpoint).values_list("id", flat=True))
    (attempt,) = deliveries_attempt(delivery_ids=ids)
    assert attempt.response_status == 200 and attempt.duration_ms >= 600
