"""Deliveries of ed25519 endpoints through the worker's own path
(`webhooks.delivery.worker.deliveries_attempt`), in process, to a real receiver on
127.0.0.1 that trusts public keys only (tests/support/v1a_receiver.py): it answers 401 to
anything it cannot verify, so a delivery succeeds only if its `v1a` signature verified."""

from datetime import timedelta

import pytest
from django.utils import timezone
from standardwebhooks import Webhook

from tests.support.v1a_receiver import V1aReceiver
from webhooks.delivery.worker import deliveries_attempt
from webhooks.endpoint_signing import endpoint_rotate_signing_key
from webhooks.endpoints import endpoint_create, endpoint_update
from webhooks.models import Delivery, WebhookEndpoint
from webhooks.tests.support import declare
from webhooks.transport import signing

pytestmark = pytest.mark.django_db


@pytest.fixture
def make_receiver():
    servers = []

    def make(public_keys: list[str]) -> V1aReceiver:
        servers.append(V1aReceiver(public_keys))
        return servers[-1]

    yield make
    for server in servers:
        server.close()


def deliver(endpoint: WebhookEndpoint) -> list[Delivery]:
    """Attempt the endpoint's new deliveries once, through the worker."""
    pending = list(endpoint.deliveries.filter(attempt_count=0).values_list("id", flat=True))
    deliveries_attempt(delivery_ids=pending)
    return list(endpoint.deliveries.filter(pk__in=pending).order_by("created_at"))


def point_at(endpoint: WebhookEndpoint, receiver: V1aReceiver) -> WebhookEndpoint:
    return endpoint_update(endpoint=endpoint, url=receiver.url)


def test_an_ed25519_endpoint_is_verified_with_its_public_key_alone(system_actor, make_receiver):
    endpoint = endpoint_create(name="pk", url="http://127.0.0.1:9/", signing="ed25519")
    receiver = make_receiver([endpoint.public_key])
    point_at(endpoint, receiver)
    incident = declare(system_actor)

    (delivery,) = deliver(endpoint)

    assert delivery.status == Delivery.Status.SUCCEEDED and delivery.last_status_code == 204
    (seen,) = receiver.seen
    assert seen["event"]["id"] == delivery.event_id and seen["event"]["incident"]["id"] == incident.id
    headers = {name.lower(): value for name, value in seen["headers"].items()}
    assert "x-opsknight-signature" not in headers
    assert headers["webhook-signature"].startswith("v1a,") and " " not in headers["webhook-signature"]


def test_a_receiver_trusting_another_key_refuses_it(system_actor, make_receiver):
    endpoint = endpoint_create(name="pk", url="http://127.0.0.1:9/", signing="ed25519")
    receiver = make_receiver([signing.generate_key_pair()[1]])
    point_at(endpoint, receiver)
    declare(system_actor)

    (delivery,) = deliver(endpoint)

    assert delivery.status == Delivery.Status.PENDING and delivery.last_status_code == 401
    assert receiver.seen == [] and len(receiver.refused) == 1


def test_during_a_key_rotation_old_and_new_public_keys_verify_then_only_the_new(system_actor, make_receiver, settings):
    settings.WEBHOOK_SECRET_ROTATION_OVERLAP = 3600
    endpoint = endpoint_create(name="pk", url="http://127.0.0.1:9/", signing="ed25519")
    old_public = endpoint.public_key
    endpoint = endpoint_rotate_signing_key(endpoint=endpoint)
    old_only, new_only = make_receiver([old_public]), make_receiver([endpoint.public_key])

    # In the overlap: a receiver not yet given the new key still verifies.
    for number, receiver in enumerate([old_only, new_only], start=1):
        endpoint = point_at(endpoint, receiver)
        declare(system_actor, key=f"overlap-{number}")
        (delivery,) = deliver(endpoint)
        assert delivery.status == Delivery.Status.SUCCEEDED, receiver.refused
        assert len(receiver.seen) == 1

    # After it: only the new key's signature is sent.
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(previous_key_expires_at=timezone.now() - timedelta(seconds=1))
    for number, (receiver, status) in enumerate([(old_only, 401), (new_only, 204)], start=1):
        endpoint = point_at(WebhookEndpoint.objects.get(pk=endpoint.pk), receiver)
        declare(system_actor, key=f"after-{number}")
        (delivery,) = deliver(endpoint)
        assert delivery.last_status_code == status


def test_both_verifies_with_the_public_key_and_with_the_secret(system_actor, make_receiver):
    """A receiver moving from v1 to v1a: the same request verifies both ways."""
    endpoint = endpoint_create(name="pk", url="http://127.0.0.1:9/", signing="both")
    receiver = make_receiver([endpoint.public_key])
    point_at(endpoint, receiver)
    declare(system_actor)

    (delivery,) = deliver(endpoint)

    assert delivery.status == Delivery.Status.SUCCEEDED
    (seen,) = receiver.seen
    headers = {name.lower(): value for name, value in seen["headers"].items()}
    assert [entry.split(",")[0] for entry in headers["webhook-signature"].split(" ")] == ["v1", "v1a"]
    body = delivery.event.payload.encode()
    assert Webhook(endpoint.secret).verify(body, headers)["id"] == delivery.event_id
    assert headers["x-opsknight-signature"] == signing.opsknight_signature(secret=endpoint.secret, body=body)
