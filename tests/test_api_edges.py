"""API edges found by the fuzzer and by trying the quickstart."""

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize("path", ["/api/v1/nope", "/api/v2/incidents", "/api/"])
def test_unknown_api_paths_are_json_404_with_debug_on_or_off(settings, api_client, debug, path):
    settings.DEBUG = debug
    response = api_client.get(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == "not_found"


def test_a_nul_byte_is_a_400_not_a_500(api_client):
    response = api_client.post(
        "/api/v1/incidents", {"title": "t", "idempotency_key": "nul", "service_id": "svc_\x00"}, format="json"
    )
    assert response.status_code == 400
    assert "service_id" in response.json()["error"]["fields"]
    assert api_client.get("/api/v1/incidents/inc_%00").status_code == 400


def test_an_invalid_cursor_is_a_400_naming_the_cursor(api_client):
    response = api_client.get("/api/v1/incidents?cursor=not-a-cursor")
    assert response.status_code == 400
    assert "cursor" in response.json()["error"]["fields"]


def test_the_declaring_key_may_replay_its_private_incident_but_other_keys_may_not(make_api_client):
    writer = make_api_client(scopes=["incidents:write", "incidents:read"])
    body = {"title": "secret", "idempotency_key": "priv-1", "visibility": "private"}
    first = writer.post("/api/v1/incidents", body, format="json")
    assert first.status_code == 201
    again = writer.post("/api/v1/incidents", body, format="json")
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]

    other = make_api_client(scopes=["incidents:write", "incidents:read"])
    refused = other.post("/api/v1/incidents", body, format="json")
    assert refused.status_code == 409
    assert "secret" not in refused.content.decode()
