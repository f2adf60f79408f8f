"""People and numbers in the OpsKnight payload: `incident.number`/`reference`, the
assignee as a person, `incident.createdBy`, the top-level `actor`; private payloads
name no one; the outbox costs no more queries for any of it."""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from incidents import responders
from incidents import services as incident_services
from incidents.actors import Actor
from incidents.models import Incident
from webhooks.actions import endpoint_send_test
from webhooks.endpoints import endpoint_create
from webhooks.models import Event
from webhooks.tests.support import declare

pytestmark = pytest.mark.django_db

NO_HANDLES = {"teamsUserPrincipalName": None, "discordUserId": None, "telegramUsername": None}


@pytest.fixture
def ada(db):
    return responders.responder_create(
        name="Ada Lovelace",
        email="ada@example.com",
        slack_user_id="U02AYNF2XJM",
        teams_upn="ada@contoso.onmicrosoft.com",
        discord_user_id="80351110224678912",
        telegram_username="ada_lovelace",
    )


def payloads(incident: Incident) -> dict[str, dict]:
    return {e.type: json.loads(e.payload) for e in Event.objects.filter(incident=incident)}


def test_a_responder_assignee_carries_every_handle(system_actor, ada):
    incident = declare(system_actor, assignee="U02AYNF2XJM")
    body = payloads(incident)["incident.triggered"]
    assert body["incident"]["assignee"] == {
        "id": ada.id,
        "name": "Ada Lovelace",
        "email": "ada@example.com",
        "slackUserId": "U02AYNF2XJM",
        "teamsUserPrincipalName": "ada@contoso.onmicrosoft.com",
        "discordUserId": "80351110224678912",
        "telegramUsername": "ada_lovelace",
    }
    assert list(body["incident"])[:3] == ["id", "number", "reference"]
    assert (body["incident"]["number"], body["incident"]["reference"]) == (incident.number, f"INC-{incident.number}")


@pytest.mark.parametrize(
    "text, email, slack_user_id",
    [
        ("ops@example.com", "ops@example.com", None),
        ("U0G9QF9C6", None, "U0G9QF9C6"),  # a Slack id in the format of Slack's docs
        ("W012A3CDE", None, "W012A3CDE"),  # an Enterprise Grid id
        ("the DBA on call", None, None),
        ("U123", None, None),  # too short for a Slack id
    ],
)
def test_a_text_assignee_is_a_person_without_id(system_actor, text, email, slack_user_id):
    incident = declare(system_actor, assignee=text)
    assert payloads(incident)["incident.triggered"]["incident"]["assignee"] == {
        "id": None,
        "name": text,
        "email": email,
        "slackUserId": slack_user_id,
        **NO_HANDLES,
    }


def test_acknowledge_with_an_assignee_is_in_that_event(system_actor, ada):
    incident = declare(system_actor)
    incident_services.incident_acknowledge(incident=incident, actor=system_actor, assignee=ada.id)
    bodies = payloads(incident)
    assert bodies["incident.triggered"]["incident"]["assignee"] is None
    assert bodies["incident.acknowledged"]["incident"]["assignee"]["id"] == ada.id


def test_actor_is_who_made_each_change_and_created_by_who_declared(api_client, django_user_model, settings):
    settings.INCIDENT_REFERENCE_PREFIX = "OPS"
    incident_id = api_client.post(
        "/api/v1/incidents", {"title": "DB down", "idempotency_key": "who"}, format="json"
    ).json()["id"]
    user = django_user_model.objects.create_user(username="maria", password="x")
    incident_services.incident_acknowledge(incident=Incident.objects.get(pk=incident_id), actor=Actor.from_user(user))
    incident_services.incident_resolve(incident=Incident.objects.get(pk=incident_id), actor=Actor.system("cleanup"))

    bodies = payloads(Incident.objects.get(pk=incident_id))
    key = {"type": "api_key", "id": api_client.api_key.id, "name": "test key"}
    assert bodies["incident.triggered"]["actor"] == key
    assert bodies["incident.acknowledged"]["actor"] == {"type": "user", "id": str(user.pk), "name": "maria"}
    assert bodies["incident.resolved"]["actor"] == {"type": "system", "id": None, "name": "cleanup"}
    assert {body["incident"]["createdBy"] == key for body in bodies.values()} == {True}
    assert list(bodies["incident.resolved"]) == ["id", "event", "timestamp", "actor", "incident"]
    assert bodies["incident.resolved"]["incident"]["reference"].startswith("OPS-")


