"""Endpoint formats through the API, the admin and the outbox: the fields, their 400s,
Send Test in every format, redeliver and replay, and no extra queries per delivery."""

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from standardwebhooks import Webhook

from incidents import services as incident_services
from opsknight.tests.asserts import assert_api_error
from webhooks import formats
from webhooks.actions import delivery_redeliver, endpoint_replay
from webhooks.endpoints import endpoint_create, endpoint_update
from webhooks.models import Delivery, Event, WebhookEndpoint
from webhooks.tests.format_cases import OPTIONS

pytestmark = pytest.mark.django_db

WEBHOOKS = "/api/v1/webhooks"


def create(api_client, **fields):
    data = {"name": "chat", "url": "https://hooks.example.com/in", **fields}
    return api_client.post(WEBHOOKS, data, format="json")


def test_format_defaults_to_opsknight_and_is_returned(api_client):
    body = create(api_client).json()
    assert (body["format"], body["format_options"]) == ("opsknight", {})
    telegram = create(api_client, format="telegram", format_options={"chat_id": "-100123"}).json()
    assert (telegram["format"], telegram["format_options"]) == ("telegram", {"chat_id": "-100123"})
    assert api_client.get(f"{WEBHOOKS}/{telegram['id']}").json()["format_options"] == {"chat_id": "-100123"}


def test_an_unknown_format_is_a_400_listing_the_valid_ones(api_client):
    error = assert_api_error(create(api_client, format="mattermost"), 400, code="invalid")
    assert (
        "Valid formats: opsknight, slack, msteams, google_chat, discord, telegram, incidentio"
        in (error["fields"]["format"][0])
    )
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize(
    "fields, field",
    [
        ({"format": "telegram"}, "format_options.chat_id"),
        ({"format": "telegram", "format_options": {"chat_id": "general"}}, "format_options.chat_id"),
        ({"format": "slack", "format_options": {"channel": "#ops"}}, "format_options.channel"),
        ({"format": "discord", "format_options": {"username": "x" * 81}}, "format_options.username"),
        ({"format_options": {"mention": "@here"}}, "format_options.mention"),
        ({"format": "slack", "format_options": ["mention"]}, "format_options"),
        ({"format": "slack", "format_options": "mention"}, "format_options"),
        ({"format": None}, "format"),
    ],
)
def test_bad_format_options_are_a_400_naming_the_option(api_client, fields, field):
    error = assert_api_error(create(api_client, **fields), 400, code="invalid")
    assert field in error["fields"], error
    assert not WebhookEndpoint.objects.exists()


def test_patch_changes_the_format_and_a_new_format_starts_without_the_old_options(api_client):
    endpoint_id = create(api_client, format="telegram", format_options={"chat_id": "-100123"}).json()["id"]
    url = f"{WEBHOOKS}/{endpoint_id}"

    error = assert_api_error(api_client.patch(url, {"format_options": {"chat_id": "nope"}}, format="json"), 400)
    assert "format_options.chat_id" in error["fields"]

    slack = api_client.patch(url, {"format": "slack"}, format="json").json()
    assert (slack["format"], slack["format_options"]) == ("slack", {})

    error = assert_api_error(api_client.patch(url, {"format": "telegram"}, format="json"), 400)
    assert "format_options.chat_id" in error["fields"]
    assert WebhookEndpoint.objects.get(pk=endpoint_id).format == "slack"  # the refused change saved nothing

    both = api_client.patch(url, {"format": "telegram", "format_options": {"chat_id": 42}}, format="json").json()
    assert (both["format"], both["format_options"]) == ("telegram", {"chat_id": 42})


@pytest.mark.parametrize("format_name", formats.NAMES)
def test_send_test_works_in_every_format(api_client, receiver, format_name):
    path = f"/test-{format_name}"
    endpoint = create(api_client, url=receiver.url(path), format=format_name, format_options=OPTIONS[format_name])
    endpoint = endpoint.json()

    outcome = api_client.post(f"{WEBHOOKS}/{endpoint['id']}/test", format="json").json()

    assert outcome["succeeded"] is True, outcome
    (request,) = receiver.wait_for(1, path)
    event = Event.objects.get(pk=outcome["event_id"])
    delivery = Delivery.objects.get(pk=outcome["delivery_id"])
    # The sample event, rendered through the endpoint's format, signed like any other.
    link = f"/admin/incidents/incident/{json.loads(event.payload)['incident']['id']}/change/"
    context = formats.RenderContext(incident_url=f"http://127.0.0.1:8000{link}")
    if hasattr(formats.FORMATS[format_name], "test_messages"):
        # The format's own test message (PagerDuty's ping: a new id and time each time).
        expected = delivery.sent_body.encode()
        assert json.loads(expected)["event"]["event_type"] == "pagey.ping"
    else:
        expected = formats.render(
            format_name, event=json.loads(event.payload), options=OPTIONS[format_name], context=context
        )
    assert request.body == expected
    assert delivery.sent_body.encode() == expected
    assert (delivery.body == "") == (format_name == "opsknight")
    assert Webhook(endpoint["secret"]).verify(request.body, request.headers)
    assert request.header("X-OpsKnight-Event") == "incident.triggered"
    detail = api_client.get(f"/api/v1/deliveries/{delivery.id}").json()
    assert detail["payload"] == json.loads(expected)


