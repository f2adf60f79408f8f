"""External links in the webhook payload (`incident.externalLinks`), and what they cost
the outbox: one query per event, however many links."""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from incidents import services
from webhooks.models import Event

pytestmark = pytest.mark.django_db


def declare(actor, **fields):
    fields.setdefault("visibility", "public")
    incident, _ = services.incident_create(title="DB down", actor=actor, **fields)
    return incident


JIRA = {"system": "jira", "key": "OPS-123", "url": "https://jira.example.com/browse/OPS-123"}


def test_links_ride_along_in_every_later_webhook_payload(system_actor):
    incident = declare(system_actor)
    services.external_link_add(incident=incident, **JIRA)
    services.incident_acknowledge(incident=incident, actor=system_actor)
    services.external_link_add(incident=incident, system="slack", key="C123/169", url="https://slack.example.com/x")
    services.incident_resolve(incident=incident, actor=system_actor)

    payloads = {e.type: json.loads(e.payload)["incident"] for e in Event.objects.filter(incident=incident)}
    assert payloads["incident.triggered"]["externalLinks"] == []
    assert payloads["incident.acknowledged"]["externalLinks"] == [JIRA]
    assert payloads["incident.resolved"]["externalLinks"] == [
        JIRA,
        {"system": "slack", "key": "C123/169", "url": "https://slack.example.com/x"},
    ]


def test_a_private_incident_payload_still_carries_only_id_and_visibility(system_actor):
    incident = declare(system_actor, visibility="private")
    services.external_link_add(incident=incident, **JIRA)
    services.incident_acknowledge(incident=incident, actor=system_actor)
    event = Event.objects.get(incident=incident, type="incident.acknowledged")
    assert json.loads(event.payload)["incident"] == {"id": incident.id, "visibility": "private"}


def queries_to_escalate(incident, actor) -> int:
    with CaptureQueriesContext(connection) as queries:
        services.incident_escalate(incident=incident, actor=actor)
    return len(queries)


def test_links_cost_one_query_per_event_however_many(system_actor):
    """An incident without links costs no links query (the transition's lock reads whether
    it has any); with links, one query reads them all, so 1 and 20 links cost the same."""
    bare, one, many = declare(system_actor), declare(system_actor), declare(system_actor)
    services.external_link_add(incident=one, **JIRA)
    for n in range(20):
        services.external_link_add(incident=many, system="jira", key=f"OPS-{n}", url=f"https://j.example.com/{n}")

    counts = [queries_to_escalate(incident, system_actor) for incident in (bare, one, many)]

    assert counts[0] + 1 == counts[1] == counts[2], counts
    assert json.loads(Event.objects.filter(incident=bare).last().payload)["incident"]["externalLinks"] == []
    assert len(json.loads(Event.objects.filter(incident=one).last().payload)["incident"]["externalLinks"]) == 1
    assert len(json.loads(Event.objects.filter(incident=many).last().payload)["incident"]["externalLinks"]) == 20


def test_declaring_an_incident_does_not_query_links(system_actor):
    """incident.triggered is written with the incident's insert, so it cannot have links:
    the hottest path of the outbox skips the query."""
    with CaptureQueriesContext(connection) as queries:
        incident = declare(system_actor)
    assert not [q["sql"] for q in queries if "externallink" in q["sql"]]
    assert json.loads(Event.objects.get(incident=incident).payload)["incident"]["externalLinks"] == []
