"""WEBHOOK_MAX_ENDPOINTS: a bound on stored endpoints (each event writes one delivery per
endpoint), kept under concurrent creates, with a clear 400 past it."""

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from tests.support.concurrency import run_at_once
from webhooks.endpoints import endpoint_create, endpoint_delete
from webhooks.models import WebhookEndpoint


@pytest.fixture
def limit(settings):
    settings.WEBHOOK_MAX_ENDPOINTS = 3
    return 3


def create(n: int) -> WebhookEndpoint:
    # An IP address: no name to look up, so concurrent creates reach the count together.
    return endpoint_create(name=f"e{n}", url=f"https://127.0.0.1/{n}")


@pytest.mark.django_db
def test_the_create_past_the_limit_is_refused_and_a_delete_makes_room(limit):
    endpoints = [create(n) for n in range(limit)]
    with pytest.raises(ValidationError) as error:
        create(limit)
    (message,) = error.value.messages
    assert "3 webhook endpoints" in message and "WEBHOOK_MAX_ENDPOINTS" in message
    assert WebhookEndpoint.objects.count() == limit

    endpoint_delete(endpoint=endpoints[0])
    create(limit)
    assert WebhookEndpoint.objects.count() == limit


@pytest.mark.django_db
def test_disabled_endpoints_count_too(limit):
    for n in range(limit):
        endpoint_create(name=f"off {n}", url=f"https://example.com/{n}", is_active=False)
    with pytest.raises(ValidationError):
        create(limit)


@pytest.mark.django_db
def test_the_api_answers_400_naming_the_limit(limit, make_api_client):
    client = make_api_client(scopes=["webhooks:manage"])
    body = {"name": "x", "url": "https://example.com/hook"}
    assert [client.post("/api/v1/webhooks", body, format="json").status_code for _ in range(limit)] == [201] * limit

    response = client.post("/api/v1/webhooks", body, format="json")

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert error["fields"] == {"non_field_errors": [error["message"].removeprefix("Invalid input. ")]}
    assert "already has 3 webhook endpoints" in error["message"]
    assert WebhookEndpoint.objects.count() == limit


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL concurrency")
def test_concurrent_creates_never_pass_the_limit(settings):
    settings.WEBHOOK_MAX_ENDPOINTS = 5
    for n in range(3):
        create(n)
    results = run_at_once(lambda index: create(100 + index), 8)

    created = [r for r in results if isinstance(r, WebhookEndpoint)]
    refused = [r for r in results if isinstance(r, ValidationError)]
    assert (len(created), len(refused)) == (2, 6), results
    assert WebhookEndpoint.objects.count() == 5
