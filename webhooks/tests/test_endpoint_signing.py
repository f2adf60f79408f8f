"""Signing with ed25519 (`v1a`): the services (what each `signing` keeps, switching,
rotating the key pair) and the API (create, update, rotate; the private key in no answer
and not in the attempt log)."""

import logging
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from opsknight.errors import ConflictError
from opsknight.tests.asserts import assert_api_error
from tests.support.standard_webhooks_v1a import AsymmetricWebhook
from webhooks.endpoint_signing import endpoint_rotate_signing_key
from webhooks.endpoints import endpoint_create, endpoint_rotate_secret, endpoint_update
from webhooks.models import DeliveryAttempt, Signing, WebhookEndpoint
from webhooks.tests.support import declare, delivery_attempt, reload
from webhooks.transport import signing

pytestmark = pytest.mark.django_db

WEBHOOKS = "/api/v1/webhooks"
URL = "https://hooks.example.com/in"


def has_key_pair(endpoint: WebhookEndpoint) -> bool:
    return (
        endpoint.signing_key.startswith("whsk_")
        and endpoint.public_key.startswith("whpk_")
        and signing.public_key(endpoint.signing_key) == endpoint.public_key
    )


# --- Services -------------------------------------------------------------------------


def test_an_hmac_endpoint_has_a_secret_and_no_key_pair():
    endpoint = reload(endpoint_create(name="a", url=URL))
    assert endpoint.signing == Signing.HMAC
    assert endpoint.secret.startswith("whsec_")
    assert endpoint.signing_key == endpoint.public_key == ""
    assert endpoint.signing_keys() == []


def test_an_ed25519_endpoint_has_a_key_pair_and_no_secret():
    endpoint = reload(endpoint_create(name="a", url=URL, signing="ed25519"))
    assert has_key_pair(endpoint)
    assert endpoint.secret == ""
    assert endpoint.signing_secrets() == []
    assert endpoint.signing_keys() == [endpoint.signing_key]


def test_a_both_endpoint_has_both():
    endpoint = reload(endpoint_create(name="a", url=URL, signing="both", secret="my-typed-secret-1234"))
    assert has_key_pair(endpoint)
    assert endpoint.signing_secrets() == ["my-typed-secret-1234"]
    assert endpoint.signing_keys() == [endpoint.signing_key]


def test_a_typed_secret_for_an_ed25519_endpoint_is_refused():
    with pytest.raises(ValidationError) as caught:
        endpoint_create(name="a", url=URL, signing="ed25519", secret="my-typed-secret-1234")
    assert "no shared secret" in caught.value.message_dict["secret"][0]
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize("format", ["pagerduty", "incidentio"])
def test_formats_whose_receivers_verify_an_hmac_refuse_ed25519_alone(format):
    with pytest.raises(ValidationError) as caught:
        endpoint_create(name="a", url=URL, format=format, signing="ed25519")
    assert "hmac or both" in caught.value.message_dict["signing"][0]
    endpoint = endpoint_create(name="a", url=URL, format=format, signing="both")
    assert endpoint.secret and has_key_pair(endpoint)


def test_moving_an_ed25519_endpoint_to_pagerduty_is_refused_on_signing():
    endpoint = endpoint_create(name="a", url=URL, signing="ed25519")
    with pytest.raises(ValidationError) as caught:
        endpoint_update(endpoint=endpoint, format="pagerduty")
    assert set(caught.value.message_dict) == {"signing"}
    assert reload(endpoint).format == "opsknight"


def test_an_unknown_signing_is_refused():
    with pytest.raises(ValidationError) as caught:
        endpoint_create(name="a", url=URL, signing="rsa")
    assert "Valid: hmac, ed25519, both" in caught.value.message_dict["signing"][0]


def test_switching_generates_what_is_needed_and_drops_what_is_not(settings):
    endpoint = endpoint_create(name="a", url=URL)
    endpoint = endpoint_rotate_secret(endpoint=endpoint)  # a previous secret in its overlap
    first_secret = endpoint.secret

    endpoint = reload(endpoint_update(endpoint=endpoint, signing="both"))
    assert endpoint.secret == first_secret and endpoint.previous_secret  # unchanged
    assert has_key_pair(endpoint)
    key = endpoint.signing_key

    endpoint = reload(endpoint_update(endpoint=endpoint, signing="ed25519"))
    assert endpoint.signing_key == key  # the same key pair: receivers already trust it
    assert endpoint.secret == endpoint.previous_secret == "" and endpoint.previous_secret_expires_at is None

    endpoint = reload(endpoint_update(endpoint=endpoint, signing="both"))
    assert endpoint.secret.startswith("whsec_") and endpoint.secret != first_secret
    assert endpoint.signing_key == key

    endpoint = reload(endpoint_update(endpoint=endpoint, signing="hmac"))
    assert endpoint.signing_key == endpoint.public_key == endpoint.previous_signing_key == ""
    assert endpoint.signing_keys() == []

    # Updating other fields leaves the keys alone.
    endpoint = reload(endpoint_update(endpoint=endpoint, signing="ed25519"))
    key = endpoint.signing_key
    endpoint = reload(endpoint_update(endpoint=endpoint, name="b", signing="ed25519"))
    assert endpoint.signing_key == key and endpoint.name == "b"


