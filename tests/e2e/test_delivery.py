"""A real worker, a real receiver, real PostgreSQL and Redis: what arrives, and when."""

import hashlib
import hmac
import json
import time

import pytest
from django.db import transaction
from standardwebhooks import Webhook

from incidents import services as incident_services
from incidents.models import Incident
from tests.support.receiver import Reply
from tests.support.waiting import declare, wait_until
from webhooks.endpoints import endpoint_create
from webhooks.models import Delivery, DeliveryAttempt, Event

pytestmark = pytest.mark.e2e

LIFECYCLE = ["acknowledge", "escalate", "resolve", "reopen"]
EVENT_ORDER = [
    "incident.triggered",
    "incident.acknowledged",
    "incident.escalated",
    "incident.resolved",
    "incident.reopened",
]


# Plain HTTP to 127.0.0.1, and HTTPS by name (alpha.opsknight.test on 127.0.0.2, a
# certificate from the test CA, which the worker trusts through WEBHOOK_CA_BUNDLE).
BOTH_RECEIVERS = pytest.mark.parametrize("receiver", ["http", "https"], indirect=True)


@BOTH_RECEIVERS
def test_each_lifecycle_event_arrives_signed_with_the_stored_bytes(e2e, receiver, api_client):
    endpoint = endpoint_create(name="ITSM", url=receiver.url("/itsm"))
    incident_id = declare(api_client)
    for action in LIFECYCLE:
        assert api_client.post(f"/api/v1/incidents/{incident_id}/{action}").status_code == 200

    got = receiver.wait_for(5, "/itsm")
    time.sleep(0.5)
    assert len(receiver.received("/itsm")) == 5

    by_type = {r.header("X-OpsKnight-Event"): r for r in got}
    assert sorted(by_type) == sorted(EVENT_ORDER)
    for event_type, request in by_type.items():
        event = Event.objects.get(type=event_type, incident_id=incident_id)
        delivery = Delivery.objects.get(event=event, endpoint=endpoint)
        # The exact stored bytes, with the design's headers.
        assert request.body == event.payload.encode()
        assert request.header("Content-Type") == "application/json"
        # Host and TLS server name are the URL's host on every request (None: plain HTTP).
        assert request.header("Host") == receiver.netloc()
        assert request.sni == receiver.name
        assert request.header("User-Agent").startswith("OpsKnight-Webhooks/")
        assert request.header("X-OpsKnight-Delivery") == delivery.id
        assert request.header("webhook-id") == event.id
        assert abs(int(request.header("webhook-timestamp")) - request.received_at) < 5
        # Both signatures: the library, unmodified, and an independent HMAC.
        assert Webhook(endpoint.secret).verify(request.body, request.headers)["id"] == event.id
        expected = hmac.new(endpoint.secret.encode(), request.body, hashlib.sha256).hexdigest()
        assert request.header("X-OpsKnight-Signature") == f"sha256={expected}"
        body = json.loads(request.body)
        assert body["event"] == event_type
        assert body["incident"]["id"] == incident_id
        assert delivery.__class__.objects.get(pk=delivery.pk).status == Delivery.Status.SUCCEEDED

    versions = {json.loads(r.body)["event"]: json.loads(r.body)["incident"]["version"] for r in got}
    assert [versions[t] for t in EVENT_ORDER] == [1, 2, 3, 4, 5]
    assert json.loads(by_type["incident.escalated"].body)["incident"]["escalationLevel"] == 1
    assert json.loads(by_type["incident.resolved"].body)["incident"]["status"] == "resolved"


def test_private_incident_payload_carries_only_id_and_visibility(e2e, receiver, api_client):
    endpoint_create(name="bot", url=receiver.url("/bot"))
    incident_id = declare(api_client, key="private-1", visibility="private", summary="customer data")
    (request,) = receiver.wait_for(1, "/bot")
    assert json.loads(request.body)["incident"] == {"id": incident_id, "visibility": "private"}


