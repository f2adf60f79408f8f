"""Custom headers on an endpoint: validated (reserved names refused), sent on every
attempt, and kept out of the attempt log and API answers when they look like credentials."""

import json

import pytest

from opsknight.tests.asserts import assert_api_error
from webhooks import transport
from webhooks.actions import endpoint_send_test
from webhooks.endpoints import endpoint_create
from webhooks.models import DeliveryAttempt, WebhookEndpoint

pytestmark = pytest.mark.django_db

WEBHOOKS = "/api/v1/webhooks"


def create(api_client, **fields):
    return api_client.post(WEBHOOKS, {"name": "ITSM", "url": "https://hooks.example.com/in", **fields}, format="json")


def test_create_with_headers_stores_them_and_hides_credential_values(api_client):
    headers = {"Authorization": "Bearer itsm-token-123", "X-Team": "sre"}
    response = create(api_client, headers=headers)

    assert response.status_code == 201, response.content
    assert response.json()["headers"] == {"Authorization": "[redacted]", "X-Team": "sre"}
    assert WebhookEndpoint.objects.get(pk=response.json()["id"]).headers == headers
    detail = api_client.get(f"{WEBHOOKS}/{response.json()['id']}")
    assert detail.json()["headers"] == {"Authorization": "[redacted]", "X-Team": "sre"}
    assert "itsm-token-123" not in api_client.get(WEBHOOKS).content.decode()


def test_patch_replaces_headers_and_a_redacted_value_keeps_the_stored_one(api_client):
    endpoint_id = create(api_client, headers={"Authorization": "Bearer one", "X-Old": "1"}).json()["id"]

    response = api_client.patch(
        f"{WEBHOOKS}/{endpoint_id}", {"headers": {"Authorization": "[redacted]", "X-New": "2"}}, format="json"
    )

    assert response.status_code == 200, response.content
    assert WebhookEndpoint.objects.get(pk=endpoint_id).headers == {"Authorization": "Bearer one", "X-New": "2"}
    api_client.patch(f"{WEBHOOKS}/{endpoint_id}", {"headers": {}}, format="json")
    assert WebhookEndpoint.objects.get(pk=endpoint_id).headers == {}


@pytest.mark.parametrize(
    "headers, fragment",
    [
        ({"X-OpsKnight-Signature": "forged"}, "reserved"),
        ({"webhook-id": "x"}, "reserved"),
        ({"content-type": "text/plain"}, "reserved"),
        ({"Host": "evil.example"}, "reserved"),
        ({"User-Agent": "me"}, "reserved"),
        ({"Content-Length": "1"}, "reserved"),
        ({"Bad Name": "x"}, "not a header name"),
        ({"X-Colon:": "x"}, "not a header name"),
        ({"": "x"}, "not a header name"),
        ({"X-Inject": "a\r\nX-Evil: 1"}, "no line breaks"),
        ({"X-Nul": "a\x00b"}, "Null characters are not allowed"),  # DRF's own check
        ({"X-Long": "v" * 1001}, "longer than"),
        ({"X-A": "1", "x-a": "2"}, "twice"),
        ({f"X-{n}": "v" for n in range(21)}, "At most 20"),
    ],
)
def test_bad_headers_are_400_with_a_field_error_and_save_nothing(api_client, headers, fragment):
    error = assert_api_error(create(api_client, headers=headers), 400, code="invalid")
    messages = [m for name, field in error["fields"].items() if name.split(".")[0] == "headers" for m in field]
    assert any(fragment in message for message in messages), error
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize("headers", [["X-A: 1"], "X-A: 1", {"X-A": None}, {"X-A": ["1"]}])
def test_headers_of_the_wrong_shape_are_400(api_client, headers):
    error = assert_api_error(create(api_client, headers=headers), 400, code="invalid")
    assert any(name == "headers" or name.startswith("headers.") for name in error["fields"]), error


