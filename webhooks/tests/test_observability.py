"""/metrics (database gauges, attempt counters, the scrape's cost, METRICS_TOKEN) and the
attempt log line, in-process against a real receiver. The same with a real worker
process is in tests/e2e/test_observability.py."""

import json
import logging
from datetime import timedelta
from unittest import mock

import pytest
from django.db import OperationalError
from django.utils import timezone

from incidents import services as incident_services
from opsknight.logs import JsonFormatter, TextFormatter
from tests.support.metrics import delta, scrape
from webhooks import selectors
from webhooks.actions import endpoint_send_test
from webhooks.endpoints import endpoint_create, endpoint_update
from webhooks.models import Delivery, Event, WebhookEndpoint
from webhooks.tests.support import delivery_attempt

pytestmark = pytest.mark.django_db

TRIGGERED = "incident.triggered"


def make_delivery(endpoint, **fields) -> Delivery:
    event = Event.objects.create(type=TRIGGERED, payload="{}")
    return Delivery.objects.create(event=event, endpoint=endpoint, **fields)


def test_gauges_are_the_database_state_at_scrape_time(client, receiver):
    now = timezone.now()
    endpoint = endpoint_create(name="a", url=receiver.url("/a"))
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=now - timedelta(hours=1))
    disabled = endpoint_create(name="b", url=receiver.url("/b"))
    endpoint_update(endpoint=disabled, is_active=False)
    make_delivery(endpoint, next_attempt_at=now - timedelta(seconds=120))  # due, waiting for a worker
    # Due longer, but a worker holds it: sending, not waiting.
    make_delivery(endpoint, next_attempt_at=now - timedelta(seconds=600), locked_until=now + timedelta(seconds=30))
    make_delivery(endpoint, next_attempt_at=now + timedelta(minutes=5))  # a retry, later
    make_delivery(endpoint, status="failed", completed_at=now)
    make_delivery(endpoint, status="failed", completed_at=now, is_test=True)  # Send Test: not counted
    make_delivery(endpoint, status="succeeded", completed_at=now)

    samples = scrape(client)

    assert samples[("opsknight_webhook_deliveries_pending",)] == 3
    assert samples[("opsknight_webhook_deliveries_due",)] == 2
    assert 120 <= samples[("opsknight_webhook_queue_lag_seconds",)] < 150
    assert samples[("opsknight_webhook_deliveries_failed",)] == 1
    assert samples[("opsknight_webhook_endpoints_disabled",)] == 1
    assert samples[("opsknight_webhook_endpoints_failing",)] == 1


def test_an_empty_queue_has_no_lag(client):
    samples = scrape(client)
    assert samples[("opsknight_webhook_queue_lag_seconds",)] == 0
    assert samples[("opsknight_webhook_deliveries_pending",)] == 0


def test_a_scrape_costs_four_queries_however_many_deliveries(client, receiver, django_assert_num_queries):
    endpoints = [endpoint_create(name=f"e{n}", url=receiver.url(f"/{n}")) for n in range(3)]
    now = timezone.now()
    with django_assert_num_queries(4):
        scrape(client)
    for endpoint in endpoints:
        for status in ("pending", "failed", "succeeded"):
            for _ in range(5):
                make_delivery(endpoint, status=status, next_attempt_at=now if status == "pending" else None)
    with django_assert_num_queries(4):
        samples = scrape(client)
    assert samples[("opsknight_webhook_deliveries_pending",)] == 15


def declare(actor, key: str) -> None:
    incident_services.incident_create(title="DB down", idempotency_key=key, actor=actor)


def attempt_due(endpoint) -> None:
    """One attempt of the endpoint's pending delivery, made due first."""
    delivery = Delivery.objects.get(endpoint=endpoint, status="pending")
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert delivery_attempt(delivery_id=delivery.pk) is not None


def test_attempts_and_finished_deliveries_are_counted_by_event_type_and_outcome(
    client, receiver, system_actor, settings
):
    settings.WEBHOOK_RETRY_DELAYS = [60]
    receiver.script("/flaky", [500, 200])
    receiver.script("/down", [503, 503])
    flaky = endpoint_create(name="flaky", url=receiver.url("/flaky"))
    down = endpoint_create(name="down", url=receiver.url("/down"))
    before = scrape(client)

    declare(system_actor, "m-1")
    for _ in range(2):
        attempt_due(flaky)  # 500, then 200
        attempt_due(down)  # 503, then 503 and failed
    endpoint_send_test(endpoint=flaky)  # not counted: tests are out of the stats

    after = scrape(client)
    attempts, deliveries = "opsknight_webhook_attempts_total", "opsknight_webhook_deliveries_total"
    assert delta(before, after, attempts, event_type=TRIGGERED, outcome="succeeded") == 1
    assert delta(before, after, attempts, event_type=TRIGGERED, outcome="failed") == 3
    assert delta(before, after, deliveries, event_type=TRIGGERED, outcome="succeeded") == 1
    assert delta(before, after, deliveries, event_type=TRIGGERED, outcome="failed") == 1
    duration = "opsknight_webhook_attempt_duration_seconds"
    assert delta(before, after, f"{duration}_count", outcome="failed") == 3
    assert delta(before, after, f"{duration}_count", outcome="succeeded") == 1
    assert delta(before, after, f"{duration}_bucket", outcome="succeeded", le="+Inf") == 1
    assert delta(before, after, f"{duration}_sum", outcome="succeeded") < 5
    # Every event type and outcome exists from the first attempt on, at 0 if need be.
    assert (attempts, ("event_type", "incident.reopened"), ("outcome", "failed")) in after


