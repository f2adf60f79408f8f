"""Invalid-choice errors name the valid values (issue 15), in every input of the API."""

import inspect
import json
from pathlib import Path

import pytest
from rest_framework import serializers

from incidents.alerts import ALERT_SEVERITIES
from incidents.api import serializers as incident_serializers
from incidents.models import Incident
from webhooks import formats
from webhooks.api import serializers as webhook_serializers
from webhooks.endpoints import endpoint_create
from webhooks.models import EVENT_TYPES, Delivery

BAD = "no-such-value"


def choice_fields(serializer, prefix=""):
    for name, field in serializer.fields.items():
        if isinstance(field, serializers.Serializer):
            yield from choice_fields(field, f"{prefix}{name}.")
        elif isinstance(field, serializers.ChoiceField):
            yield f"{prefix}{name}", field


INPUTS = [
    cls
    for module in (incident_serializers, webhook_serializers)
    for _, cls in inspect.getmembers(module, inspect.isclass)
    if issubclass(cls, serializers.Serializer) and cls.__module__ == module.__name__ and cls.__name__.endswith("Input")
]
FIELDS = {f"{cls.__name__}.{name}": field for cls in INPUTS for name, field in choice_fields(cls())}


def test_the_walk_finds_the_choice_fields():
    assert {"IncidentCreateInput.severity", "AlertEventInput.payload.severity", "EndpointCreateInput.format"} <= set(
        FIELDS
    )


@pytest.mark.parametrize("name", sorted(FIELDS))
def test_every_choice_field_of_every_input_lists_its_valid_values(name):
    field = FIELDS[name]
    with pytest.raises(serializers.ValidationError) as error:
        field.run_validation(BAD)
    (message,) = error.value.detail
    assert BAD in message
    for value in field.choices:
        assert str(value) in message, (name, message)


def field_error(response, field: str) -> str:
    assert response.status_code == 400, response.content
    return response.json()["error"]["fields"][field][0]


INCIDENT = {"title": "t", "idempotency_key": "k"}
ENDPOINT = {"name": "n", "url": "https://example.com"}
ALERT_PAYLOAD = {"summary": "s", "source": "h", "severity": "info"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "path", "body", "field", "valid"),
    [
        ("post", "/api/v1/incidents", {**INCIDENT, "severity": BAD}, "severity", Incident.Severity.values),
        ("post", "/api/v1/incidents", {**INCIDENT, "visibility": BAD}, "visibility", Incident.Visibility.values),
        ("get", "/api/v1/incidents", {"status": BAD}, "status", Incident.Status.values),
        ("get", "/api/v1/incidents", {"severity": BAD}, "severity", Incident.Severity.values),
        ("post", "/api/v1/events", {"event_action": BAD}, "event_action", ["trigger", "acknowledge", "resolve"]),
        (
            "post",
            "/api/v1/events",
            {"event_action": "trigger", "payload": {**ALERT_PAYLOAD, "severity": BAD}},
            "payload.severity",
            ALERT_SEVERITIES,
        ),
        (
            "post",
            "/api/v1/webhooks",
            {**ENDPOINT, "format": BAD},
            "format",
            formats.NAMES,
        ),
        (
            "post",
            "/api/v1/webhooks",
            {**ENDPOINT, "event_types": [BAD]},
            "event_types",
            EVENT_TYPES.values,
        ),
        ("post", "/api/v1/webhooks/{id}/test", {"event_type": BAD}, "event_type", EVENT_TYPES.values),
        ("get", "/api/v1/webhooks/{id}/deliveries", {"status": BAD}, "status", Delivery.Status.values),
        ("get", "/api/v1/webhooks/{id}/deliveries", {"event_type": BAD}, "event_type", EVENT_TYPES.values),
    ],
)
def test_the_api_names_the_valid_values(api_client, method, path, body, field, valid):
    endpoint = endpoint_create(name="e", url="https://example.com/hook")
    path = path.format(id=endpoint.id)
    response = api_client.post(path, body, format="json") if method == "post" else api_client.get(path, body)
    message = field_error(response, field)
    assert BAD in message
    for value in valid:
        assert value in message, message


@pytest.mark.django_db
def test_the_example_in_api_md_is_the_real_answer(api_client):
    text = (Path(__file__).resolve().parents[1] / "docs" / "api.md").read_text()
    (example,) = [line for line in text.splitlines() if '\\"urgent\\" is not a valid choice' in line]
    response = api_client.post("/api/v1/incidents", {**INCIDENT, "severity": "urgent"}, format="json")
    assert response.json() == json.loads(example)