@BOTH_RECEIVERS
def test_retries_follow_the_schedule_then_succeed(e2e, receiver, api_client):
    receiver.script("/flaky", [500, 503, 500, 200])
    endpoint = endpoint_create(name="flaky", url=receiver.url("/flaky"))
    declare(api_client, key="retry-1")

    got = receiver.wait_for(4, "/flaky", timeout=20)
    offsets = [r.received_at - got[0].received_at for r in got]
    # WEBHOOK_RETRY_DELAYS=1,2,3 in the e2e worker: attempts at 0, 1, 3 and 6 s.
    for actual, expected in zip(offsets[1:], [1, 3, 6], strict=True):
        assert expected - 0.3 <= actual <= expected + 1.0, offsets
    assert len({r.header("webhook-id") for r in got}) == 1
    assert len({r.header("X-OpsKnight-Delivery") for r in got}) == 1
    assert {(r.header("Host"), r.sni) for r in got} == {(receiver.netloc(), receiver.name)}

    delivery = wait_until(lambda: Delivery.objects.filter(endpoint=endpoint, status="succeeded").first())
    assert delivery.attempt_count == 4
    outcomes = list(delivery.attempts.values_list("number", "response_status", "outcome"))
    assert outcomes == [(1, 500, "failed"), (2, 503, "failed"), (3, 500, "failed"), (4, 200, "succeeded")]


def test_after_the_last_retry_the_delivery_fails_with_four_attempts(e2e, receiver, api_client):
    receiver.script("/down", [500] * 10)
    endpoint = endpoint_create(name="down", url=receiver.url("/down"))
    declare(api_client, key="fail-1")

    receiver.wait_for(4, "/down", timeout=20)
    delivery = wait_until(lambda: Delivery.objects.filter(endpoint=endpoint, status="failed").first())
    assert delivery.attempt_count == 4
    assert delivery.attempts.count() == 4
    assert delivery.last_status_code == 500
    assert delivery.last_error == "HTTP 500"
    assert delivery.next_attempt_at is None and delivery.completed_at is not None
    time.sleep(1.5)
    assert len(receiver.received("/down")) == 4


def test_timeouts_and_refused_connections_are_retried(e2e, receiver, api_client):
    from tests.support.receiver import Receiver, free_port

    # A slow answer (past the 1 s read timeout), then success.
    receiver.script("/slow", [Reply(status=200, delay=2.0), 200])
    slow = endpoint_create(name="slow", url=receiver.url("/slow"))
    # Nothing listens on this port at first: connection refused, until a receiver starts there.
    port = free_port()
    refused = endpoint_create(name="refused", url=f"http://127.0.0.1:{port}/late")
    declare(api_client, key="timeouts-1")

    first = wait_until(lambda: DeliveryAttempt.objects.filter(delivery__endpoint=refused).first())
    assert first.outcome == "failed"
    assert first.error_class == "ConnectionError"
    assert "refused" in first.error_message.lower()
    late = Receiver(port=port)
    try:
        late.wait_for(1, "/late", timeout=10)
        wait_until(lambda: Delivery.objects.filter(endpoint=refused, status="succeeded").exists())
    finally:
        late.close()

    delivery = wait_until(lambda: Delivery.objects.filter(endpoint=slow, status="succeeded").first())
    attempts = list(delivery.attempts.order_by("number"))
    assert attempts[0].error_class in ("ReadTimeout", "Timeout", "ConnectionError")
    assert attempts[0].error_message == "The receiver did not answer in time."
    assert attempts[-1].response_status == 200


def test_a_redirect_is_a_failure_and_is_not_followed(e2e, receiver, api_client):
    receiver.script("/moved", [Reply(status=302, headers={"Location": receiver.url("/elsewhere")})] * 4)
    endpoint = endpoint_create(name="moved", url=receiver.url("/moved"))
    declare(api_client, key="redirect-1")

    attempt = wait_until(lambda: DeliveryAttempt.objects.filter(delivery__endpoint=endpoint).first())
    assert attempt.outcome == "failed"
    assert attempt.response_status == 302
    assert Delivery.objects.get(endpoint=endpoint).last_error == "HTTP 302 (redirects are not followed)"
    assert receiver.received("/elsewhere") == []


