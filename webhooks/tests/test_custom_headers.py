"""Custom headers on an endpoint: validated (reserved names refused), sent on every
attempt, and kept out of the attempt log and API answers when they look like credentials."""

import json

import pytest

from opsknight.tests.asserts import assert_api_error
from webhooks import sender, services
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
    endpoint = services.endpoint_create(
        name="auth", url=receiver.url("/h"), headers={"Authorization": "Bearer s3cr3t-value", "X-Team": "sre"}
    )

    attempt = services.endpoint_send_test(endpoint=endpoint)

    (request,) = receiver.wait_for(1, "/h")
    assert request.header("Authorization") == "Bearer s3cr3t-value"
    assert request.header("X-Team") == "sre"
    assert request.header("X-OpsKnight-Event") == "incident.triggered"  # ours still there
    stored = DeliveryAttempt.objects.get(pk=attempt.pk).request_headers
    assert stored["Authorization"] == sender.REDACTED and stored["X-Team"] == "sre"
    assert "s3cr3t-value" not in json.dumps(list(DeliveryAttempt.objects.values()), default=str)


def test_custom_header_errors_accepts_good_headers():
    assert sender.custom_header_errors({"Authorization": "Bearer x", "X-Tenant_ID.v2": "a b\tc", "X-Empty": ""}) == []
    assert sender.custom_header_errors({}) == []
    assert sender.custom_header_errors(["X-A"]) == ["Give the headers as an object of names to values."]
