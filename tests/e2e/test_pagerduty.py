"""The `pagerduty` format end to end: real Celery workers deliver every lifecycle event
of a public and a private incident, and Send Test's ping, to a receiver written against
PagerDuty's v3 docs (tests/support/pagerduty_receiver.py) on 127.0.0.1."""

import json

import pytest

from tests.support.pagerduty_receiver import PagerDutyReceiver
from tests.support.waiting import declare, wait_until
from webhooks.actions import endpoint_send_test
from webhooks.endpoints import endpoint_create, endpoint_rotate_secret
from webhooks.models import Delivery
from webhooks.transport.signing import generate_secret

pytestmark = pytest.mark.e2e

EVENTS = ["incident.triggered", "incident.acknowledged", "incident.escalated", "incident.resolved", "incident.reopened"]


@pytest.fixture
def make_receiver():
    servers = []

    def make(secret: str) -> PagerDutyReceiver:
        servers.append(PagerDutyReceiver(secret))
        return servers[-1]

    yield make
    for server in servers:
        server.close()


def test_a_pagerduty_receiver_accepts_every_delivery(e2e, api_client, make_receiver):
    old, new = generate_secret(), generate_secret()
    receiver, rotated_receiver = make_receiver(old), make_receiver(new)
    endpoint = endpoint_create(name="pd", url=receiver.url, format="pagerduty", secret=old)
    rotated = endpoint_create(name="pd-rotated", url=rotated_receiver.url, format="pagerduty", secret=old)
    endpoint_rotate_secret(endpoint=rotated, secret=new)  # signs with both: each receiver knows one
    service = api_client.post("/api/v1/services", {"name": "API Gateway"}, format="json").json()

    incident_id = declare(
        api_client, "pd-e2e-1", severity="medium", service_id=service["id"], assignee="ada@example.com"
    )
    for action in ("acknowledge", "escalate", "resolve", "reopen"):
        assert api_client.post(f"/api/v1/incidents/{incident_id}/{action}").status_code == 200
    private_id = declare(api_client, "pd-e2e-2", visibility="private")

    for server in (receiver, rotated_receiver):
        seen = wait_until(lambda server=server: len(server.seen) >= 6 and server.seen)
        assert len(seen) == 6
        public = [entry for entry in seen if entry["incident_id"] == incident_id]
        assert sorted(entry["event_type"] for entry in public) == sorted(EVENTS)
        for entry in public:
            assert (entry["urgency"], entry["priority"], entry["service"]) == ("low", "P3", "API Gateway")
        (private,) = [entry for entry in seen if entry["incident_id"] == private_id]
        assert private["event_type"] == "incident.triggered"
    assert wait_until(
        lambda: (
            Delivery.objects.filter(status=Delivery.Status.SUCCEEDED).count() == 12
            and not Delivery.objects.exclude(status=Delivery.Status.SUCCEEDED).exists()
        )
    )
    for delivery in Delivery.objects.filter(endpoint=endpoint):
        assert json.loads(delivery.sent_body)["event"]["id"] == delivery.event_id

    attempt = endpoint_send_test(endpoint=endpoint)
    assert attempt.response_status == 204
    assert receiver.seen[-1]["event_type"] == "pagey.ping"
