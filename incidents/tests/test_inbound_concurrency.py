"""Concurrent alert events and link adds against PostgreSQL: the database constraints,
not a read-then-write, keep one open incident per dedup_key and one link per system+key."""

import pytest
from django.db import connection
from rest_framework.test import APIClient

from incidents import alerts, services
from incidents.actors import Actor
from incidents.models import ExternalLink, Incident, IncidentEvent
from incidents.tests.test_concurrency import THREADS, run_at_once
from opsknight.services import api_key_create

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL row locks and concurrency"),
]


def test_concurrent_triggers_with_one_dedup_key_open_one_incident():
    def work(index):
        return alerts.alert_trigger(
            summary=f"caller {index}", source="s", severity="error", dedup_key="storm", actor=Actor.system()
        )

    results = run_at_once(work)

    assert not [r for r in results if isinstance(r, BaseException)], results
    assert sum(outcome.changed for outcome in results) == 1
    assert len({outcome.incident.id for outcome in results}) == 1
    incident = Incident.objects.get()
    assert incident.dedup_key == "storm"
    assert IncidentEvent.objects.count() == 1


def test_concurrent_api_triggers_and_resolves_stay_consistent():
    """Half the callers trigger, half resolve, over HTTP: every answer is 202 or (a
    resolve before any trigger) 404, and at most one incident is open at the end."""
    _, raw_key = api_key_create(name="storm", scopes=["incidents:write"])
    incident_id = alerts.alert_trigger(
        summary="first", source="s", severity="info", dedup_key="mixed", actor=Actor.system()
    ).incident.id

    def work(index):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
        body = {"event_action": "trigger" if index % 2 else "resolve", "dedup_key": "mixed"}
        body["payload"] = {"summary": f"caller {index}", "source": "s", "severity": "info"}
        response = client.post("/api/v1/events", body, format="json")
        return response.status_code

    results = run_at_once(work)

    assert results == [202] * THREADS, results
    assert Incident.objects.filter(dedup_key="mixed").exclude(status="resolved").count() <= 1
    assert Incident.objects.get(pk=incident_id).status == "resolved"
    for incident in Incident.objects.filter(dedup_key="mixed"):
        versions = list(IncidentEvent.objects.filter(incident=incident).values_list("version", flat=True))
        assert sorted(versions) == list(range(1, incident.version + 1))


def test_concurrent_resolves_resolve_once():
    incident = alerts.alert_trigger(
        summary="x", source="s", severity="info", dedup_key="resolve-race", actor=Actor.system()
    ).incident

    results = run_at_once(lambda index: alerts.alert_resolve(dedup_key="resolve-race", actor=Actor.system()))

    assert not [r for r in results if isinstance(r, BaseException)], results
    assert sum(outcome.changed for outcome in results) == 1
    assert all(outcome.incident.status == "resolved" for outcome in results)
    types = list(IncidentEvent.objects.filter(incident=incident).values_list("type", flat=True))
    assert sorted(types) == ["incident.resolved", "incident.triggered"]


def test_concurrent_link_adds_make_one_link():
    incident, _ = services.incident_create(title="x", actor=Actor.system(), idempotency_key="link-race")

    def work(index):
        return services.external_link_add(
            incident=incident, system="jira", key="OPS-1", url=f"https://jira.example.com/{index}"
        )

    results = run_at_once(work)

    assert not [r for r in results if isinstance(r, BaseException)], results
    assert sum(created for _, created in results) == 1
    assert len({link.id for link, _ in results}) == 1
    assert ExternalLink.objects.count() == 1
