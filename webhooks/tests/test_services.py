"""Webhook services in-process: the outbox, one attempt at a time, the dispatcher and the
operator actions. No worker here: each test calls the services itself and the HTTP goes
to a real receiver on 127.0.0.1 (`django_db` tests never run on_commit, so nothing is
enqueued by the outbox)."""

import json
import re
from datetime import UTC, timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from standardwebhooks import Webhook

from incidents import services as incident_services
from incidents.models import Incident, Service
from tests.support.receiver import Reply
from webhooks import services
from webhooks.models import Delivery, DeliveryAttempt, Event, WebhookEndpoint
from webhooks.targets import TargetRefused, validate_url_shape

pytestmark = pytest.mark.django_db

Z_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def z(moment) -> str | None:
    """ISO 8601 UTC with `Z`, to the millisecond, computed independently of webhooks.payloads."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def declare(actor, key="k1", **fields) -> Incident:
    incident, created = incident_services.incident_create(
        title=fields.pop("title", "DB down"), idempotency_key=key, actor=actor, **fields
    )
    assert created
    return incident


def only_delivery(endpoint) -> Delivery:
    (delivery,) = Delivery.objects.filter(endpoint=endpoint)
    return delivery


def reload(endpoint: WebhookEndpoint) -> WebhookEndpoint:
    return WebhookEndpoint.objects.get(pk=endpoint.pk)


def make_due(delivery: Delivery) -> None:
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))


# --- The outbox ----------------------------------------------------------------------


def test_each_change_writes_one_event_with_the_exact_payload(system_actor):
    service = Service.objects.create(name="API Gateway")
    incident = declare(system_actor, service=service, severity="critical", assignee="ops@example.com")
    incident = incident_services.incident_acknowledge(incident=incident, actor=system_actor)
    incident = incident_services.incident_escalate(incident=incident, actor=system_actor)
    incident = incident_services.incident_resolve(incident=incident, actor=system_actor)
    incident_services.external_link_add(
        incident=incident, system="jira", key="OPS-123", url="https://jira.example.com/browse/OPS-123"
    )
    incident = incident_services.incident_reopen(incident=incident, actor=system_actor)

    events = list(Event.objects.filter(incident=incident).order_by("created_at", "id"))
    assert [e.type for e in events] == [
        "incident.triggered",
        "incident.acknowledged",
        "incident.escalated",
        "incident.resolved",
        "incident.reopened",
    ]
    assert [json.loads(e.payload)["incident"]["version"] for e in events] == [1, 2, 3, 4, 5]
    assert all(not e.is_test and e.incident_event_id for e in events)

    # The last event's body, byte for byte: compact JSON, camelCase, `Z` timestamps.
    incident.refresh_from_db()
    last = events[-1]
    expected = {
        "id": last.id,
        "event": "incident.reopened",
        "timestamp": z(last.incident_event.occurred_at),
        "incident": {
            "id": incident.id,
            "title": "DB down",
            "summary": "",
            "status": "triggered",
            "severity": "critical",
            "service": {"id": service.id, "name": "API Gateway"},
            "assignee": "ops@example.com",
            "createdAt": z(incident.created_at),
            "updatedAt": z(incident.updated_at),
            "acknowledgedAt": None,
            "resolvedAt": None,
            "escalationLevel": 1,
            "version": 5,
            "visibility": "public",
            "externalLinks": [{"system": "jira", "key": "OPS-123", "url": "https://jira.example.com/browse/OPS-123"}],
        },
    }
    assert last.payload == json.dumps(expected, separators=(",", ":"), ensure_ascii=False)
    assert last.id.startswith("evt_")
    for event in events:
        body = json.loads(event.payload)
        assert body["id"] == event.id
        assert Z_TIMESTAMP.match(body["timestamp"]), body["timestamp"]
        assert Z_TIMESTAMP.match(body["incident"]["createdAt"])
        assert Z_TIMESTAMP.match(body["incident"]["updatedAt"])
    acknowledged = json.loads(events[1].payload)["incident"]
    assert acknowledged["status"] == "acknowledged"
    assert Z_TIMESTAMP.match(acknowledged["acknowledgedAt"])
    assert json.loads(events[3].payload)["incident"]["resolvedAt"] is not None


def test_unassigned_incident_without_service_has_nulls(system_actor):
    incident = declare(system_actor)
    body = json.loads(Event.objects.get(incident=incident).payload)
    assert body["incident"]["assignee"] is None
    assert body["incident"]["service"] is None
    assert body["incident"]["escalationLevel"] == 0


def test_private_incident_payload_carries_only_id_and_visibility(system_actor):
    incident = declare(system_actor, visibility="private", summary="customer data", title="secret title")
    event = Event.objects.get(incident=incident)
    assert json.loads(event.payload)["incident"] == {"id": incident.id, "visibility": "private"}
    assert "secret title" not in event.payload and "customer data" not in event.payload


def test_one_delivery_per_active_subscribed_endpoint(system_actor, receiver):
    everything = services.endpoint_create(name="all", url=receiver.url("/all"))
    resolved_only = services.endpoint_create(
        name="resolved", url=receiver.url("/resolved"), event_types=["incident.resolved"]
    )
    two_types = services.endpoint_create(
        name="two", url=receiver.url("/two"), event_types=["incident.triggered", "incident.resolved"]
    )
    services.endpoint_create(name="off", url=receiver.url("/off"), is_active=False)

    incident = declare(system_actor)
    triggered = Event.objects.get(incident=incident, type="incident.triggered")
    assert set(triggered.deliveries.values_list("endpoint_id", flat=True)) == {everything.id, two_types.id}

    incident_services.incident_acknowledge(incident=incident, actor=system_actor)
    acknowledged = Event.objects.get(incident=incident, type="incident.acknowledged")
    assert set(acknowledged.deliveries.values_list("endpoint_id", flat=True)) == {everything.id}

    incident_services.incident_resolve(incident=incident, actor=system_actor)
    resolved = Event.objects.get(incident=incident, type="incident.resolved")
    assert set(resolved.deliveries.values_list("endpoint_id", flat=True)) == {
        everything.id,
        resolved_only.id,
        two_types.id,
    }
    for delivery in Delivery.objects.all():
        assert delivery.status == Delivery.Status.PENDING
        assert delivery.origin == Delivery.Origin.EVENT
        assert delivery.attempt_count == 0 and not delivery.is_test
        assert delivery.next_attempt_at is not None and delivery.next_attempt_at <= timezone.now()
    assert Delivery.objects.count() == 6
    assert receiver.received() == []  # nothing is sent in the transaction


def test_refused_transition_writes_no_event(system_actor, receiver):
    services.endpoint_create(name="all", url=receiver.url("/all"))
    incident = declare(system_actor)
    with pytest.raises(incident_services.InvalidTransition):
        incident_services.incident_reopen(incident=incident, actor=system_actor)
    assert Event.objects.count() == 1
    assert Delivery.objects.count() == 1


def test_no_endpoints_still_stores_the_event(system_actor):
    incident = declare(system_actor)
    event = Event.objects.get(incident=incident)
    assert event.type == "incident.triggered"
    assert event.deliveries.count() == 0


def test_a_rolled_back_change_leaves_no_event_and_no_delivery(system_actor, receiver):
    endpoint = services.endpoint_create(name="all", url=receiver.url("/all"))
    kept = declare(system_actor, key="kept")

    class Abort(Exception):
        pass

    with pytest.raises(Abort), transaction.atomic():
        declare(system_actor, key="rolled-back")
        incident_services.incident_acknowledge(incident=kept, actor=system_actor)
        assert Event.objects.count() == 3  # visible inside the transaction...
        assert Delivery.objects.count() == 3
        raise Abort

    # ...and gone with it, with the incident changes.
    assert not Incident.objects.filter(idempotency_key="rolled-back").exists()
    assert Incident.objects.get(pk=kept.pk).version == 1
    assert list(Event.objects.values_list("type", flat=True)) == ["incident.triggered"]
    assert Delivery.objects.filter(endpoint=endpoint).count() == 1


# --- One attempt ---------------------------------------------------------------------


def test_successful_attempt_marks_the_delivery_succeeded(system_actor, receiver):
    receiver.script("/ok", [Reply(status=202, body=b'{"thanks": true}')])
    endpoint = services.endpoint_create(name="ok", url=receiver.url("/ok"))
    declare(system_actor)
    delivery = only_delivery(endpoint)

    attempt = services.delivery_attempt(delivery_id=delivery.id)

    assert isinstance(attempt, DeliveryAttempt)
    assert attempt.number == 1
    assert attempt.outcome == DeliveryAttempt.Outcome.SUCCEEDED
    assert attempt.response_status == 202
    assert attempt.response_body_excerpt == '{"thanks": true}'
    assert attempt.error_class == "" and attempt.error_message == ""
    assert attempt.url == receiver.url("/ok")
    assert attempt.duration_ms >= 0
    (request,) = receiver.wait_for(1, "/ok")
    # The attempt log holds exactly the headers that went out.
    sent = attempt.request_headers
    for name in ["X-OpsKnight-Event", "X-OpsKnight-Delivery", "X-OpsKnight-Signature", "webhook-id"]:
        assert request.header(name) == sent[name], name
    assert sent["X-OpsKnight-Delivery"] == delivery.id
    assert sent["webhook-id"] == delivery.event_id
    assert sent["X-OpsKnight-Event"] == "incident.triggered"
    assert request.body == delivery.event.payload.encode()
    assert Webhook(endpoint.secret).verify(request.body, request.headers)["id"] == delivery.event_id

    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.SUCCEEDED
    assert delivery.attempt_count == 1
    assert delivery.completed_at is not None and delivery.next_attempt_at is None
    assert delivery.locked_until is None
    assert delivery.last_status_code == 202 and delivery.last_error == ""
    assert list(delivery.attempts.all()) == [attempt]

    # Succeeded: never sent again by the system.
    make_due(delivery)
    assert services.delivery_attempt(delivery_id=delivery.id) is None
    assert Delivery.objects.get(pk=delivery.pk).status == Delivery.Status.SUCCEEDED


def test_failures_follow_the_retry_schedule_then_fail(system_actor, receiver, settings):
    settings.WEBHOOK_RETRY_DELAYS = [10, 20, 30]
    receiver.script("/down", [500, 503, 500, 502, 200])
    endpoint = services.endpoint_create(name="down", url=receiver.url("/down"))
    declare(system_actor)
    delivery = only_delivery(endpoint)

    for number, (status, delay) in enumerate(zip([500, 503, 500], [10, 20, 30], strict=True), start=1):
        before = timezone.now()
        attempt = services.delivery_attempt(delivery_id=delivery.id)
        after = timezone.now()
        assert attempt.number == number
        assert attempt.outcome == DeliveryAttempt.Outcome.FAILED
        assert attempt.response_status == status
        delivery.refresh_from_db()
        assert delivery.status == Delivery.Status.PENDING
        assert delivery.attempt_count == number
        assert delivery.last_status_code == status and delivery.last_error == f"HTTP {status}"
        assert delivery.locked_until is None and delivery.completed_at is None
        assert before + timedelta(seconds=delay) <= delivery.next_attempt_at <= after + timedelta(seconds=delay)
        # Not due yet: a second call does nothing.
        assert services.delivery_attempt(delivery_id=delivery.id) is None
        make_due(delivery)

    last = services.delivery_attempt(delivery_id=delivery.id)
    assert last.number == 4 and last.response_status == 502
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.FAILED
    assert delivery.attempt_count == 4
    assert delivery.next_attempt_at is None and delivery.completed_at is not None
    assert delivery.last_error == "HTTP 502"
    assert list(delivery.attempts.values_list("number", "response_status", "outcome")) == [
        (1, 500, "failed"),
        (2, 503, "failed"),
        (3, 500, "failed"),
        (4, 502, "failed"),
    ]
    # Failed is final, even if the row looks due.
    make_due(delivery)
    assert services.delivery_attempt(delivery_id=delivery.id) is None
    assert len(receiver.wait_for(4, "/down")) == 4


def test_the_schedule_length_is_the_retry_count(system_actor, receiver, settings):
    settings.WEBHOOK_RETRY_DELAYS = [5]
    receiver.script("/down", [500, 500, 500])
    endpoint = services.endpoint_create(name="down", url=receiver.url("/down"))
    declare(system_actor)
    delivery = only_delivery(endpoint)
    services.delivery_attempt(delivery_id=delivery.id)
    assert Delivery.objects.get(pk=delivery.pk).status == Delivery.Status.PENDING
    make_due(delivery)
    services.delivery_attempt(delivery_id=delivery.id)
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.FAILED and delivery.attempt_count == 2


def test_a_redirect_is_a_failure_and_is_not_followed(system_actor, receiver):
    receiver.script("/moved", [Reply(status=301, headers={"Location": receiver.url("/elsewhere")})])
    endpoint = services.endpoint_create(name="moved", url=receiver.url("/moved"))
    declare(system_actor)
    delivery = only_delivery(endpoint)
    attempt = services.delivery_attempt(delivery_id=delivery.id)
    assert attempt.outcome == DeliveryAttempt.Outcome.FAILED and attempt.response_status == 301
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.PENDING and delivery.next_attempt_at > timezone.now()
    assert delivery.last_error == "HTTP 301 (redirects are not followed)"
    receiver.wait_for(1, "/moved")
    assert receiver.received("/elsewhere") == []


def test_not_due_leased_or_finished_deliveries_are_not_sent(system_actor, receiver):
    endpoints = [services.endpoint_create(name=f"e{n}", url=receiver.url(f"/e{n}")) for n in range(4)]
    declare(system_actor)
    later, leased, succeeded, failed = (only_delivery(e) for e in endpoints)
    now = timezone.now()
    Delivery.objects.filter(pk=later.pk).update(next_attempt_at=now + timedelta(minutes=5))
    Delivery.objects.filter(pk=leased.pk).update(locked_until=now + timedelta(minutes=5))
    Delivery.objects.filter(pk=succeeded.pk).update(status=Delivery.Status.SUCCEEDED, completed_at=now)
    Delivery.objects.filter(pk=failed.pk).update(status=Delivery.Status.FAILED, completed_at=now)

    for delivery in (later, leased, succeeded, failed):
        assert services.delivery_attempt(delivery_id=delivery.id) is None
    assert services.delivery_attempt(delivery_id="dlv_does_not_exist") is None
    assert DeliveryAttempt.objects.count() == 0
    assert set(Delivery.objects.values_list("attempt_count", flat=True)) == {0}
    assert receiver.received() == []

    # An expired lease (a worker that died) does not block the next attempt.
    Delivery.objects.filter(pk=leased.pk).update(locked_until=now - timedelta(seconds=1))
    assert services.delivery_attempt(delivery_id=leased.id).outcome == DeliveryAttempt.Outcome.SUCCEEDED


def test_response_excerpt_is_bounded_even_for_a_huge_body(system_actor, receiver, settings):
    settings.WEBHOOK_RESPONSE_EXCERPT_BYTES = 300
    big = b"x" * (1024 * 1024)
    receiver.script("/big", [Reply(status=200, body=big)])
    endpoint = services.endpoint_create(name="big", url=receiver.url("/big"))
    declare(system_actor)
    delivery = only_delivery(endpoint)

    attempt = services.delivery_attempt(delivery_id=delivery.id)

    assert attempt.outcome == DeliveryAttempt.Outcome.SUCCEEDED
    assert attempt.response_body_excerpt == "x" * 300
    attempt.refresh_from_db()
    assert len(attempt.response_body_excerpt.encode()) == 300


def test_default_excerpt_limit_applies_to_a_large_error_body(system_actor, receiver, settings):
    limit = settings.WEBHOOK_RESPONSE_EXCERPT_BYTES
    receiver.script("/err", [Reply(status=500, body="é".encode() * 100_000)])
    endpoint = services.endpoint_create(name="err", url=receiver.url("/err"))
    declare(system_actor)
    attempt = services.delivery_attempt(delivery_id=only_delivery(endpoint).id)
    assert attempt.outcome == DeliveryAttempt.Outcome.FAILED and attempt.response_status == 500
    assert 0 < len(attempt.response_body_excerpt.encode()) <= limit + 2  # a cut character may become U+FFFD
    assert attempt.response_body_excerpt.startswith("é" * 100)


def test_disabled_endpoint_event_delivery_fails_without_sending(system_actor, receiver):
    endpoint = services.endpoint_create(name="soon off", url=receiver.url("/off"))
    declare(system_actor)
    delivery = only_delivery(endpoint)
    services.endpoint_update(endpoint=endpoint, is_active=False)

    attempt = services.delivery_attempt(delivery_id=delivery.id)

    assert attempt.outcome == DeliveryAttempt.Outcome.FAILED
    assert attempt.error_message == "The endpoint is disabled."
    assert attempt.response_status is None
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.FAILED
    assert "The endpoint is disabled." in delivery.last_error
    assert delivery.next_attempt_at is None and delivery.completed_at is not None
    assert receiver.received() == []


def test_connection_refused_is_a_recorded_failure(system_actor):
    from tests.support.receiver import free_port

    endpoint = services.endpoint_create(name="nobody", url=f"http://127.0.0.1:{free_port()}/x")
    declare(system_actor)
    delivery = only_delivery(endpoint)
    attempt = services.delivery_attempt(delivery_id=delivery.id)
    assert attempt.outcome == DeliveryAttempt.Outcome.FAILED
    assert attempt.error_class == "ConnectionError"
    assert attempt.error_message == "Connection refused."
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.PENDING
    assert delivery.last_error == "ConnectionError: Connection refused."
    assert delivery.last_status_code is None


# --- Target checks -------------------------------------------------------------------


def test_internal_target_is_refused_and_logged(system_actor, receiver, settings):
    endpoint = services.endpoint_create(name="loopback", url=receiver.url("/internal"))
    declare(system_actor)
    delivery = only_delivery(endpoint)
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False

    attempt = services.delivery_attempt(delivery_id=delivery.id)

    assert attempt.outcome == DeliveryAttempt.Outcome.FAILED
    assert attempt.error_class == "TargetRefused"
    assert "127.0.0.1" in attempt.error_message
    assert "internal address" in attempt.error_message
    assert "WEBHOOK_ALLOW_PRIVATE_TARGETS" in attempt.error_message
    assert attempt.response_status is None
    delivery.refresh_from_db()
    assert delivery.last_error.startswith("TargetRefused: ")
    assert receiver.received() == []


def test_send_test_to_an_internal_target_reports_the_refusal(receiver, settings):
    endpoint = services.endpoint_create(name="loopback", url=receiver.url("/internal"))
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    attempt = services.endpoint_send_test(endpoint=endpoint)
    assert attempt.error_class == "TargetRefused"
    assert attempt.delivery.status == Delivery.Status.FAILED
    assert receiver.received() == []


@pytest.mark.parametrize(
    "url, message",
    [
        ("ftp://example.com/hook", "http:// or https://"),
        ("example.com/hook", "http:// or https://"),
        ("http:///hook", "no host"),
        ("http://example.com:99999/hook", "invalid port"),
        ("http://example.com:port/hook", "invalid port"),
    ],
)
def test_bad_url_shapes_are_refused_by_the_check_and_at_create(url, message):
    with pytest.raises(TargetRefused, match=message):
        validate_url_shape(url)
    with pytest.raises(services.ValidationError) as error:
        services.endpoint_create(name="bad", url=url)
    assert message in error.value.message_dict["url"][0]
    assert not WebhookEndpoint.objects.exists()


# --- The dispatcher --------------------------------------------------------------------


def test_dispatch_picks_due_unleased_deliveries_with_a_missing_message(system_actor, receiver, settings):
    settings.WEBHOOK_REDISPATCH_AFTER = 30
    names = ["never", "stale", "expired_lease", "fresh", "leased", "later", "succeeded", "failed"]
    endpoints = {name: services.endpoint_create(name=name, url=receiver.url(f"/{name}")) for name in names}
    declare(system_actor)
    d = {name: only_delivery(endpoint) for name, endpoint in endpoints.items()}
    now = timezone.now()
    past = now - timedelta(seconds=1)
    updates = {
        "never": {"enqueued_at": None},
        "stale": {"enqueued_at": now - timedelta(seconds=60)},
        "expired_lease": {"enqueued_at": None, "locked_until": past},
        "fresh": {"enqueued_at": now - timedelta(seconds=5)},
        "leased": {"enqueued_at": None, "locked_until": now + timedelta(seconds=60)},
        "later": {"enqueued_at": None, "next_attempt_at": now + timedelta(seconds=60)},
        "succeeded": {"enqueued_at": None, "status": Delivery.Status.SUCCEEDED},
        "failed": {"enqueued_at": None, "status": Delivery.Status.FAILED},
    }
    for name, fields in updates.items():
        Delivery.objects.filter(pk=d[name].pk).update(**{"next_attempt_at": past, **fields})

    before = timezone.now()
    assert services.deliveries_dispatch_due() == 3

    after = {x.endpoint.name: x for x in Delivery.objects.select_related("endpoint")}
    for name in ["never", "stale", "expired_lease"]:
        assert before <= after[name].enqueued_at <= timezone.now(), name
    for name in ["fresh", "leased", "later", "succeeded", "failed"]:
        fields = {"enqueued_at": None, **updates[name]}
        assert after[name].enqueued_at == fields["enqueued_at"], name
    # Dispatching enqueues; it sends nothing itself and claims nothing.
    assert set(Delivery.objects.values_list("attempt_count", flat=True)) == {0}
    assert receiver.received() == []
    # Just enqueued: a second run right away leaves them to their messages.
    assert services.deliveries_dispatch_due() == 0


def test_dispatch_takes_the_most_overdue_first_up_to_the_limit(system_actor, receiver):
    first, second = (services.endpoint_create(name=n, url=receiver.url(f"/{n}")) for n in ["first", "second"])
    declare(system_actor)
    now = timezone.now()
    Delivery.objects.filter(endpoint=first).update(next_attempt_at=now - timedelta(minutes=5), enqueued_at=None)
    Delivery.objects.filter(endpoint=second).update(next_attempt_at=now - timedelta(minutes=1), enqueued_at=None)
    assert services.deliveries_dispatch_due(limit=1) == 1
    assert only_delivery(first).enqueued_at is not None
    assert only_delivery(second).enqueued_at is None
    assert services.deliveries_dispatch_due(limit=1) == 1
    assert only_delivery(second).enqueued_at is not None


def test_dispatch_leaves_a_scheduled_retry_alone_until_it_is_overdue(system_actor, receiver, settings):
    settings.WEBHOOK_RETRY_DELAYS = [10]
    settings.WEBHOOK_REDISPATCH_AFTER = 30
    receiver.script("/r", [500])
    endpoint = services.endpoint_create(name="r", url=receiver.url("/r"))
    declare(system_actor)
    delivery = only_delivery(endpoint)
    services.delivery_attempt(delivery_id=delivery.id)
    # The retry went out as a countdown message: not due yet, and its message is on its way.
    assert services.deliveries_dispatch_due() == 0
    make_due(delivery)
    assert services.deliveries_dispatch_due() == 0  # due, but its countdown message is fresh
    Delivery.objects.filter(pk=delivery.pk).update(enqueued_at=timezone.now() - timedelta(seconds=31))
    assert services.deliveries_dispatch_due() == 1


# --- Operator actions ----------------------------------------------------------------


def test_created_secret_is_generated_or_typed():
    generated = services.endpoint_create(name="gen", url="https://example.com/a")
    assert generated.secret.startswith("whsec_") and len(generated.secret) > 40
    typed = services.endpoint_create(name="typed", url="https://example.com/b", secret="a-typed-secret-1234")
    assert typed.secret == "a-typed-secret-1234"
    with pytest.raises(services.ValidationError) as error:
        services.endpoint_create(name="short", url="https://example.com/c", secret="short")
    assert "secret" in error.value.message_dict


def test_rotate_secret_signs_with_both_during_the_overlap(receiver):
    endpoint = services.endpoint_create(name="rot", url=receiver.url("/rot"))
    old = endpoint.secret

    services.endpoint_rotate_secret(endpoint=endpoint)

    endpoint.refresh_from_db()
    new = endpoint.secret
    assert new != old and new.startswith("whsec_")
    assert endpoint.previous_secret == old
    assert endpoint.previous_secret_expires_at > timezone.now() + timedelta(hours=23)
    assert endpoint.signing_secrets() == [new, old]

    # A send during the overlap verifies with either secret.
    services.endpoint_send_test(endpoint=endpoint)
    (request,) = receiver.wait_for(1, "/rot")
    assert len(request.header("webhook-signature").split(" ")) == 2
    Webhook(new).verify(request.body, request.headers)
    Webhook(old).verify(request.body, request.headers)

    endpoint.previous_secret_expires_at = timezone.now() - timedelta(seconds=1)
    endpoint.save()
    endpoint.refresh_from_db()
    assert endpoint.signing_secrets() == [new]


def test_rotate_to_a_typed_secret_and_refuse_a_short_one():
    endpoint = services.endpoint_create(name="rot", url="https://example.com/a")
    old = endpoint.secret
    services.endpoint_rotate_secret(endpoint=endpoint, secret="my-new-typed-secret!")
    assert reload(endpoint).secret == "my-new-typed-secret!"
    with pytest.raises(services.ValidationError):
        services.endpoint_rotate_secret(endpoint=endpoint, secret="short")
    row = reload(endpoint)
    assert row.secret == "my-new-typed-secret!" and row.previous_secret == old


def test_send_test_logs_one_test_attempt(receiver):
    receiver.script("/t", [Reply(status=200, body=b"got it")])
    endpoint = services.endpoint_create(name="t", url=receiver.url("/t"))

    attempt = services.endpoint_send_test(endpoint=endpoint, event_type="incident.acknowledged")

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
    endpoint = services.endpoint_create(name="t", url=receiver.url("/t"))

    attempt = services.endpoint_send_test(endpoint=endpoint)

    assert attempt.outcome == DeliveryAttempt.Outcome.FAILED and attempt.response_status == 500
    delivery = Delivery.objects.get(pk=attempt.delivery_id)
    assert delivery.status == Delivery.Status.FAILED
    assert delivery.attempt_count == 1 and delivery.attempts.count() == 1
    assert delivery.next_attempt_at is None and delivery.completed_at is not None
    assert delivery.last_error == "HTTP 500"
    # Neither a worker nor the dispatcher picks it up again.
    make_due(delivery)
    assert services.delivery_attempt(delivery_id=delivery.id) is None
    assert services.deliveries_dispatch_due() == 0
    assert len(receiver.wait_for(1, "/t")) == 1


def test_send_test_refuses_an_unknown_event_type(receiver):
    endpoint = services.endpoint_create(name="t", url=receiver.url("/t"))
    with pytest.raises(services.ValidationError):
        services.endpoint_send_test(endpoint=endpoint, event_type="incident.exploded")
    assert not Event.objects.exists()
    assert receiver.received() == []


def test_redeliver_creates_a_new_pending_delivery_of_the_same_event(system_actor, receiver):
    receiver.script("/r", [500, 200])
    endpoint = services.endpoint_create(name="r", url=receiver.url("/r"))
    declare(system_actor)
    original = only_delivery(endpoint)
    Delivery.objects.filter(pk=original.pk).update(status=Delivery.Status.FAILED, next_attempt_at=None)
    original.refresh_from_db()

    again = services.delivery_redeliver(delivery=original)

    assert again.id != original.id and again.id.startswith("dlv_")
    again = Delivery.objects.get(pk=again.pk)
    assert again.event_id == original.event_id and again.endpoint_id == endpoint.id
    assert again.status == Delivery.Status.PENDING and again.attempt_count == 0
    assert again.origin == Delivery.Origin.REDELIVER
    assert Delivery.objects.get(pk=original.pk).status == Delivery.Status.FAILED
    # It goes out with the same body and the same webhook-id.
    services.delivery_attempt(delivery_id=again.id)
    (request,) = receiver.wait_for(1, "/r")
    assert request.body == original.event.payload.encode()
    assert request.header("webhook-id") == original.event_id
    assert request.header("X-OpsKnight-Delivery") == again.id


def test_redelivering_a_test_delivery_stays_a_test(receiver):
    endpoint = services.endpoint_create(name="t", url=receiver.url("/t"))
    attempt = services.endpoint_send_test(endpoint=endpoint)
    again = services.delivery_redeliver(delivery=attempt.delivery)
    again = Delivery.objects.get(pk=again.pk)
    assert again.is_test is True and again.origin == Delivery.Origin.REDELIVER
    # Out of the "real deliveries" view of the log.
    assert not Delivery.objects.filter(endpoint=endpoint, is_test=False).exists()


def test_replay_creates_deliveries_for_real_subscribed_events_since(system_actor, receiver):
    everything = services.endpoint_create(name="all", url=receiver.url("/all"))
    resolved_only = services.endpoint_create(
        name="resolved", url=receiver.url("/resolved"), event_types=["incident.resolved"]
    )
    old = declare(system_actor, key="old")
    Event.objects.filter(incident=old).update(created_at=timezone.now() - timedelta(days=2))
    incident = declare(system_actor, key="new")
    incident_services.incident_resolve(incident=incident, actor=system_actor)
    services.endpoint_send_test(endpoint=everything)  # a test event: never replayed
    since = timezone.now() - timedelta(hours=1)
    before = set(Delivery.objects.values_list("id", flat=True))

    assert services.endpoint_replay(endpoint=everything, since=since) == 2
    assert services.endpoint_replay(endpoint=resolved_only, since=since) == 1

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
    assert services.endpoint_replay(endpoint=everything, since=timezone.now() + timedelta(minutes=1)) == 0


def test_update_validates_and_keeps_the_row_on_error():
    endpoint = services.endpoint_create(name="u", url="https://example.com/a", event_types=["incident.resolved"])
    with pytest.raises(services.ValidationError) as error:
        services.endpoint_update(endpoint=endpoint, url="ftp://example.com/a")
    assert "url" in error.value.message_dict
    assert reload(endpoint).url == "https://example.com/a"
    with pytest.raises(services.ValidationError) as error:
        services.endpoint_update(endpoint=reload(endpoint), event_types=["incident.nope"])
    assert "event_types" in error.value.message_dict
    with pytest.raises(ValueError):
        services.endpoint_update(endpoint=reload(endpoint), secret="x" * 20)

    updated = services.endpoint_update(
        endpoint=reload(endpoint),
        event_types=["incident.triggered", "incident.resolved", "incident.triggered"],
        is_active=False,
    )
    row = reload(updated)
    assert row.event_types == ["incident.resolved", "incident.triggered"]
    assert not row.is_active and row.disabled_reason and row.disabled_at
    services.endpoint_update(endpoint=row, is_active=True)
    row = reload(row)
    assert row.is_active and row.disabled_reason == "" and row.disabled_at is None
