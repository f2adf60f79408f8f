"""Attempts made by a real worker process show at the web process's /metrics, and each
one writes one JSON line to the worker's log."""

import json

import pytest

from tests.support.metrics import delta, scrape
from tests.support.waiting import declare, wait_until
from webhooks.endpoints import endpoint_create
from webhooks.models import Delivery

pytestmark = pytest.mark.e2e

TRIGGERED = "incident.triggered"


def attempt_lines(logs: str, delivery_id: str) -> list[dict]:
    lines = [json.loads(line) for line in logs.splitlines() if '"opsknight.webhooks.attempts"' in line]
    return [line for line in lines if line.get("delivery_id") == delivery_id]


def counted(client, *, since: dict, succeeded: int) -> dict | None:
    """A scrape once it counts `succeeded` more finished deliveries than `since` (a
    worker counts just after it commits the attempts)."""
    after = scrape(client)
    finished = delta(since, after, "opsknight_webhook_deliveries_total", event_type=TRIGGERED, outcome="succeeded")
    return after if finished == succeeded else None


def test_the_workers_attempts_show_at_the_web_metrics_and_in_its_json_log(e2e, receiver, api_client, client):
    receiver.script("/flaky", [500, 200])  # a retry 1 s later (tests/support/cluster.py)
    flaky = endpoint_create(name="flaky", url=receiver.url("/flaky"))
    fine = endpoint_create(name="fine", url=receiver.url("/fine"))
    before = scrape(client)

    declare(api_client, key="obs-1")
    receiver.wait_for(2, "/flaky")
    wait_until(lambda: not Delivery.objects.filter(status="pending").exists())

    after = wait_until(lambda: counted(client, since=before, succeeded=2), timeout=5)
    attempts = "opsknight_webhook_attempts_total"
    assert delta(before, after, attempts, event_type=TRIGGERED, outcome="succeeded") == 2
    assert delta(before, after, attempts, event_type=TRIGGERED, outcome="failed") == 1
    assert delta(before, after, "opsknight_webhook_deliveries_total", event_type=TRIGGERED, outcome="failed") == 0
    assert delta(before, after, "opsknight_webhook_attempt_duration_seconds_count", outcome="succeeded") == 2
    assert after[("opsknight_webhook_deliveries_pending",)] == 0
    assert after[("opsknight_webhook_queue_lag_seconds",)] == 0

    logs = e2e.logs()
    flaky_delivery = Delivery.objects.get(endpoint=flaky)
    first, second = attempt_lines(logs, flaky_delivery.pk)
    assert (first["attempt"], first["outcome"], first["status"], first["level"]) == (1, "failed", 500, "WARNING")
    assert first["delivery_status"] == "pending"
    assert (second["attempt"], second["outcome"], second["status"], second["level"]) == (2, "succeeded", 200, "INFO")
    assert second["endpoint_id"] == flaky.pk and second["event_type"] == TRIGGERED
    assert second["event_id"] == flaky_delivery.event_id
    (only,) = attempt_lines(logs, Delivery.objects.get(endpoint=fine).pk)
    assert (only["outcome"], only["delivery_status"]) == ("succeeded", "succeeded")
    assert isinstance(only["duration_ms"], int)


def test_the_counts_of_a_stopped_worker_stay_in_the_totals(e2e, receiver, api_client, client):
    endpoint_create(name="fine", url=receiver.url("/fine"))
    before = scrape(client)
    declare(api_client, key="obs-2")
    middle = wait_until(lambda: counted(client, since=before, succeeded=1), timeout=15)

    # The same worker, restarted: a new process, counting in a file of its own.
    worker = e2e.workers[0]
    worker.stop()
    worker.start()
    declare(api_client, key="obs-3")
    after = wait_until(lambda: counted(client, since=middle, succeeded=1), timeout=15)

    attempts = "opsknight_webhook_attempts_total"
    assert delta(before, after, attempts, event_type=TRIGGERED, outcome="succeeded") == 2
    assert delta(before, after, "opsknight_webhook_deliveries_total", event_type=TRIGGERED, outcome="succeeded") == 2
