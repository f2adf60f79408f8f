"""The outbox in-process: each change writes its event and one delivery per subscribed
endpoint in the same transaction (`django_db` tests never run on_commit, so nothing is
enqueued)."""

import json

import pytest
from django.db import transaction
from django.utils import timezone

from incidents import services as incident_services
from incidents.models import Incident, Service
from webhooks.endpoints import endpoint_create
from webhooks.models import Delivery, Event
from webhooks.tests.support import Z_TIMESTAMP, declare, z

pytestmark = pytest.mark.django_db


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
        "actor": {"type": "system", "id": None, "name": "tests"},
        "incident": {
            "id": incident.id,
            "number": incident.number,
            "reference": f"INC-{incident.number}",
            "title": "DB down",
            "summary": "",
            "status": "triggered",
            "severity": "critical",
            "service": {"id": service.id, "name": "API Gateway"},
            # An email that matches no responder: kept as the name, and the email.
            "assignee": {
                "id": None,
                "name": "ops@example.com",
                "email": "ops@example.com",
                "slackUserId": None,
                "teamsUserPrincipalName": None,
                "discordUserId": None,
                "telegramUsername": None,
            },
            "createdBy": {"type": "system", "id": None, "name": "tests"},
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
    everything = endpoint_create(name="all", url=receiver.url("/all"))
    resolved_only = endpoint_create(name="resolved", url=receiver.url("/resolved"), event_types=["incident.resolved"])
    two_types = endpoint_create(
        name="two", url=receiver.url("/two"), event_types=["incident.triggered", "incident.resolved"]
    )
    endpoint_create(name="off", url=receiver.url("/off"), is_active=False)

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
    endpoint_create(name="all", url=receiver.url("/all"))
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
    endpoint = endpoint_create(name="all", url=receiver.url("/all"))
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
