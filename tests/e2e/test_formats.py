"""Every format delivered for real: the e2e worker sends each endpoint's body to a
receiver on 127.0.0.1, and what arrives, once its ids and times are mapped onto the
golden case's, is the golden file byte for byte (each message of a format that sends
several). An incident.io receiver as incident.io's users write them takes every change."""

import json

import pytest
from standardwebhooks import Webhook

from incidents.models import IncidentCounter
from tests.support.incidentio_receiver import IncidentIoReceiver
from tests.support.waiting import wait_until
from webhooks import formats
from webhooks.actions import endpoint_send_test
from webhooks.endpoints import endpoint_create
from webhooks.models import Delivery
from webhooks.tests import format_cases
from webhooks.tests.format_cases import OPTIONS, case_name, golden_bytes, real_to_golden

pytestmark = pytest.mark.e2e


def play_the_golden_cases(api_client) -> tuple[str, str]:
    """The life of the golden incident, and a private incident, through the API: its
    assignee (an email) matches a responder, and it is incident number 42."""
    service = api_client.post("/api/v1/services", {"name": format_cases.SERVICE["name"]}, format="json").json()
    person = format_cases.RESPONDER
    responder = api_client.post(
        "/api/v1/responders",
        {
            "name": person["name"],
            "email": person["email"],
            "slack_user_id": person["slackUserId"],
            "teams_upn": person["teamsUserPrincipalName"],
            "discord_user_id": person["discordUserId"],
            "telegram_username": person["telegramUsername"],
        },
        format="json",
    )
    assert responder.status_code == 201, responder.content
    IncidentCounter.objects.update_or_create(pk=1, defaults={"last_number": format_cases.NUMBER - 1})
    declared = api_client.post(
        "/api/v1/incidents",
        {
            "title": format_cases.TITLE,
            "summary": format_cases.SUMMARY,
            "severity": format_cases.SEVERITY,
            "assignee": format_cases.ASSIGNEE,
            "service_id": service["id"],
            "idempotency_key": "formats-1",
        },
        format="json",
    )
    assert declared.status_code == 201, declared.content
    incident_id = declared.json()["id"]
    for action in ("acknowledge", "escalate", "resolve"):
        assert api_client.post(f"/api/v1/incidents/{incident_id}/{action}").status_code == 200
    private = api_client.post(
        "/api/v1/incidents",
        {"title": "Customer data", "visibility": "private", "idempotency_key": "formats-2"},
        format="json",
    )
    assert private.status_code == 201, private.content
    return incident_id, private.json()["id"]


def message_index(delivery: Delivery) -> int:
    """Which of its event's messages a delivery sends: 0, or n of `webhook-id` `<event id>_<n>`."""
    return int(delivery.message_id.rpartition("_")[2]) if delivery.message_id else 0


def test_each_format_arrives_as_its_golden_body(e2e, receiver, api_client, settings):
    settings.PUBLIC_BASE_URL = format_cases.BASE_URL  # bodies are rendered here, when the events are written
    endpoints = {
        name: endpoint_create(name=name, url=receiver.url(f"/{name}"), format=name, format_options=OPTIONS[name])
        for name in formats.NAMES
    }
    play_the_golden_cases(api_client)

    for name, endpoint in endpoints.items():
        expected = {
            (case, index)
            for case in format_cases.CASES
            for index in range(len(format_cases.render_case_messages(name, case)))
        }
        got = receiver.wait_for(len(expected), f"/{name}")
        assert len(got) == len(expected), name
        messages = set()
        for request in got:
            delivery = Delivery.objects.select_related("event").get(pk=request.header("X-OpsKnight-Delivery"))
            real = json.loads(delivery.event.payload)
            case, index = case_name(real), message_index(delivery)
            messages.add((case, index))
            body = request.body.decode()
            for real_value, golden_value in real_to_golden(real, case).items():
                body = body.replace(real_value, golden_value)
            assert body.encode() == golden_bytes(name, case, index), (name, case, index)
            # Every format is signed like the default one, and sends the stored bytes.
            assert Webhook(endpoint.secret).verify(request.body, request.headers)
            assert request.header("webhook-id") == delivery.webhook_id
            assert request.body == delivery.sent_body.encode()
        assert messages == expected
    wait_until(lambda: not Delivery.objects.exclude(status=Delivery.Status.SUCCEEDED).exists())


@pytest.fixture
def incidentio_receiver():
    from webhooks.transport.signing import generate_secret

    secret = generate_secret()
    server = IncidentIoReceiver(secret)
    server.secret = secret
    yield server
    server.close()


def test_an_incidentio_receiver_subscribed_to_updates_takes_every_change(e2e, api_client, incidentio_receiver):
    """Written as incident.io's users write them (svix, a marshmallow envelope for
    `incident_updated_v2`, the lead's Slack id), it accepts every change after the trigger,
    and the resolve reaches its lead branch with the assignee's Slack user id."""
    endpoint = endpoint_create(
        name="incident.io bridge",
        url=incidentio_receiver.url,
        format="incidentio",
        event_types=["public_incident.incident_updated_v2"],
        secret=incidentio_receiver.secret,
    )
    declared = api_client.post(
        "/api/v1/incidents",
        {"title": "Checkout returns 502", "severity": "critical", "assignee": "U02AYNF2XJM", "idempotency_key": "io-1"},
        format="json",
    )
    assert declared.status_code == 201, declared.content
    incident_id = declared.json()["id"]
    for action in ("acknowledge", "escalate", "resolve", "reopen", "resolve"):
        assert api_client.post(f"/api/v1/incidents/{incident_id}/{action}").status_code == 200
    private = {"title": "Customer data", "visibility": "private", "idempotency_key": "io-2"}
    assert api_client.post("/api/v1/incidents", private, format="json").status_code == 201

    assert wait_until(lambda: Delivery.objects.filter(endpoint=endpoint, status=Delivery.Status.SUCCEEDED).count() == 5)
    assert not Delivery.objects.filter(endpoint=endpoint).exclude(status=Delivery.Status.SUCCEEDED).exists()
    seen = incidentio_receiver.seen
    assert sorted(entry["category"] for entry in seen) == ["closed", "closed", "live", "live", "triage"]
    assert incidentio_receiver.paged_leads == [(seen[0]["reference"], "U02AYNF2XJM")] * 2

    # The same receiver refuses a request signed with another secret: nothing forged gets in.
    stranger = endpoint_create(name="stranger", url=incidentio_receiver.url, format="incidentio")
    attempt = endpoint_send_test(endpoint=stranger)
    assert attempt.response_status == 400
    assert len(incidentio_receiver.seen) == 5
