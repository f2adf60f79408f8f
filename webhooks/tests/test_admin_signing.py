"""Signing in the admin: the select on the form, the public key with its Copy button (the
private key on no page), the secret page of an ed25519 endpoint, Rotate key pair, and
what happens to the secret buttons and actions of an endpoint without a secret."""

import pytest
from django.contrib.admin.utils import quote

from webhooks.endpoints import endpoint_create
from webhooks.models import Signing, WebhookEndpoint
from webhooks.tests.test_admin import ENDPOINTS, add_form, messages_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("root", "root@example.com", None))
    return client


def change_form(endpoint: WebhookEndpoint, **fields) -> dict:
    data = {**add_form(name=endpoint.name, url=endpoint.url, event_types=[], format=endpoint.format), **fields}
    del data["secret"]
    return data


def assert_no_private_key(page: str, *endpoints: WebhookEndpoint) -> None:
    assert "whsk_" not in page
    for endpoint in endpoints:
        for key in (endpoint.signing_key, endpoint.previous_signing_key):
            if key:
                assert key.removeprefix("whsk_")[:40] not in page


def test_add_form_has_a_signing_select(admin):
    page = admin.get(f"{ENDPOINTS}add/").content.decode()
    assert '<select name="signing"' in page
    for value in Signing.values:
        assert f'<option value="{value}"' in page


def test_adding_an_ed25519_endpoint_shows_its_public_key_and_no_secret(admin):
    response = admin.post(f"{ENDPOINTS}add/", add_form(signing="ed25519"), follow=True)  # to the secret page

    assert response.status_code == 200, response.context and response.context["adminform"].form.errors
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.signing == "ed25519" and endpoint.secret == ""
    page = response.content.decode()
    assert "copy its public key" in page and "not shown again" not in page
    assert f'<code id="endpoint-public-key" class="ok-secret-value">{endpoint.public_key}</code>' in page
    assert 'id="copy-public-key"' in page and 'id="copy-secret"' not in page
    assert_no_private_key(page, endpoint)


def test_adding_a_both_endpoint_shows_the_secret_once_and_the_public_key(admin):
    response = admin.post(f"{ENDPOINTS}add/", add_form(signing="both"), follow=True)
    endpoint = WebhookEndpoint.objects.get()
    page = response.content.decode()
    assert page.count(endpoint.secret) == 1 and endpoint.public_key in page
    assert_no_private_key(page, endpoint)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"signing": "ed25519", "secret": "typed-in-admin-12345"}, "secret"),
        ({"signing": "ed25519", "format": "pagerduty"}, "signing"),
        ({"signing": "rsa"}, "signing"),
    ],
)
def test_refused_signing_shows_the_form_again(admin, fields, field):
    response = admin.post(f"{ENDPOINTS}add/", add_form(**fields))
    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    assert not WebhookEndpoint.objects.exists()


def test_the_change_page_shows_the_public_key_with_copy_and_never_the_private_key(admin):
    endpoint = endpoint_create(name="pk", url="https://hooks.example.com/in", signing="ed25519")

    page = admin.get(f"{ENDPOINTS}{quote(endpoint.pk)}/change/").content.decode()

    assert f'<code class="ok-secret-value" id="endpoint-public-key">{endpoint.public_key}</code>' in page
    assert 'id="copy-public-key"' in page and "opsknight/copy.js" in page
    assert 'id="rotate-key-button"' in page
    assert 'id="rotate-secret-button"' not in page and 'id="no-secret"' in page
    assert '<option value="ed25519" selected>' in page
    assert_no_private_key(page, endpoint)
    assert_no_private_key(admin.get(ENDPOINTS).content.decode(), endpoint)


