"""API keys: the service, the create_api_key command, and authentication over HTTP."""

import hashlib
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from opsknight.models import ApiKey, Scope
from opsknight.services import api_key_create, api_key_find_active, api_key_revoke
from opsknight.tests.asserts import assert_api_error

INCIDENTS_URL = "/api/v1/incidents"


def client_with_header(value: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=value)
    return client


# --- service ---------------------------------------------------------------------


@pytest.mark.django_db
def test_api_key_create_stores_only_a_digest():
    key, raw_key = api_key_create(name="grafana", scopes=[Scope.INCIDENTS_READ, Scope.INCIDENTS_READ])

    stored = ApiKey.objects.get(pk=key.pk)
    assert raw_key.startswith("opsk_")
    assert stored.hashed_key == hashlib.sha256(raw_key.encode()).hexdigest()
    assert raw_key not in {stored.id, stored.name, stored.prefix, stored.hashed_key}
    assert raw_key.startswith(stored.prefix)
    assert stored.scopes == [Scope.INCIDENTS_READ]  # de-duplicated
    assert api_key_find_active(raw_key=raw_key) == stored


@pytest.mark.django_db
@pytest.mark.parametrize("scopes", [["incidents:nope"], []])
def test_api_key_create_refuses_unknown_or_no_scopes(scopes):
    with pytest.raises(ValidationError) as error:
        api_key_create(name="bad", scopes=scopes)
    assert "scopes" in error.value.message_dict
    assert not ApiKey.objects.exists()


@pytest.mark.django_db
def test_revoked_key_is_not_found():
    key, raw_key = api_key_create(name="old", scopes=[Scope.INCIDENTS_READ])
    api_key_revoke(key=key)
    assert ApiKey.objects.get(pk=key.pk).revoked_at is not None
    assert api_key_find_active(raw_key=raw_key) is None


# --- create_api_key command ------------------------------------------------------------


@pytest.mark.django_db
def test_create_api_key_command_prints_the_key_on_its_last_line():
    stdout, stderr = StringIO(), StringIO()
    call_command(
        "create_api_key", "--name", "pager bridge", "--scopes", "incidents:read, incidents:write", stdout=stdout,
        stderr=stderr,
    )  # fmt: skip

    raw_key = stdout.getvalue().strip().splitlines()[-1]
    assert raw_key.startswith("opsk_") and " " not in raw_key
    key = ApiKey.objects.get()
    assert key.name == "pager bridge"
    assert key.scopes == ["incidents:read", "incidents:write"]
    assert key.hashed_key == hashlib.sha256(raw_key.encode()).hexdigest()
    assert raw_key not in stderr.getvalue()

    response = client_with_header(f"Bearer {raw_key}").get(INCIDENTS_URL)
    assert response.status_code == 200, response.content


@pytest.mark.django_db
@pytest.mark.parametrize("scopes", ["incidents:read,incidents:everything", " , "])
def test_create_api_key_command_refuses_bad_scopes(scopes):
    with pytest.raises(CommandError) as error:
        call_command("create_api_key", "--name", "x", "--scopes", scopes, stdout=StringIO(), stderr=StringIO())
    assert "scope" in str(error.value)
    assert not ApiKey.objects.exists()


# --- authentication and scopes over HTTP -------------------------------------------------


@pytest.mark.django_db
def test_missing_key_is_401():
    response = APIClient().get(INCIDENTS_URL)
    assert_api_error(response, 401, code="not_authenticated")
    assert response["WWW-Authenticate"] == "Bearer"


@pytest.mark.django_db
@pytest.mark.parametrize("header", ["Token abc", "Bearer", "Bearer two parts", "Basic dXNlcjpwYXNz", "opsk_abc"])
def test_malformed_authorization_header_is_401(header):
    assert_api_error(client_with_header(header).get(INCIDENTS_URL), 401, code="authentication_failed")


@pytest.mark.django_db
def test_unknown_key_is_401():
    api_key_create(name="real", scopes=[Scope.INCIDENTS_READ])
    response = client_with_header("Bearer opsk_not-a-real-key").get(INCIDENTS_URL)
    assert_api_error(response, 401, code="authentication_failed")


@pytest.mark.django_db
def test_revoked_key_is_401(make_api_client):
    client = make_api_client(scopes=[Scope.INCIDENTS_READ])
    assert client.get(INCIDENTS_URL).status_code == 200
    api_key_revoke(key=client.api_key)
    assert_api_error(client.get(INCIDENTS_URL), 401, code="authentication_failed")


@pytest.mark.django_db
def test_missing_scope_is_403_naming_the_scope(make_api_client):
    client = make_api_client(scopes=[Scope.INCIDENTS_READ])
    response = client.post(INCIDENTS_URL, {"title": "x", "idempotency_key": "k"}, format="json")
    error = assert_api_error(response, 403, code="permission_denied")
    assert "incidents:write" in error["message"]

    writer = make_api_client(scopes=[Scope.INCIDENTS_WRITE])
    error = assert_api_error(writer.get(INCIDENTS_URL), 403)
    assert "incidents:read" in error["message"]


@pytest.mark.django_db
def test_wrong_method_is_405_even_without_the_scope(make_api_client):
    client = make_api_client(scopes=[Scope.WEBHOOKS_MANAGE])
    assert_api_error(client.delete(INCIDENTS_URL), 405, code="method_not_allowed")
