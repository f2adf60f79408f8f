"""`incidentio` endpoints through the API, the admin and the outbox: they subscribe in
incident.io's event names, and a typed secret must be one Svix receivers can use."""

import pytest

from incidents import services as incident_services
from opsknight.tests.asserts import assert_api_error
from webhooks.endpoints import endpoint_create
from webhooks.formats import incidentio
from webhooks.models import Delivery, WebhookEndpoint

pytestmark = pytest.mark.django_db

WEBHOOKS = "/api/v1/webhooks"
SVIX_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def create(api_client, **fields):
    data = {"name": "incident.io bridge", "url": "https://bridge.example.com/incident-io", **fields}
    return api_client.post(WEBHOOKS, data, format="json")


# --- API -----------------------------------------------------------------------------------


def test_an_incidentio_endpoint_subscribes_in_incidentios_names(api_client):
    response = create(api_client, format="incidentio", event_types=[incidentio.UPDATED])
    assert response.status_code == 201, response.content
    assert response.json()["event_types"] == [incidentio.UPDATED]
    assert api_client.get(f"{WEBHOOKS}/{response.json()['id']}").json()["event_types"] == [incidentio.UPDATED]


def test_opsknight_names_are_refused_for_it_listing_the_valid_ones(api_client):
    error = assert_api_error(create(api_client, format="incidentio", event_types=["incident.resolved"]), 400)
    (message,) = error["fields"]["event_types"]
    assert "incident.resolved" in message and ", ".join(incidentio.EVENT_TYPES) in message
    # And the other way round: incident.io's names mean nothing to an opsknight endpoint.
    error = assert_api_error(create(api_client, event_types=[incidentio.UPDATED]), 400)
    assert "incident.triggered" in error["fields"]["event_types"][0]


def test_changing_the_format_needs_names_of_the_new_format(api_client):
    endpoint = create(api_client, event_types=["incident.resolved"]).json()
    url = f"{WEBHOOKS}/{endpoint['id']}"
    assert_api_error(api_client.patch(url, {"format": "incidentio"}, format="json"), 400)
    response = api_client.patch(url, {"format": "incidentio", "event_types": [incidentio.UPDATED]}, format="json")
    assert response.status_code == 200, response.content


@pytest.mark.parametrize("secret", ["my-shared-secret-1234", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"])
def test_a_typed_secret_svix_cannot_use_is_a_400(api_client, secret):
    error = assert_api_error(create(api_client, format="incidentio", secret=secret), 400)
    assert "whsec_" in error["fields"]["secret"][0]
    assert not WebhookEndpoint.objects.exists()
    # The same secret is fine for an opsknight endpoint (its receivers use it as text).
    assert create(api_client, secret=secret).status_code == 201


def test_a_whsec_secret_is_taken_and_rotation_checks_it_too(api_client):
    response = create(api_client, format="incidentio", secret=SVIX_SECRET)
    assert response.status_code == 201, response.content
    assert response.json()["secret"] == SVIX_SECRET
    rotate = f"{WEBHOOKS}/{response.json()['id']}/rotate-secret"
    error = assert_api_error(api_client.post(rotate, {"secret": "my-shared-secret-1234"}, format="json"), 400)
    assert "whsec_" in error["fields"]["secret"][0]
    assert api_client.post(rotate, {}, format="json").status_code == 200  # a generated one


def test_an_endpoint_with_a_typed_text_secret_cannot_become_incidentio(api_client):
    endpoint = create(api_client, secret="my-shared-secret-1234").json()
    url = f"{WEBHOOKS}/{endpoint['id']}"
    error = assert_api_error(api_client.patch(url, {"format": "incidentio"}, format="json"), 400)
    assert "rotate" in error["fields"]["format"][0]
    assert api_client.post(f"{url}/rotate-secret", {}, format="json").status_code == 200
    assert api_client.patch(url, {"format": "incidentio"}, format="json").status_code == 200


# --- Admin -----------------------------------------------------------------------------------


@pytest.fixture
def admin(client, django_user_model):
    user = django_user_model.objects.create_superuser("root", "root@example.com", None)
    client.force_login(user)
    return client


ADD = "/admin/webhooks/webhookendpoint/add/"


def admin_form(**fields) -> dict:
    return {"name": "bridge", "url": "https://bridge.example.com/in", "is_active": "on", **fields}


def test_the_admin_offers_incidentios_names_and_saves_them(admin):
    page = admin.get(ADD).content.decode()
    for name in incidentio.EVENT_TYPES:
        assert f'value="{name}"' in page
    assert "incidentio endpoints" in page

    response = admin.post(ADD, admin_form(format="incidentio", event_types=[incidentio.UPDATED]), follow=True)
    assert 'id="endpoint-secret"' in response.content.decode()
    endpoint = WebhookEndpoint.objects.get()
    assert (endpoint.format, endpoint.event_types) == ("incidentio", [incidentio.UPDATED])


def test_the_admin_refuses_names_and_secrets_of_another_format(admin):
    response = admin.post(ADD, admin_form(format="incidentio", event_types=["incident.triggered"]))
    errors = response.context["adminform"].form.errors
    assert "incident.triggered" in errors["event_types"][0]
    response = admin.post(ADD, admin_form(format="incidentio", secret="my-shared-secret-1234"))
    assert "whsec_" in response.context["adminform"].form.errors["secret"][0]
    assert not WebhookEndpoint.objects.exists()

    plain = endpoint_create(name="plain", url="https://bridge.example.com/in", secret="my-shared-secret-1234")
    response = admin.post(f"/admin/webhooks/webhookendpoint/{plain.pk}/change/", admin_form(format="incidentio"))
    assert response.status_code == 200
    assert "rotate" in response.context["adminform"].form.errors["format"][0]


# --- Outbox ------------------------------------------------------------------------------------


def test_each_message_is_a_delivery_filtered_by_the_subscription(system_actor):
    updated_only = endpoint_create(
        name="updated", url="https://a.example/", format="incidentio", event_types=[incidentio.UPDATED]
    )
    everything = endpoint_create(name="all", url="https://b.example/", format="incidentio")
    incident, _ = incident_services.incident_create(title="Disk full", idempotency_key="io-1", actor=system_actor)
    incident_services.incident_acknowledge(incident=incident, actor=system_actor)
    incident_services.incident_resolve(incident=incident, actor=system_actor)

    def types(endpoint):
        deliveries = Delivery.objects.filter(endpoint=endpoint).order_by("created_at", "message_id")
        return [(d.event.type, d.message_type) for d in deliveries]

    assert types(updated_only) == [
        ("incident.acknowledged", incidentio.UPDATED),
        ("incident.resolved", incidentio.UPDATED),
    ]
    assert types(everything) == [
        ("incident.triggered", incidentio.CREATED),
        ("incident.acknowledged", incidentio.UPDATED),
        ("incident.acknowledged", incidentio.STATUS_UPDATED),
        ("incident.resolved", incidentio.UPDATED),
        ("incident.resolved", incidentio.STATUS_UPDATED),
    ]
    ids = {d.webhook_id for d in Delivery.objects.filter(endpoint=everything)}
    assert len(ids) == 5