def test_rotating_the_key_pair_overlaps_like_the_secret(settings):
    settings.WEBHOOK_SECRET_ROTATION_OVERLAP = 3600
    endpoint = endpoint_create(name="a", url=URL, signing="ed25519")
    old_key, old_public = endpoint.signing_key, endpoint.public_key

    before = timezone.now()
    endpoint = reload(endpoint_rotate_signing_key(endpoint=endpoint))

    assert has_key_pair(endpoint) and endpoint.signing_key != old_key
    assert (endpoint.previous_signing_key, endpoint.previous_public_key) == (old_key, old_public)
    assert before + timedelta(seconds=3600) <= endpoint.previous_key_expires_at
    assert endpoint.signing_keys() == [endpoint.signing_key, old_key]
    assert endpoint.signing_keys(now=endpoint.previous_key_expires_at + timedelta(seconds=1)) == [endpoint.signing_key]


def test_what_cannot_be_rotated_is_a_conflict():
    with pytest.raises(ConflictError, match="no key pair"):
        endpoint_rotate_signing_key(endpoint=endpoint_create(name="a", url=URL))
    with pytest.raises(ConflictError, match="no shared secret"):
        endpoint_rotate_secret(endpoint=endpoint_create(name="b", url=URL, signing="ed25519"))


# --- API ------------------------------------------------------------------------------


