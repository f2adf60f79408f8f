"""The emit path's database round trips, pinned: declaring an incident and a transition
through the API, with one webhook endpoint subscribed (event, delivery and all)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from incidents.models import Service
from webhooks.endpoints import endpoint_create

pytestmark = pytest.mark.django_db


def queries(call) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        response = call()
    assert response.status_code in (200, 201), response.content
    return [q["sql"].split()[0] for q in captured.captured_queries]


def test_declare_and_acknowledge_through_the_api_cost_a_fixed_number_of_queries(api_client):
    endpoint_create(name="itsm", url="https://hooks.example.com/in")
    service = Service.objects.create(name="payments")
    body = {"title": "DB down", "idempotency_key": "k1", "service_id": service.pk, "severity": "critical"}

    created = queries(lambda: api_client.post("/api/v1/incidents", body, format="json"))
    incident_id = api_client.get("/api/v1/incidents").json()["results"][0]["id"]
    acknowledged = queries(lambda: api_client.post(f"/api/v1/incidents/{incident_id}/acknowledge", format="json"))

    # Create: key, service, BEGIN, number, incident, timeline entry, endpoints, event,
    # delivery, COMMIT (no look-up of the key or service again, no links query).
    assert len(created) == 10, created
    # Acknowledge: reads before the transaction (the key, the incident as the key sees it),
    # then in it the lock (service and assignee joined, and whether it has links), update,
    # timeline entry, the endpoints the outbox reads, event, delivery. No links: neither
    # the payload nor the answer reads them.
    assert len(acknowledged) == 11, acknowledged

    link = {"system": "jira", "key": "OPS-1", "url": "https://jira.example.com/browse/OPS-1"}
    assert api_client.post(f"/api/v1/incidents/{incident_id}/links", link, format="json").status_code == 201
    escalated = queries(lambda: api_client.post(f"/api/v1/incidents/{incident_id}/escalate", format="json"))
    # With a link: the payload and the answer each read the links.
    assert len(escalated) == 13, escalated
