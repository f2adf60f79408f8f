"""Secrets are shown once (create, rotate) and never again: not in the worker's or the
web process's logs, not in API lists or details, not in the attempt log, not in errors.
The logs' attempt lines hold no signature or body either."""

import json
import logging

import pytest

from tests.support.receiver import Reply
from webhooks.models import DeliveryAttempt

pytestmark = pytest.mark.e2e


def test_no_secret_anywhere_after_a_full_run(e2e, receiver, api_client, caplog):
    caplog.set_level(logging.DEBUG)
    receiver.script("/s", [500, Reply(status=200, body=b"thanks")])
    created = api_client.post("/api/v1/webhooks", {"name": "s", "url": receiver.url("/s")}, format="json").json()
    rotated = api_client.post(f"/api/v1/webhooks/{created['id']}/rotate-secret").json()
    secrets = [created["secret"], rotated["secret"]]
    endpoint_id = created["id"]

    incident = api_client.post("/api/v1/incidents", {"title": "leak?", "idempotency_key": "s-1"}, format="json")
    api_client.post(f"/api/v1/incidents/{incident.json()['id']}/resolve")
    receiver.wait_for(3, "/s")  # triggered (500, then 200 on retry) and resolved
    api_client.post(f"/api/v1/webhooks/{endpoint_id}/test")
    api_client.post("/api/v1/webhooks", {"name": "bad", "url": "ftp://x", "secret": "too-short"}, format="json")

    seen = [
        api_client.get("/api/v1/webhooks").content.decode(),
        api_client.get(f"/api/v1/webhooks/{endpoint_id}").content.decode(),
        api_client.get(f"/api/v1/webhooks/{endpoint_id}/deliveries").content.decode(),
        json.dumps(list(DeliveryAttempt.objects.values()), default=str),
        caplog.text,
        e2e.logs(),
    ]
    for delivery in api_client.get(f"/api/v1/webhooks/{endpoint_id}/deliveries").json()["results"]:
        seen.append(api_client.get(f"/api/v1/deliveries/{delivery['id']}").content.decode())
    assert DeliveryAttempt.objects.count() >= 4
    for secret in secrets:
        key_part = secret.removeprefix("whsec_")
        for text in seen:
            assert key_part not in text

    # The logs carry one line per attempt (ids, outcome, status, time), never a
    # signature or a body.
    logs = caplog.text + e2e.logs()
    attempt_lines = [json.loads(line) for line in e2e.logs().splitlines() if '"opsknight.webhooks.attempts"' in line]
    assert len([line for line in attempt_lines if line["endpoint_id"] == endpoint_id]) >= 3
    for request in receiver.received("/s"):
        signatures = [request.header("X-OpsKnight-Signature"), *request.header("webhook-signature").split()]
        for signature in signatures:
            assert signature.split(",")[-1] not in logs
        assert request.body.decode() not in logs
        assert json.loads(request.body)["incident"]["title"] not in logs
