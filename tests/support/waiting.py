"""Helpers the end-to-end suites share: waiting on a condition, declaring an incident."""

import time


def wait_until(predicate, timeout: float = 15.0, interval: float = 0.1):
    """The predicate's first truthy value; fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not met in time")


def declare(api_client, key="e2e-1", **fields) -> str:
    """Declare an incident through the API; its id."""
    response = api_client.post(
        "/api/v1/incidents", {"title": "DB down", "idempotency_key": key, **fields}, format="json"
    )
    assert response.status_code == 201, response.content
    return response.json()["id"]