def test_patch_with_a_reserved_header_is_400_and_leaves_the_row(api_client):
    endpoint_id = create(api_client, headers={"X-Team": "sre"}).json()["id"]
    error = assert_api_error(
        api_client.patch(f"{WEBHOOKS}/{endpoint_id}", {"headers": {"webhook-signature": "v1,x"}}, format="json"), 400
    )
    assert "headers" in error["fields"]
    assert WebhookEndpoint.objects.get(pk=endpoint_id).headers == {"X-Team": "sre"}


def test_custom_headers_are_sent_and_credentials_stay_out_of_the_attempt_log(receiver):
    endpoint = endpoint_create(
        name="auth", url=receiver.url("/h"), headers={"Authorization": "Bearer s3cr3t-value", "X-Team": "sre"}
    )

    attempt = endpoint_send_test(endpoint=endpoint)

    (request,) = receiver.wait_for(1, "/h")
    assert request.header("Authorization") == "Bearer s3cr3t-value"
    assert request.header("X-Team") == "sre"
    assert request.header("X-OpsKnight-Event") == "incident.triggered"  # ours still there
    stored = DeliveryAttempt.objects.get(pk=attempt.pk).request_headers
    assert stored["Authorization"] == transport.REDACTED and stored["X-Team"] == "sre"
    assert "s3cr3t-value" not in json.dumps(list(DeliveryAttempt.objects.values()), default=str)


def test_custom_header_errors_accepts_good_headers():
    good = {"Authorization": "Bearer x", "X-Tenant_ID.v2": "a b\tc", "X-Empty": ""}
    assert transport.custom_header_errors(good) == []
    assert transport.custom_header_errors({}) == []
    assert transport.custom_header_errors(["X-A"]) == ["Give the headers as an object of names to values."]


def test_moving_the_url_to_another_host_refuses_to_carry_a_stored_credential(api_client):
    """PATCH {"url": ...} alone would send the stored Authorization to the new host."""
    endpoint_id = create(api_client, headers={"Authorization": "Bearer itsm", "X-Team": "sre"}).json()["id"]

    response = api_client.patch(f"{WEBHOOKS}/{endpoint_id}", {"url": "https://attacker.example/in"}, format="json")
    fields = assert_api_error(response, 400)["fields"]
    message = fields["headers"] if isinstance(fields["headers"], str) else fields["headers"][0]
    assert "Authorization" in message and "attacker.example" in message and "X-Team" not in message
    assert WebhookEndpoint.objects.get(pk=endpoint_id).url == "https://hooks.example.com/in"

    # Sending the redacted placeholder back is not giving the value again.
    response = api_client.patch(
        f"{WEBHOOKS}/{endpoint_id}",
        {"url": "https://attacker.example/in", "headers": {"Authorization": "[redacted]", "X-Team": "sre"}},
        format="json",
    )
    assert response.status_code == 400


def test_moving_the_url_with_the_credential_typed_again_or_removed_is_accepted(api_client):
    endpoint_id = create(api_client, headers={"Authorization": "Bearer itsm", "X-Team": "sre"}).json()["id"]
    response = api_client.patch(
        f"{WEBHOOKS}/{endpoint_id}",
        {"url": "https://new.example/in", "headers": {"Authorization": "Bearer new", "X-Team": "sre"}},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert WebhookEndpoint.objects.get(pk=endpoint_id).headers["Authorization"] == "Bearer new"

    response = api_client.patch(
        f"{WEBHOOKS}/{endpoint_id}", {"url": "https://third.example/in", "headers": {"X-Team": "sre"}}, format="json"
    )
    assert response.status_code == 200, response.content
    assert WebhookEndpoint.objects.get(pk=endpoint_id).headers == {"X-Team": "sre"}


def test_a_new_path_or_scheme_on_the_same_host_keeps_the_credential(api_client):
    endpoint_id = create(api_client, headers={"Authorization": "Bearer itsm"}).json()["id"]
    response = api_client.patch(f"{WEBHOOKS}/{endpoint_id}", {"url": "https://HOOKS.example.com:443/v2"}, format="json")
    assert response.status_code == 200, response.content
    assert WebhookEndpoint.objects.get(pk=endpoint_id).headers == {"Authorization": "Bearer itsm"}
