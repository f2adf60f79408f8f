"""A receiver written against PagerDuty's v3 docs (tests/support/pagerduty_receiver.py),
served on 127.0.0.1, gets every delivery of a `pagerduty` endpoint through the worker's
own path: all five events, a private incident, a secret rotation and Send Test's ping."""

import json

import pytest

from incidents import services as incident_services
from incidents.models import Incident
from tests.support.pagerduty_receiver import PagerDutyReceiver
from webhooks.actions import endpoint_send_test
from webhooks.delivery.worker import deliveries_attempt
from webhooks.endpoints import endpoint_create, endpoint_rotate_secret
from webhooks.models import Delivery
from webhooks.tests.support import declare
from webhooks.transport.signing import generate_secret

pytestmark = pytest.mark.django_db


@pytest.fixture
def make_receiver():
    servers = []

    def make(secret: str) -> PagerDutyReceiver:
        servers.append(PagerDutyReceiver(secret))
        return servers[-1]

    yield make
    for server in servers:
        server.close()


def play_every_event(actor) -> tuple[Incident, Incident]:
    service = incident_services.service_create(name="API Gateway")
    incident = declare(actor, key="pd-1", severity="critical", service=service, assignee="ada@example.com")
    for transition in ("acknowledge", "escalate", "resolve", "reopen"):
        incident = getattr(incident_services, f"incident_{transition}")(incident=incident, actor=actor)
    private = declare(actor, key="pd-2", title="Customer data", visibility=Incident.Visibility.PRIVATE)
    return incident, private


def deliver_all() -> list[Delivery]:
    deliveries_attempt(delivery_ids=list(Delivery.objects.values_list("id", flat=True)))
    return list(Delivery.objects.select_related("event"))


def test_every_event_public_and_private_is_accepted(system_actor, make_receiver):
    secret = generate_secret()
    receiver = make_receiver(secret)
    endpoint = endpoint_create(name="pd", url=receiver.url, format="pagerduty", secret=secret)
    incident, private = play_every_event(system_actor)

    deliveries = deliver_all()

    assert len(deliveries) == 6
    assert {d.status for d in deliveries} == {Delivery.Status.SUCCEEDED}
    seen = receiver.seen
    assert len(seen) == 6
    assert sorted(entry["event_type"] for entry in seen) == sorted(
        ["incident.triggered"] * 2
        + ["incident.acknowledged", "incident.escalated", "incident.resolved", "incident.reopened"]
    )
    by_webhook_id = {d.webhook_id: d for d in deliveries}
    for entry in seen:
        delivery = by_webhook_id[entry["webhook_id"]]  # X-Webhook-Id is the delivery's webhook-id
        assert entry["subscription"] == endpoint.pk
        assert entry["event_id"] == delivery.event_id
        assert json.loads(delivery.sent_body)["event"]["event_type"] == entry["event_type"]
    public = {entry["event_type"]: entry for entry in seen if entry["incident_id"] == incident.pk}
    assert public["incident.triggered"]["status"] == "triggered"
    assert public["incident.acknowledged"]["status"] == "acknowledged"
    assert (public["incident.resolved"]["status"], public["incident.resolved"]["assignee"]) == ("resolved", None)
    assert public["incident.reopened"]["status"] == "triggered"
    for entry in public.values():
        assert (entry["urgency"], entry["priority"], entry["service"]) == ("high", "P1", "API Gateway")
        assert entry["title"] == "DB down"
    assert public["incident.escalated"]["assignee"] == "ada@example.com"
    (private_entry,) = [entry for entry in seen if entry["incident_id"] == private.pk]
    assert "title" not in private_entry  # to be fetched from `self`
    assert private_entry["self"].endswith(f"/api/v1/incidents/{private.pk}")


def test_during_a_rotation_receivers_with_either_secret_accept(system_actor, make_receiver):
    old, new = generate_secret(), generate_secret()
    old_receiver, new_receiver = make_receiver(old), make_receiver(new)
    for name, receiver in (("still-old", old_receiver), ("already-new", new_receiver)):
        endpoint = endpoint_create(name=name, url=receiver.url, format="pagerduty", secret=old)
        endpoint_rotate_secret(endpoint=endpoint, secret=new)

    declare(system_actor)
    deliveries = deliver_all()

    assert {d.status for d in deliveries} == {Delivery.Status.SUCCEEDED}
    assert len(old_receiver.seen) == len(new_receiver.seen) == 1


def test_a_receiver_refuses_another_secret(system_actor, make_receiver):
    receiver = make_receiver(generate_secret())
    endpoint_create(name="pd", url=receiver.url, format="pagerduty", secret=generate_secret())
    declare(system_actor)
    (delivery,) = deliver_all()
    assert delivery.attempts.get().response_status == 403
    assert receiver.seen == []


def test_send_test_delivers_pageys_ping(make_receiver):
    secret = generate_secret()
    receiver = make_receiver(secret)
    endpoint = endpoint_create(name="pd", url=receiver.url, format="pagerduty", secret=secret)

    attempt = endpoint_send_test(endpoint=endpoint)

    assert attempt.response_status == 204
    (ping,) = receiver.seen
    assert (ping["event_type"], ping["message"], ping["agent"]) == ("pagey.ping", "Hello from your friend Pagey!", None)
    assert ping["subscription"] == endpoint.pk
    assert Delivery.objects.get(is_test=True).message_type == "pagey.ping"
