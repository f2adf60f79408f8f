"""Property-based run over the OpenAPI schema (schemathesis): for generated requests to
every operation, valid and invalid, the API never answers 5xx and its answers match the
schema it publishes. No request leaves the machine: every host name resolves to
127.0.0.1 and internal targets are refused, so webhook sends are refused before connecting."""

import socket

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from opsknight.models import Scope
from opsknight.services import api_key_create


@pytest.fixture(autouse=True)
def keep_the_test_connection_open():
    """Like Django's test client: keep the test's connection (and its transaction) open
    across requests, instead of closing it at the end of each one."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def bearer(db, settings, monkeypatch):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    settings.API_RATE_LIMIT = ""  # the fuzzer sends many requests with one key
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda host, port, *a, **k: [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port or 80))],
    )
    _, raw_key = api_key_create(name="fuzz", scopes=list(Scope.values))
    return {"Authorization": f"Bearer {raw_key}"}


# What the contract promises: no 5xx, and statuses, content types and bodies as the
# schema says. (Stricter checks, e.g. that every schema-valid string is accepted, do
# not fit an API whose validation goes beyond the schema: a URL must be http(s).)
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

schema = schemathesis.openapi.from_wsgi("/api/v1/schema", get_wsgi_application())


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@pytest.mark.django_db
def test_api_never_fails_and_matches_its_schema(case, bearer):
    case.call_and_validate(headers=bearer, checks=CHECKS)