def test_event_type_filter_and_inactive_endpoints(e2e, receiver, api_client):
    endpoint_create(name="resolved only", url=receiver.url("/resolved"), event_types=["incident.resolved"])
    endpoint_create(name="everything", url=receiver.url("/all"))
    endpoint_create(name="off", url=receiver.url("/off"), is_active=False)
    incident_id = declare(api_client, key="filter-1")
    api_client.post(f"/api/v1/incidents/{incident_id}/resolve")

    receiver.wait_for(2, "/all")
    (resolved,) = receiver.wait_for(1, "/resolved")
    assert resolved.header("X-OpsKnight-Event") == "incident.resolved"
    time.sleep(1.0)
    assert len(receiver.received("/resolved")) == 1
    assert receiver.received("/off") == []


def test_a_rolled_back_change_sends_nothing(e2e, receiver, system_actor):
    endpoint_create(name="any", url=receiver.url("/tx"))

    class Abort(Exception):
        pass

    with pytest.raises(Abort), transaction.atomic():
        incident_services.incident_create(title="never happened", idempotency_key="rolled-back", actor=system_actor)
        raise Abort
    # A committed incident afterwards arrives: by then the rolled-back one would have too.
    incident_services.incident_create(title="real", idempotency_key="committed", actor=system_actor)
    (request,) = receiver.wait_for(1, "/tx")
    assert json.loads(request.body)["incident"]["title"] == "real"
    time.sleep(1.0)
    assert len(receiver.received("/tx")) == 1
    assert not Incident.objects.filter(idempotency_key="rolled-back").exists()
    assert Event.objects.count() == 1


def test_send_test_and_redeliver_through_the_api(e2e, receiver, api_client):
    receiver.script("/t", [Reply(status=201, body=b'{"received": true}')])
    endpoint = endpoint_create(name="t", url=receiver.url("/t"))

    response = api_client.post(
        f"/api/v1/webhooks/{endpoint.id}/test", {"event_type": "incident.resolved"}, format="json"
    )
    assert response.status_code == 200, response.content
    outcome = response.json()
    assert outcome["succeeded"] is True
    assert outcome["status_code"] == 201
    assert outcome["response_body_excerpt"] == '{"received": true}'
    assert outcome["error"] is None
    (test_request,) = receiver.received("/t")
    assert Webhook(endpoint.secret).verify(test_request.body, test_request.headers)["event"] == "incident.resolved"
    delivery = Delivery.objects.get(pk=outcome["delivery_id"])
    assert delivery.is_test and delivery.status == "succeeded" and delivery.attempts.count() == 1

    response = api_client.post(f"/api/v1/deliveries/{delivery.id}/redeliver")
    assert response.status_code == 202
    again = receiver.wait_for(2, "/t")[1]
    assert again.body == test_request.body
    assert again.header("webhook-id") == test_request.header("webhook-id")
    assert again.header("X-OpsKnight-Delivery") == response.json()["id"] != delivery.id


def test_deliveries_survive_a_redis_flush(e2e, receiver, api_client):
    """Messages lost from Redis (here: FLUSHALL while the workers are paused) only delay
    deliveries: the dispatcher finds them in the database and sends them."""
    import os
    import signal

    import redis
    from django.conf import settings

    endpoint_create(name="flush", url=receiver.url("/flush"))
    for worker in e2e.workers:
        os.kill(worker.pid, signal.SIGSTOP)
    try:
        ids = [declare(api_client, key=f"flush-{n}") for n in range(5)]
        client = redis.Redis.from_url(settings.REDIS_URL)
        # Each paused worker's pending BRPOP may already hold one message in its socket;
        # the others wait in Redis...
        assert client.llen("celery") >= 5 - len(e2e.workers)
        client.flushall()  # ...and now they are gone
        assert client.llen("celery") == 0
    finally:
        for worker in e2e.workers:
            os.kill(worker.pid, signal.SIGCONT)

    got = receiver.wait_for(5, "/flush", timeout=20)
    assert sorted(json.loads(r.body)["incident"]["id"] for r in got) == sorted(ids)
    wait_until(lambda: Delivery.objects.filter(status="succeeded").count() == 5)