def test_with_a_metrics_token_a_scrape_needs_it(client, settings):
    settings.METRICS_TOKEN = "scrape-token-123"
    for headers in [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic scrape-token-123"}]:
        response = client.get("/metrics", headers=headers)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "not_authenticated"
        assert response["WWW-Authenticate"].startswith("Bearer")
    assert ("opsknight_webhook_deliveries_pending",) in scrape(client, Authorization="Bearer scrape-token-123")


def test_metrics_answers_get_only(client):
    assert client.post("/metrics").status_code == 405


# --- The attempt log line -----------------------------------------------------------


def attempt_records(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "opsknight.webhooks.attempts"]


def test_each_attempt_logs_one_line_with_ids_outcome_status_and_duration(receiver, system_actor, settings, caplog):
    caplog.set_level(logging.INFO, logger="opsknight.webhooks.attempts")
    settings.WEBHOOK_RETRY_DELAYS = [60]
    path = "/log?token=in-the-url"  # a URL can carry a credential: it stays out of the log
    receiver.script(path, [500, 200])
    endpoint = endpoint_create(name="log", url=receiver.url(path))
    declare(system_actor, "log-1")
    delivery = Delivery.objects.get(endpoint=endpoint)

    attempt_due(endpoint)
    attempt_due(endpoint)

    failed, succeeded = attempt_records(caplog)
    assert (failed.levelno, succeeded.levelno) == (logging.WARNING, logging.INFO)
    line = json.loads(JsonFormatter().format(failed))
    assert line["logger"] == "opsknight.webhooks.attempts"
    assert line["level"] == "WARNING"
    assert line["time"].endswith("Z")
    assert {k: line[k] for k in ("delivery_id", "endpoint_id", "event_id", "event_type")} == {
        "delivery_id": delivery.pk,
        "endpoint_id": endpoint.pk,
        "event_id": delivery.event_id,
        "event_type": TRIGGERED,
    }
    assert (line["attempt"], line["outcome"], line["status"], line["error_class"]) == (1, "failed", 500, None)
    assert line["delivery_status"] == "pending" and line["next_attempt_at"].endswith("Z")
    assert isinstance(line["duration_ms"], int)
    line = json.loads(JsonFormatter().format(succeeded))
    assert (line["attempt"], line["outcome"], line["status"], line["delivery_status"]) == (
        2,
        "succeeded",
        200,
        "succeeded",
    )
    assert line["next_attempt_at"] is None

    text = JsonFormatter().format(failed) + TextFormatter().format(failed)
    signature = receiver.received(path)[0].header("X-OpsKnight-Signature")
    for secret_or_private in [endpoint.secret.removeprefix("whsec_"), signature, "in-the-url", "DB down"]:
        assert secret_or_private not in text


def test_a_connection_error_is_logged_with_its_class(system_actor, caplog, settings):
    caplog.set_level(logging.INFO, logger="opsknight.webhooks.attempts")
    settings.WEBHOOK_RETRY_DELAYS = []
    endpoint = endpoint_create(name="nobody", url="http://127.0.0.1:9/hook")
    declare(system_actor, "log-2")
    attempt_due(endpoint)
    (record,) = attempt_records(caplog)
    assert (record.outcome, record.status, record.delivery_status) == ("failed", None, "failed")
    assert record.error_class == "ConnectionError"


def test_send_test_is_logged_and_marked_as_a_test(receiver, caplog):
    caplog.set_level(logging.INFO, logger="opsknight.webhooks.attempts")
    endpoint = endpoint_create(name="t", url=receiver.url("/t"))
    endpoint_send_test(endpoint=endpoint)
    (record,) = attempt_records(caplog)
    assert record.test is True and record.outcome == "succeeded"


def test_without_the_database_a_scrape_still_serves_the_counters(client, receiver, system_actor, caplog):
    endpoint = endpoint_create(name="c", url=receiver.url("/c"))
    declare(system_actor, "no-db")
    attempt_due(endpoint)
    lost = OperationalError("the database went away")
    with mock.patch.object(selectors, "queue_health", side_effect=lost):
        samples = scrape(client)
    assert ("opsknight_webhook_deliveries_pending",) not in samples
    assert any(name == "opsknight_webhook_attempts_total" for name, *labels in samples)
    assert "the database gauges are left out" in caplog.text
