"""Every operation of the published OpenAPI schema (what /api/docs shows) has a summary
and a description, and the description names the scope the operation needs (issue 15:
all 26 operations were bare paths)."""

import re

import pytest

from opsknight.models import Scope

METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture(scope="module")
def operations(django_db_blocker):
    from rest_framework.test import APIClient

    with django_db_blocker.unblock():
        schema = APIClient().get("/api/v1/schema").json()
    return {
        f"{method.upper()} {path}": operation
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    }


def test_the_schema_has_every_operation(operations):
    assert len(operations) >= 31
    assert "POST /api/v1/incidents" in operations and "DELETE /api/v1/webhooks/{endpoint_id}" in operations


def test_every_operation_has_a_summary_and_a_description(operations):
    bare = [
        name
        for name, operation in operations.items()
        if not operation.get("summary", "").strip() or not operation.get("description", "").strip()
    ]
    assert not bare, f"operations without a summary or a description: {bare}"


def test_summaries_are_short_distinct_and_not_the_description(operations):
    summaries = [operation["summary"] for operation in operations.values()]
    assert len(set(summaries)) == len(summaries), sorted(summaries)
    for name, operation in operations.items():
        summary = operation["summary"]
        assert len(summary) <= 60 and not summary.endswith("."), (name, summary)
        assert operation["description"].strip() != summary, name


def test_every_description_names_the_scope_it_needs(operations):
    for name, operation in operations.items():
        scopes = re.findall(r"Scope: `([a-z_:]+)`", operation["description"])
        assert len(scopes) == 1 and scopes[0] in Scope.values, (name, operation["description"])