def test_each_endpoint_gets_its_format_and_the_default_one_the_stored_payload(system_actor, settings):
    settings.PUBLIC_BASE_URL = "https://ops.example.com"
    plain = endpoint_create(name="plain", url="https://a.example/")
    chat = endpoint_create(name="chat", url="https://b.example/", format="slack")
    bot = endpoint_create(name="bot", url="https://c.example/", format="telegram", format_options={"chat_id": 7})
    incident, _ = incident_services.incident_create(title="DB down", idempotency_key="f-1", actor=system_actor)

    event = Event.objects.get(incident=incident)
    by_endpoint = {d.endpoint_id: d for d in Delivery.objects.filter(event=event)}
    assert by_endpoint[plain.id].body == "" and by_endpoint[plain.id].sent_body == event.payload
    slack_body = json.loads(by_endpoint[chat.id].body)
    assert "DB down" in slack_body["text"]
    assert f"https://ops.example.com/admin/incidents/incident/{incident.id}/change/" in by_endpoint[chat.id].body
    assert json.loads(by_endpoint[bot.id].body)["chat_id"] == 7


def test_redeliver_and_replay_render_in_the_endpoint_format(system_actor):
    chat = endpoint_create(name="chat", url="https://b.example/", format="discord")
    incident, _ = incident_services.incident_create(title="DB down", idempotency_key="f-2", actor=system_actor)
    first = Delivery.objects.get(endpoint=chat)

    again = delivery_redeliver(delivery=first)
    assert again.body == first.body and json.loads(again.body)["embeds"]

    endpoint_update(endpoint=chat, format="msteams")
    assert endpoint_replay(endpoint=chat, since=timezone.now() - timedelta(hours=1)) == 1
    replayed = Delivery.objects.get(endpoint=chat, origin=Delivery.Origin.REPLAY)
    assert json.loads(replayed.body)["type"] == "message"
    assert replayed.event_id == first.event_id


def test_a_body_that_cannot_be_rendered_does_not_fail_the_incident_change(system_actor, monkeypatch, caplog):
    chat = endpoint_create(name="chat", url="https://b.example/", format="slack")

    def broken(event, options, context):
        raise KeyError("status")

    monkeypatch.setattr(formats.slack, "render", broken)
    incident, _ = incident_services.incident_create(title="DB down", idempotency_key="f-3", actor=system_actor)

    delivery = Delivery.objects.get(endpoint=chat)
    assert delivery.body == "" and delivery.sent_body == Event.objects.get(incident=incident).payload
    assert "Could not render" in caplog.text


def queries_to_record(system_actor, key: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        incident_services.incident_create(title="t", idempotency_key=key, actor=system_actor)
    return len(queries)


def test_formatted_endpoints_add_no_queries_to_the_outbox_write(system_actor):
    endpoint_create(name="plain", url="https://a.example/")
    only_default = queries_to_record(system_actor, "q-1")
    for name in ("slack", "msteams", "google_chat", "discord", "incidentio"):
        endpoint_create(name=name, url=f"https://{name}.example/", format=name)
    endpoint_create(name="bot", url="https://c.example/", format="telegram", format_options={"chat_id": 1})
    assert queries_to_record(system_actor, "q-2") == only_default
    assert Delivery.objects.exclude(body="").count() == 6


# --- Admin ------------------------------------------------------------------------------


@pytest.fixture
def admin(client, django_user_model):
    user = django_user_model.objects.create_superuser("root", "root@example.com", None)
    client.force_login(user)
    return client


def admin_form(**fields) -> dict:
    return {"name": "chat", "url": "https://hooks.example.com/in", "is_active": "on", **fields}


def test_admin_form_checks_the_options_through_the_service(admin):
    add = "/admin/webhooks/webhookendpoint/add/"
    response = admin.post(add, admin_form(format="telegram", format_options='{"chat_id": "general"}'))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "chat_id" in errors["format_options"][0]
    assert not WebhookEndpoint.objects.exists()

    response = admin.post(add, admin_form(format="telegram", format_options='{"chat_id": "-100123"}'), follow=True)
    assert 'id="endpoint-secret"' in response.content.decode()  # saved: the page that shows the secret once
    endpoint = WebhookEndpoint.objects.get()
    assert (endpoint.format, endpoint.format_options) == ("telegram", {"chat_id": "-100123"})

    change = f"/admin/webhooks/webhookendpoint/{endpoint.pk}/change/"
    response = admin.post(change, admin_form(format="slack", format_options='{"mention": "<!here>"}'))
    assert response.status_code == 302, response.context["adminform"].form.errors
    endpoint.refresh_from_db()
    assert (endpoint.format, endpoint.format_options) == ("slack", {"mention": "<!here>"})


def test_admin_delivery_page_shows_the_body_as_sent(admin, system_actor):
    chat = endpoint_create(name="chat", url="https://b.example/", format="slack")
    incident_services.incident_create(title="Disk full on db-7", idempotency_key="f-4", actor=system_actor)
    delivery = Delivery.objects.get(endpoint=chat)

    page = admin.get(f"/admin/webhooks/delivery/{delivery.pk}/change/").content.decode()

    assert "attachments" in page and "Disk full on db-7" in page
