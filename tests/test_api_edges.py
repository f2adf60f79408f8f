"""API edges found by the fuzzer and by trying the quickstart."""

import re

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


def test_the_declaring_key_may_replay_its_private_incident_and_other_keys_get_their_own(make_api_client):
    writer = make_api_client(scopes=["incidents:write", "incidents:read"])
    body = {"title": "secret", "idempotency_key": "priv-1", "visibility": "private"}
    first = writer.post("/api/v1/incidents", body, format="json")
    assert first.status_code == 201
    again = writer.post("/api/v1/incidents", body, format="json")
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]

    # Idempotency keys are per API key: another key's request is its own incident.
    other = make_api_client(scopes=["incidents:write", "incidents:read"])
    separate = other.post("/api/v1/incidents", {**body, "title": "other"}, format="json")
    assert separate.status_code == 201
    assert first.json()["id"] not in separate.content.decode()


# --- Bodies nested too deep (issue 15) ---------------------------------------------------------

JSON_ENDPOINTS = [
    ("post", "/api/v1/incidents"),
    ("post", "/api/v1/events"),
    ("post", "/api/v1/services"),
    ("post", "/api/v1/responders"),
    ("post", "/api/v1/webhooks"),
]


@pytest.mark.parametrize(("method", "path"), JSON_ENDPOINTS)
@pytest.mark.parametrize("opener", ["[", '{"a":'])
def test_a_body_nested_5000_deep_is_a_400_parse_error(api_client, method, path, opener):
    closer = "]" if opener == "[" else "}"
    body = opener * 5000 + "1" + closer * 5000
    response = getattr(api_client, method)(path, body, content_type="application/json")
    assert response.status_code == 400, response.content[:200]
    error = response.json()["error"]
    assert error["code"] == "parse_error"
    assert "nested deeper than 64 levels" in error["message"]


def _alert(custom_details) -> dict:
    payload = {"summary": "deep", "source": "host", "severity": "info", "custom_details": custom_details}
    return {"event_action": "trigger", "payload": payload}


def _nested(levels: int):
    value = "bottom"
    for _ in range(levels):
        value = {"k": value}
    return value


def test_json_nested_64_deep_is_read_and_65_is_refused(api_client):
    # The body is level 1, payload 2; custom_details' objects are levels 3 to 64.
    accepted = api_client.post("/api/v1/events", _alert(_nested(62)), format="json")
    assert accepted.status_code == 202, accepted.content
    refused = api_client.post("/api/v1/events", _alert(_nested(63)), format="json")
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "parse_error"


def test_malformed_json_is_still_a_parse_error(api_client):
    response = api_client.post("/api/v1/incidents", '{"title": ', content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"


# --- A trailing slash (issue 15: `/api/v1/incidents/` was a 404) ------------------------------


def schema_paths(client) -> list[str]:
    """Every path of the published schema, with its parameters filled in."""
    paths = client.get("/api/v1/schema").json()["paths"]
    return [re.sub(r"\{[^}]+\}", "x_1", path) for path in paths]


def test_every_api_path_with_a_trailing_slash_redirects_308_to_the_path(api_client):
    paths = schema_paths(api_client) + ["/api/docs", "/api/v1/schema"]
    assert len(paths) > 20
    for path in paths:
        response = api_client.get(path + "/?limit=2")
        assert response.status_code == 308, path
        assert response["Location"] == path + "?limit=2"
        assert response["Content-Type"] == "application/json"
        assert response.json()["error"]["code"] == "moved_permanently"


def test_a_post_with_a_trailing_slash_is_followed_as_a_post(api_client):
    body = {"title": "slash", "idempotency_key": "slash-1"}
    response = api_client.post("/api/v1/incidents/", body, format="json", follow=True)
    assert response.redirect_chain == [("/api/v1/incidents", 308)]
    assert response.status_code == 201, response.content
    assert response.json()["title"] == "slash"


@pytest.mark.parametrize("path", ["/api/v1/nope/", "/api/v1/", "/api/", "/api/v1/incidents/x/y/"])
def test_a_trailing_slash_on_a_path_that_does_not_exist_is_still_a_404(api_client, path):
    response = api_client.get(path)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