def test_an_hmac_endpoint_has_no_key_pair_to_show_or_rotate(admin):
    endpoint = endpoint_create(name="mac", url="https://hooks.example.com/in")
    page = admin.get(f"{ENDPOINTS}{quote(endpoint.pk)}/change/").content.decode()
    assert "signing hmac: no key pair" in page
    assert 'id="rotate-key-button"' not in page and 'id="rotate-secret-button"' in page
    response = admin.post(f"{ENDPOINTS}{quote(endpoint.pk)}/rotate-key/", follow=True)
    assert any("no key pair" in m for m in messages_of(response))
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).signing_key == ""


def test_rotate_key_button(admin, settings):
    endpoint = endpoint_create(name="pk", url="https://hooks.example.com/in", signing="ed25519")

    response = admin.post(f"{ENDPOINTS}{quote(endpoint.pk)}/rotate-key/", follow=True)

    row = WebhookEndpoint.objects.get(pk=endpoint.pk)
    assert row.public_key != endpoint.public_key and row.previous_public_key == endpoint.public_key
    (message,) = messages_of(response)
    assert row.public_key in message and "whsk_" not in message
    page = response.content.decode()
    assert f"The previous key, {endpoint.public_key}, also signs v1a until" in page
    assert_no_private_key(page, row)
    assert admin.get(f"{ENDPOINTS}{quote(endpoint.pk)}/rotate-key/").status_code == 405


def test_rotate_actions_skip_what_they_cannot_rotate(admin):
    mac = endpoint_create(name="mac", url="https://hooks.example.com/in")
    pk = endpoint_create(name="pk", url="https://hooks2.example.com/in", signing="ed25519")
    selection = [mac.pk, pk.pk]

    confirmed = {"action": "rotate_secret", "_selected_action": selection, "confirmed": "yes"}
    response = admin.post(ENDPOINTS, confirmed, follow=True)  # past the confirmation page
    assert response.status_code == 200
    assert any("Not rotated" in m and "pk" in m for m in messages_of(response))
    assert WebhookEndpoint.objects.get(pk=mac.pk).secret != mac.secret
    assert WebhookEndpoint.objects.get(pk=pk.pk).secret == ""

    response = admin.post(ENDPOINTS, {"action": "rotate_key", "_selected_action": selection}, follow=True)
    messages = messages_of(response)
    assert any(m.startswith("mac: signing hmac") for m in messages)
    assert WebhookEndpoint.objects.get(pk=pk.pk).previous_public_key == pk.public_key
    assert all("whsk_" not in m for m in messages)

    # Only ed25519 endpoints selected: nothing to show, back to the list.
    response = admin.post(ENDPOINTS, {"action": "rotate_secret", "_selected_action": [pk.pk]}, follow=True)
    assert any("Not rotated" in m and "pk" in m for m in messages_of(response))
    button = admin.post(f"{ENDPOINTS}{quote(pk.pk)}/rotate-secret/", follow=True)
    assert any("no shared secret" in m for m in messages_of(button))


def test_changing_signing_to_both_shows_the_new_secret_once(admin):
    endpoint = endpoint_create(name="pk", url="https://hooks.example.com/in", signing="ed25519")

    response = admin.post(
        f"{ENDPOINTS}{quote(endpoint.pk)}/change/", change_form(endpoint, signing="both"), follow=True
    )

    assert response.status_code == 200, response.context and response.context["adminform"].form.errors
    row = WebhookEndpoint.objects.get(pk=endpoint.pk)
    assert row.signing == "both" and row.secret.startswith("whsec_") and row.public_key == endpoint.public_key
    page = response.content.decode()
    assert "New signing secret" in page and page.count(row.secret) == 1
    assert not [m for m in messages_of(response) if row.secret in m]


def test_a_change_without_signing_in_the_post_keeps_it(admin):
    endpoint = endpoint_create(name="pk", url="https://hooks.example.com/in", signing="ed25519")
    response = admin.post(f"{ENDPOINTS}{quote(endpoint.pk)}/change/", change_form(endpoint, name="renamed"))
    assert response.status_code == 302
    row = WebhookEndpoint.objects.get(pk=endpoint.pk)
    assert (row.name, row.signing, row.signing_key) == ("renamed", "ed25519", endpoint.signing_key)
