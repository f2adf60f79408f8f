"""Operator actions in-process: Send Test, redeliver, replay."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from standardwebhooks import Webhook

from incidents import services as incident_services
from tests.support.receiver import Reply
from webhooks.actions import delivery_redeliver, endpoint_replay, endpoint_send_test
from webhooks.delivery.dispatcher import deliveries_dispatch_due
from webhooks.endpoints import endpoint_create
from webhooks.models import Delivery, DeliveryAttempt, Event
from webhooks.tests.support import Z_TIMESTAMP, declare, delivery_attempt, make_due, only_delivery

pytestmark = pytest.mark.django_db


def test_send_test_logs_one_test_attempt(receiver):
    receiver.script("/t", [Reply(status=200, body=b"got it")])
    endpoint = endpoint_create(name="t", url=receiver.url("/t"))

    attempt = endpoint_send_test(endpoint=endpoint, event_type="incident.acknowledged")

    assert attempt.outcome == DeliveryAttempt.Outcome.SUCCEEDED
    assert attempt.response_status == 200 and attempt.response_body_excerpt == "got it"
    delivery = Delivery.objects.get(pk=attempt.delivery_id)
    assert delivery.is_test and delivery.event.is_test
    assert delivery.origin == Delivery.Origin.TEST
    assert delivery.status == Delivery.Status.SUCCEEDED and delivery.attempt_count == 1
    assert delivery.attempts.count() == 1
    assert delivery.event.incident_id is None
    (request,) = receiver.wait_for(1, "/t")
    body = Webhook(endpoint.secret).verify(request.body, request.headers)
    assert body["event"] == "incident.acknowledged"
    assert body["incident"]["status"] == "acknowledged"
    assert Z_TIMESTAMP.match(body["timestamp"])


def test_send_test_never_retries_a_failure(receiver, settings):
    settings.WEBHOOK_RETRY_DELAYS = [10, 20, 30]
    receiver.script("/t", [500, 200])
    endpoint = endpoint_create(name="t", url=receiver.url("/t"))

    attempt = endpoint_send_test(endpoint=endpoint)

    assert attempt.outcome == DeliveryAttempt.Outcome.FAILED and attempt.response_status == 500
    delivery = Delivery.objects.get(pk=attempt.delivery_id)
    assert delivery.status == Delivery.Status.FAILED
    assert delivery.attempt_count == 1 and delivery.attempts.count() == 1
    assert delivery.next_attempt_at is None and delivery.completed_at is not None
    assert delivery.last_error == "HTTP 500"
    # Neither a worker nor the dispatcher picks it up again.
    make_due(delivery)
    assert delivery_attempt(delivery_id=delivery.id) is None
    assert deliveries_dispatch_due() == 0
    assert len(receiver.wait_for(1, "/t")) == 1


def test_send_test_refuses_an_unknown_event_type(receiver):
    endpoint = endpoint_create(name="t", url=receiver.url("/t"))
    with pytest.raises(ValidationError):
        endpoint_send_test(endpoint=endpoint, event_type="incident.exploded")
    assert not Event.objects.exists()
    assert receiver.received() == []


def test_redeliver_creates_a_new_pending_delivery_of_the_same_event(system_actor, receiver):
    receiver.script("/r", [500, 200])
    endpoint = endpoint_create(name="r", url=receiver.url("/r"))
    declare(system_actor)
    original = only_delivery(endpoint)
    Delivery.objects.filter(pk=original.pk).update(status=Delivery.Status.FAILED, next_attempt_at=None)
    original.refresh_from_db()

    again = delivery_redeliver(delivery=original)

    assert again.id != original.id and again.id.startswith("dlv_")
    again = Delivery.objects.get(pk=again.pk)
    assert again.event_id == original.event_id and again.endpoint_id == endpoint.id
    assert again.status == Delivery.Status.PENDING and again.attempt_count == 0
    assert again.origin == Delivery.Origin.REDELIVER
    assert Delivery.objects.get(pk=original.pk).status == Delivery.Status.FAILED
    # It goes out with the same body and the same webhook-id.
    delivery_attempt(delivery_id=again.id)
    (request,) = receiver.wait_for(1, "/r")
    assert request.body == original.event.payload.encode()
    assert request.header("webhook-id") == original.event_id
    assert request.header("X-OpsKnight-Delivery") == again.id


def test_redelivering_a_test_delivery_stays_a_test(receiver):
    endpoint = endpoint_create(name="t", url=receiver.url("/t"))
    attempt = endpoint_send_test(endpoint=endpoint)
    again = delivery_redeliver(delivery=attempt.delivery)
    again = Delivery.objects.get(pk=again.pk)
    assert again.is_test is True and again.origin == Delivery.Origin.REDELIVER
    # Out of the "real deliveries" view of the log.
    assert not Delivery.objects.filter(endpoint=endpoint, is_test=False).exists()


def test_replay_creates_deliveries_for_real_subscribed_events_since(system_actor, receiver):
    everything = endpoint_create(name="all", url=receiver.url("/all"))
    resolved_only = endpoint_create(name="resolved", url=receiver.url("/resolved"), event_types=["incident.resolved"])
    old = declare(system_actor, key="old")
    Event.objects.filter(incident=old).update(created_at=timezone.now() - timedelta(days=2))
    incident = declare(system_actor, key="new")
    incident_services.incident_resolve(incident=incident, actor=system_actor)
    endpoint_send_test(endpoint=everything)  # a test event: never replayed
    since = timezone.now() - timedelta(hours=1)
    before = set(Delivery.objects.values_list("id", flat=True))

    assert endpoint_replay(endpoint=everything, since=since) == 2
    assert endpoint_replay(endpoint=resolved_only, since=since) == 1

    replayed = Delivery.objects.exclude(id__in=before)
    assert replayed.count() == 3
    assert all(d.origin == Delivery.Origin.REPLAY and d.status == Delivery.Status.PENDING for d in replayed)
    assert all(not d.is_test for d in replayed)
    assert sorted(replayed.filter(endpoint=everything).values_list("event__type", flat=True)) == [
        "incident.resolved",
        "incident.triggered",
    ]
    assert set(replayed.filter(endpoint=everything).values_list("event__incident_id", flat=True)) == {incident.id}
    (only,) = replayed.filter(endpoint=resolved_only)
    assert only.event.type == "incident.resolved"
    # Nothing since a moment in the future.
    assert endpoint_replay(endpoint=everything, since=timezone.now() + timedelta(minutes=1)) == 0
