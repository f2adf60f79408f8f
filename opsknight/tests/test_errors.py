"""The API's error shape for requests that never reach a view, and the API's schema and docs."""

import json

import pytest
from django.conf import settings
from django.core.management import call_command

from opsknight.tests.asserts import assert_api_error

INCIDENTS_URL = "/api/v1/incidents"


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/v1/nope", "/api/nothing/here", "/api/v1/incidents/inc_x/comments"])
def test_unknown_api_url_is_a_json_404(client, path):
    error = assert_api_error(client.get(path), 404, code="not_found")
    assert path in error["message"]


@pytest.mark.django_db
def test_unknown_url_outside_the_api_is_not_json(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert not response["Content-Type"].startswith("application/json")


@pytest.mark.django_db
def test_body_over_the_limit_is_413_before_authentication(client):
    body = json.dumps({"title": "x" * settings.API_MAX_BODY_BYTES, "idempotency_key": "big"})
    response = client.post(INCIDENTS_URL, data=body, content_type="application/json")
    error = assert_api_error(response, 413, code="request_too_large")
    assert str(settings.API_MAX_BODY_BYTES) in error["message"]


@pytest.mark.django_db
def test_body_at_the_limit_is_not_413(api_client):
    padding = settings.API_MAX_BODY_BYTES - len(json.dumps({"title": "", "idempotency_key": "edge"}))
    body = json.dumps({"title": "x" * padding, "idempotency_key": "edge"})
    assert len(body) == settings.API_MAX_BODY_BYTES
    response = api_client.post(INCIDENTS_URL, data=body, content_type="application/json")
    error = assert_api_error(response, 400)  # too long a title, but read and validated
    assert "title" in error["fields"]


@pytest.mark.django_db
def test_schema_is_served_and_names_the_api(client):
    response = client.get("/api/v1/schema")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert "/api/v1/incidents" in schema["paths"]
    assert "/api/v1/incidents/{incident_id}/acknowledge" in schema["paths"]
    assert schema["components"]["securitySchemes"]["ApiKey"]["scheme"] == "bearer"


@pytest.mark.django_db
def test_schema_validates_without_warnings(tmp_path):
    target = tmp_path / "schema.json"
    call_command("spectacular", "--validate", "--fail-on-warn", "--format", "openapi-json", "--file", str(target))
    schema = json.loads(target.read_text())
    operation_ids = {operation["operationId"] for path in schema["paths"].values() for operation in path.values()}
    for action in ["acknowledge", "resolve", "escalate", "reopen", "create", "list", "retrieve"]:
        assert f"incidents_{action}" in operation_ids


@pytest.mark.django_db
def test_api_docs_page_is_html(client):
    response = client.get("/api/docs")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert b"swagger" in response.content.lower()
    assert b"/api/v1/schema" in response.content
