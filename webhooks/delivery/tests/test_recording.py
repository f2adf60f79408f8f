"""Recording a batch of attempts never fails because of one answer: the others are
recorded, and the odd one is recorded without the receiver's answer. Send Test leaves no
delivery a worker would send again, even if its process dies mid-send."""

from datetime import timedelta

import pytest
from django.utils import timezone

from incidents import services as incident_services
from webhooks import transport
from webhooks.actions import endpoint_send_test
from webhooks.delivery import recording, worker
from webhooks.delivery.dispatcher import deliveries_dispatch_due
from webhooks.endpoints import endpoint_create
from webhooks.models import Delivery, DeliveryAttempt
from webhooks.tests.support import delivery_attempt

pytestmark = pytest.mark.django_db


def result(status=200, **fields) -> transport.AttemptResult:
    return transport.AttemptResult(
        started_at=timezone.now(), duration_ms=3, request_headers={"X-A": "1"}, response_status=status, **fields
    )


def test_one_unstorable_answer_does_not_stop_the_rest_of_the_batch(system_actor, receiver):
    healthy = endpoint_create(name="healthy", url=receiver.url("/ok"))
    odd = endpoint_create(name="odd", url=receiver.url("/odd"))
    incident_services.incident_create(title="x", idempotency_key="k", actor=system_actor)
    deliveries = {d.endpoint_id: d for d in Delivery.objects.select_related("event", "endpoint")}
    for delivery in deliveries.values():
        delivery.attempt_count = 1
    # Bypassing the transport's cleaning: NUL cannot be stored in PostgreSQL text or JSON.
    unstorable = result(500, response_headers={"X-Bad": "a\x00b"}, response_body_excerpt="x\x00")

    attempts = recording.record_attempts(
        [(deliveries[healthy.pk], result(200), False), (deliveries[odd.pk], unstorable, False)]
    )

    assert len(attempts) == 2
    assert Delivery.objects.get(endpoint=healthy).status == Delivery.Status.SUCCEEDED
    odd_delivery = Delivery.objects.get(endpoint=odd)
    assert odd_delivery.status == Delivery.Status.PENDING and odd_delivery.locked_until is None  # its retry is due
    (recorded,) = DeliveryAttempt.objects.filter(delivery__endpoint=odd)
    assert recorded.response_status == 500 and recorded.outcome == "failed"
    assert recorded.response_headers == {} and recorded.response_body_excerpt == ""
    assert "could not be stored" in recorded.error_message


def test_a_successful_attempt_whose_answer_cannot_be_stored_still_counts_as_succeeded(receiver):
    endpoint = endpoint_create(name="ok", url=receiver.url("/ok"))
    attempt = endpoint_send_test(endpoint=endpoint)
    delivery = Delivery.objects.select_related("event", "endpoint").get(pk=attempt.delivery_id)

    (recorded,) = recording.record_attempts([(delivery, result(204, response_body_excerpt="\x00"), True)])

    assert recorded.outcome == "succeeded" and recorded.error_class == ""


def test_send_test_leaves_nothing_a_worker_or_the_dispatcher_would_send_again(receiver, monkeypatch):
    """Even with its lease run out (its process died mid-send), a test delivery is not due."""
    endpoint = endpoint_create(name="t", url=receiver.url("/t"))
    Delivery.objects.all().delete()
    created = []

    def die_before_sending(deliveries, **kwargs):
        created.extend(deliveries)
        raise SystemExit("the process died mid-send")

    monkeypatch.setattr(worker, "send_and_record", die_before_sending)
    with pytest.raises(SystemExit):
        endpoint_send_test(endpoint=endpoint)
    (delivery,) = created
    Delivery.objects.filter(pk=delivery.pk).update(locked_until=timezone.now() - timedelta(seconds=1))

    assert delivery_attempt(delivery_id=delivery.pk) is None
    assert deliveries_dispatch_due() == 0
    assert receiver.received("/t") == []