def create(api_client, **fields) -> dict:
    response = api_client.post(WEBHOOKS, {"name": "ITSM", "url": URL, **fields}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_create_ed25519_shows_the_public_key_and_no_secret(api_client):
    created = create(api_client, signing="ed25519")
    endpoint = WebhookEndpoint.objects.get(pk=created["id"])
    assert created["signing"] == "ed25519"
    assert created["public_key"] == endpoint.public_key and created["public_key"].startswith("whpk_")
    assert created["secret"] is None
    assert created["previous_public_key"] is None and created["previous_key_expires_at"] is None
    detail = api_client.get(f"{WEBHOOKS}/{created['id']}").json()
    assert detail["public_key"] == endpoint.public_key and "secret" not in detail
    (listed,) = api_client.get(WEBHOOKS).json()["results"]
    assert listed["public_key"] == endpoint.public_key


def test_create_defaults_to_hmac(api_client):
    created = create(api_client)
    assert created["signing"] == "hmac" and created["public_key"] is None
    assert created["secret"].startswith("whsec_")


@pytest.mark.parametrize(
    ("fields", "field", "text"),
    [
        ({"signing": "rsa"}, "signing", 'Unknown signing "rsa". Valid: hmac, ed25519, both.'),
        ({"signing": "ed25519", "format": "pagerduty"}, "signing", "X-PagerDuty-Signature"),
        ({"signing": "ed25519", "secret": "my-typed-secret-1234"}, "secret", "no shared secret"),
    ],
)
def test_create_refusals_name_the_field(api_client, fields, field, text):
    response = api_client.post(WEBHOOKS, {"name": "ITSM", "url": URL, **fields}, format="json")
    error = assert_api_error(response, 400, code="invalid")
    assert text in error["fields"][field][0]


def test_update_signing_shows_a_new_secret_once(api_client):
    created = create(api_client)
    url = f"{WEBHOOKS}/{created['id']}"

    moved = api_client.patch(url, {"signing": "ed25519"}, format="json")
    assert moved.status_code == 200, moved.content
    assert moved.json()["signing"] == "ed25519" and moved.json()["public_key"].startswith("whpk_")
    assert "secret" not in moved.json()
    assert WebhookEndpoint.objects.get(pk=created["id"]).secret == ""

    back = api_client.patch(url, {"signing": "both"}, format="json").json()
    endpoint = WebhookEndpoint.objects.get(pk=created["id"])
    assert back["secret"] == endpoint.secret and back["secret"].startswith("whsec_")
    assert back["public_key"] == moved.json()["public_key"]
    assert endpoint.secret not in api_client.get(url).content.decode()
    # The next update (no new secret) does not show it again.
    assert "secret" not in api_client.patch(url, {"name": "ITSM 2"}, format="json").json()

    refused = api_client.patch(url, {"signing": "ed25519", "format": "incidentio"}, format="json")
    assert "incident.io" in assert_api_error(refused, 400)["fields"]["signing"][0]


def test_rotate_key(api_client, settings):
    settings.WEBHOOK_SECRET_ROTATION_OVERLAP = 600
    created = create(api_client, signing="both")
    url = f"{WEBHOOKS}/{created['id']}"

    response = api_client.post(f"{url}/rotate-key", format="json")

    assert response.status_code == 200, response.content
    rotated = response.json()
    assert rotated["public_key"].startswith("whpk_") and rotated["public_key"] != created["public_key"]
    assert rotated["previous_public_key"] == created["public_key"]
    assert rotated["previous_key_expires_at"].endswith("Z")
    assert "secret" not in rotated
    endpoint = WebhookEndpoint.objects.get(pk=created["id"])
    assert endpoint.public_key == rotated["public_key"] and len(endpoint.signing_keys()) == 2


def test_rotations_that_do_not_apply_are_409(api_client):
    hmac_only = create(api_client)
    error = assert_api_error(api_client.post(f"{WEBHOOKS}/{hmac_only['id']}/rotate-key"), 409, code="conflict")
    assert "no key pair" in error["message"]
    ed25519 = create(api_client, signing="ed25519")
    error = assert_api_error(api_client.post(f"{WEBHOOKS}/{ed25519['id']}/rotate-secret"), 409, code="conflict")
    assert "no shared secret" in error["message"]
    assert_api_error(api_client.post(f"{WEBHOOKS}/whk_missing/rotate-key"), 404)


def test_rotate_key_needs_webhooks_manage(client, make_api_client):
    path = f"{WEBHOOKS}/whk_x/rotate-key"
    assert_api_error(client.post(path, content_type="application/json"), 401)
    assert_api_error(make_api_client(scopes=["incidents:read"]).post(path), 403)


def test_the_private_key_is_in_no_answer_and_not_in_the_attempt_log(api_client, system_actor, receiver, caplog):
    """Every answer the API gives about an ed25519 endpoint, its deliveries and attempts
    (Send Test and a real event), the attempt log and every log record (extra fields
    included), searched for the private keys, current and previous."""
    caplog.set_level(logging.DEBUG)
    created = create(api_client, signing="both", url=receiver.url("/hook"))
    url = f"{WEBHOOKS}/{created['id']}"
    answers = [str(created)]
    answers.append(api_client.post(f"{url}/rotate-key").content.decode())
    answers.append(api_client.patch(url, {"signing": "ed25519"}, format="json").content.decode())
    answers.append(api_client.post(f"{url}/test", {}, format="json").content.decode())
    declare(system_actor)
    endpoint = WebhookEndpoint.objects.get(pk=created["id"])
    assert delivery_attempt(delivery_id=endpoint.deliveries.get(is_test=False).id).outcome == "succeeded"
    answers.append(api_client.get(url).content.decode())
    answers.append(api_client.get(WEBHOOKS).content.decode())
    deliveries = api_client.get(f"{url}/deliveries")
    answers.append(deliveries.content.decode())
    for delivery in deliveries.json()["results"]:
        answers.append(api_client.get(f"/api/v1/deliveries/{delivery['id']}").content.decode())
    assert len(deliveries.json()["results"]) == 2  # the test and the event

    private_keys = [endpoint.signing_key, endpoint.previous_signing_key]
    assert all(private_keys)
    records = [str(record.__dict__) for record in caplog.records]
    assert any("webhook attempt" in record for record in records)  # the attempts were logged
    for answer in answers + records:
        assert "whsk_" not in answer
        for key in private_keys:
            # Also the bare base64 and its first half (the seed), in any encoding of the answer.
            raw = key.removeprefix("whsk_")
            assert raw not in answer and raw[:40] not in answer and raw[:40].replace("/", "\\/") not in answer
    logged = [str(attempt.request_headers) for attempt in DeliveryAttempt.objects.all()]
    assert len(logged) == 2
    for headers in logged:
        assert "whsk_" not in headers and all(key.removeprefix("whsk_")[:40] not in headers for key in private_keys)
    # What was logged is what was sent: v1a signatures of both key pairs, no HMAC.
    attempt = DeliveryAttempt.objects.filter(delivery__is_test=False).get()
    assert "X-OpsKnight-Signature" not in attempt.request_headers
    assert [s.split(",")[0] for s in attempt.request_headers["webhook-signature"].split(" ")] == ["v1a", "v1a"]


def test_send_test_of_an_ed25519_endpoint_verifies_with_the_public_key(api_client, receiver):
    created = create(api_client, signing="ed25519", url=receiver.url("/hook"))
    outcome = api_client.post(f"{WEBHOOKS}/{created['id']}/test", {}, format="json").json()
    assert outcome["succeeded"] is True
    (request,) = receiver.wait_for(1, "/hook")
    assert request.header("X-OpsKnight-Signature") is None
    assert AsymmetricWebhook(created["public_key"]).verify(request.body, request.headers)["event"] == (
        "incident.triggered"
    )