def test_created_by_reads_right_after_the_key_is_deleted(make_api_client):
    client = make_api_client(name="grafana")
    incident_id = client.post("/api/v1/incidents", {"title": "x", "idempotency_key": "k"}, format="json").json()["id"]
    key_id = client.api_key.id
    client.api_key.delete()
    incident = Incident.objects.get(pk=incident_id)
    incident_services.incident_escalate(incident=incident, actor=Actor.system())
    body = payloads(incident)["incident.escalated"]
    assert body["incident"]["createdBy"] == {"type": "api_key", "id": key_id, "name": "grafana"}


def test_a_private_payload_names_no_one(make_api_client, ada, django_user_model):
    client = make_api_client(name="Secret Key Name")
    incident_id = client.post(
        "/api/v1/incidents",
        {"title": "Customer data", "idempotency_key": "p", "visibility": "private", "assignee": ada.email},
        format="json",
    ).json()["id"]
    user = django_user_model.objects.create_user(username="maria.garcia", password="x")
    incident = Incident.objects.get(pk=incident_id)
    incident_services.incident_acknowledge(incident=incident, actor=Actor.from_user(user), assignee=ada.id)

    for event in Event.objects.filter(incident_id=incident_id):
        body = json.loads(event.payload)
        assert body["incident"] == {"id": incident_id, "visibility": "private"}
        assert body["actor"] in ({"type": "api_key"}, {"type": "user"})
        for secret in ("Ada", "ada@example.com", "U02AYNF2XJM", ada.id, "Secret Key Name", "maria", client.api_key.id):
            assert secret not in event.payload, (secret, event.type)
        assert '"number"' not in event.payload and "INC-" not in event.payload


def test_send_test_carries_a_sample_person_and_number(receiver):
    endpoint = endpoint_create(name="t", url=receiver.url("/t"))
    attempt = endpoint_send_test(endpoint=endpoint, event_type="incident.acknowledged")
    body = json.loads(Event.objects.get(pk=attempt.delivery.event_id).payload)
    incident = body["incident"]
    assert body["actor"] == {"type": "system", "id": None, "name": "Send Test"}
    assert incident["createdBy"] == body["actor"]
    assert (incident["number"], incident["reference"]) == (0, "INC-0")
    assert incident["assignee"]["id"].startswith("rsp_TEST")
    assert incident["assignee"]["email"].endswith("@example.com")
    assert all(incident["assignee"][k] for k in ("slackUserId", "teamsUserPrincipalName", "discordUserId"))
    assert not Incident.objects.exists()  # nothing of the sample is saved


# --- Queries ----------------------------------------------------------------------------------


def queries(work) -> int:
    with CaptureQueriesContext(connection) as captured:
        work()
    return len(captured)


def test_a_responder_assignee_costs_the_outbox_no_query(system_actor, ada):
    endpoint_create(name="plain", url="https://a.example/")
    endpoint_create(name="chat", url="https://b.example/", format="slack")
    unassigned, by_text, by_responder = (
        declare(system_actor, key="q1"),
        declare(system_actor, key="q2", assignee="someone"),
        declare(system_actor, key="q3", assignee=ada.id),
    )
    changes = [
        queries(lambda i=incident: incident_services.incident_escalate(incident=i, actor=system_actor))
        for incident in (unassigned, by_text, by_responder)
    ]
    assert changes[0] == changes[1] == changes[2], changes
    assert payloads(by_responder)["incident.escalated"]["incident"]["assignee"]["name"] == "Ada Lovelace"

    # Declaring: the assignee text is matched against the directory once; the outbox adds nothing.
    creates = [
        queries(lambda fields=fields, n=n: declare(system_actor, key=f"c{n}", **fields))
        for n, fields in enumerate([{}, {"assignee": "someone@example.com"}, {"assignee": ada.id}])
    ]
    assert creates[1] == creates[2] == creates[0] + 1, creates
