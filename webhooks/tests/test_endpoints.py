"""Endpoint services: secrets generated or typed, rotation, validation on update."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from standardwebhooks import Webhook

from webhooks.actions import endpoint_send_test
from webhooks.endpoints import endpoint_create, endpoint_rotate_secret, endpoint_update
from webhooks.tests.support import reload

pytestmark = pytest.mark.django_db


def test_created_secret_is_generated_or_typed():
    generated = endpoint_create(name="gen", url="https://example.com/a")
    assert generated.secret.startswith("whsec_") and len(generated.secret) > 40
    typed = endpoint_create(name="typed", url="https://example.com/b", secret="a-typed-secret-1234")
    assert typed.secret == "a-typed-secret-1234"
    with pytest.raises(ValidationError) as error:
        endpoint_create(name="short", url="https://example.com/c", secret="short")
    assert "secret" in error.value.message_dict


def test_rotate_secret_signs_with_both_during_the_overlap(receiver):
    endpoint = endpoint_create(name="rot", url=receiver.url("/rot"))
    old = endpoint.secret

    endpoint_rotate_secret(endpoint=endpoint)

    endpoint.refresh_from_db()
    new = endpoint.secret
    assert new != old and new.startswith("whsec_")
    assert endpoint.previous_secret == old
    assert endpoint.previous_secret_expires_at > timezone.now() + timedelta(hours=23)
    assert endpoint.signing_secrets() == [new, old]

    # A send during the overlap verifies with either secret.
    endpoint_send_test(endpoint=endpoint)
    (request,) = receiver.wait_for(1, "/rot")
    assert len(request.header("webhook-signature").split(" ")) == 2
    Webhook(new).verify(request.body, request.headers)
    Webhook(old).verify(request.body, request.headers)

    endpoint.previous_secret_expires_at = timezone.now() - timedelta(seconds=1)
    endpoint.save()
    endpoint.refresh_from_db()
    assert endpoint.signing_secrets() == [new]


def test_rotate_to_a_typed_secret_and_refuse_a_short_one():
    endpoint = endpoint_create(name="rot", url="https://example.com/a")
    old = endpoint.secret
    endpoint_rotate_secret(endpoint=endpoint, secret="my-new-typed-secret!")
    assert reload(endpoint).secret == "my-new-typed-secret!"
    with pytest.raises(ValidationError):
        endpoint_rotate_secret(endpoint=endpoint, secret="short")
    row = reload(endpoint)
    assert row.secret == "my-new-typed-secret!" and row.previous_secret == old


def test_update_validates_and_keeps_the_row_on_error():
    endpoint = endpoint_create(name="u", url="https://example.com/a", event_types=["incident.resolved"])
    with pytest.raises(ValidationError) as error:
        endpoint_update(endpoint=endpoint, url="ftp://example.com/a")
    assert "url" in error.value.message_dict
    assert reload(endpoint).url == "https://example.com/a"
    with pytest.raises(ValidationError) as error:
        endpoint_update(endpoint=reload(endpoint), event_types=["incident.nope"])
    assert "event_types" in error.value.message_dict
    with pytest.raises(ValueError):
        endpoint_update(endpoint=reload(endpoint), secret="x" * 20)

    updated = endpoint_update(
        endpoint=reload(endpoint),
        event_types=["incident.triggered", "incident.resolved", "incident.triggered"],
        is_active=False,
    )
    row = reload(updated)
    assert row.event_types == ["incident.resolved", "incident.triggered"]
    assert not row.is_active and row.disabled_reason and row.disabled_at
    endpoint_update(endpoint=row, is_active=True)
    row = reload(row)
    assert row.is_active and row.disabled_reason == "" and row.disabled_at is None
