"""The operator's management commands: webhooks_status, webhooks_replay, webhooks_prune."""

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command
from django.utils import timezone

from tests.support.cluster import ROOT, worker_database_url
from webhooks.endpoints import endpoint_create, endpoint_disable, endpoint_update
from webhooks.models import Delivery, DeliveryAttempt, Event, WebhookEndpoint

pytestmark = pytest.mark.django_db

TRIGGERED, RESOLVED = "incident.triggered", "incident.resolved"


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def make_event(event_type=TRIGGERED, *, created_at=None, is_test=False) -> Event:
    return Event.objects.create(type=event_type, payload="{}", is_test=is_test, created_at=created_at or timezone.now())


def make_delivery(endpoint, *, created_at=None, **fields) -> Delivery:
    return Delivery.objects.create(
        event=make_event(), endpoint=endpoint, created_at=created_at or timezone.now(), **fields
    )


# --- webhooks_status --------------------------------------------------------------------


def line_of(output: str, name: str) -> str:
    (line,) = [line for line in output.splitlines() if line.startswith(name + " ")]
    return line


def test_status_shows_each_endpoint_and_the_queue(django_assert_max_num_queries):
    now = timezone.now()
    healthy = endpoint_create(name="ITSM", url="http://127.0.0.1:9/itsm")
    gone = endpoint_create(name="Old bot", url="http://127.0.0.1:9/bot")
    endpoint_disable(endpoint=gone, reason="The receiver answered 410 Gone.")
    failing = endpoint_create(name="Flaky", url="http://127.0.0.1:9/flaky")
    WebhookEndpoint.objects.filter(pk=failing.pk).update(failing_since=now - timedelta(hours=3, minutes=5))
    endpoint_create(name="Unused", url="http://127.0.0.1:9/new")
    for status in ["succeeded", "succeeded", "succeeded", "failed"]:
        make_delivery(healthy, status=status, completed_at=now, created_at=now - timedelta(hours=1))
    make_delivery(healthy, status="succeeded", created_at=now - timedelta(days=2))  # outside the 24 h
    make_delivery(healthy, status="failed", is_test=True)  # Send Test: left out
    make_delivery(failing, next_attempt_at=now - timedelta(minutes=2), created_at=now - timedelta(minutes=3))
    make_delivery(failing, next_attempt_at=now + timedelta(minutes=5), created_at=now - timedelta(minutes=10))

    with django_assert_max_num_queries(7):
        output = run("webhooks_status")

    assert "Webhook endpoints (4)" in output
    assert output.index("Flaky") < output.index("ITSM") < output.index("Old bot") < output.index("Unused")
    itsm = line_of(output, "ITSM")
    assert healthy.pk in itsm
    assert "succeeded, 1h 0m ago" in itsm
    assert itsm.split()[-5:] == ["75%", "of", "4", "0", "1"]
    assert "disabled: The receiver answered 410 Gone." in line_of(output, "Old bot")
    flaky = line_of(output, "Flaky")
    assert "active, failing for 3h 5m" in flaky
    assert "pending, 3m 0s ago" in flaky
    assert flaky.split()[-3:] == ["-", "2", "0"]
    assert line_of(output, "Unused").split()[-4:] == ["-", "-", "0", "0"]
    assert "Pending:             2, 1 due now, the oldest waiting for a worker for 2m 0s" in output
    assert "Failed (in the log): 1" in output
    assert "Failing endpoints:   1" in output
    assert "Disabled endpoints:  1" in output


def test_status_of_an_empty_installation():
    output = run("webhooks_status")
    assert "Webhook endpoints (0)" in output and "(none)" in output
    assert "Pending:             0, 0 due now\n" in output


# --- webhooks_replay --------------------------------------------------------------------


@pytest.fixture
def endpoint():
    return endpoint_create(name="ITSM", url="http://127.0.0.1:9/itsm", event_types=[TRIGGERED])


def test_replay_since_an_age_queues_the_subscribed_events_of_that_window(endpoint):
    now = timezone.now()
    recent = make_event(created_at=now - timedelta(minutes=90))
    make_event(RESOLVED, created_at=now - timedelta(minutes=60))  # not subscribed
    make_event(created_at=now - timedelta(minutes=30), is_test=True)  # Send Test: never replayed
    make_event(created_at=now - timedelta(hours=3))  # before the window

    output = run("webhooks_replay", "--endpoint", endpoint.pk, "--since", "2h")

    assert f"Queued 1 deliveries to ITSM ({endpoint.pk})" in output
    (replayed,) = Delivery.objects.filter(endpoint=endpoint)
    assert (replayed.event_id, replayed.origin, replayed.status) == (recent.pk, "replay", "pending")


@pytest.mark.parametrize(
    ("since", "expected"),
    [("2026-01-15T10:30:00Z", 2), ("2026-01-15T12:30:00+02:00", 2), ("2026-01-15T10:30:00", 2), ("2026-01-15", 3)],
)
def test_replay_since_an_iso_8601_time_utc_unless_it_says_otherwise(endpoint, since, expected):
    for moment in ["2026-01-15T08:00:00", "2026-01-15T10:30:00", "2026-01-15T11:00:00"]:
        make_event(created_at=datetime.fromisoformat(moment).replace(tzinfo=UTC))
    assert f"Queued {expected} deliveries" in run("webhooks_replay", "--endpoint", endpoint.pk, "--since", since)


def test_replay_to_a_disabled_endpoint_says_so(endpoint):
    endpoint_update(endpoint=endpoint, is_active=False)
    make_event(created_at=timezone.now() - timedelta(minutes=1))
    output = run("webhooks_replay", "--endpoint", endpoint.pk, "--since", "5m")
    assert "Queued 1 deliveries" in output and "The endpoint is disabled" in output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--endpoint", "whk_nope", "--since", "1h"], "No webhook endpoint with id 'whk_nope'"),
        (["--since", "yesterday"], "--since 'yesterday' is not a time"),
        (["--since", "2h30"], "is not a time"),
        (["--since=-5m"], "is not a time"),
        (["--since", "99999999999d"], "reaches back too far"),
        (["--since", "2999-01-01T00:00:00Z"], "is in the future"),
    ],
)
def test_replay_refuses_bad_arguments_with_a_clear_error(endpoint, args, message):
    if "--endpoint" not in args:
        args = ["--endpoint", endpoint.pk, *args]
    with pytest.raises(CommandError, match=message):
        run("webhooks_replay", *args)
    assert not Delivery.objects.exists()


def test_replay_needs_both_arguments():
    with pytest.raises(CommandError, match="--since"):
        run("webhooks_replay", "--endpoint", "whk_x")


# --- webhooks_prune ---------------------------------------------------------------------


def test_prune_deletes_finished_deliveries_older_than_the_retention(endpoint, settings):
    settings.WEBHOOK_RETENTION_DAYS = 30
    old = timezone.now() - timedelta(days=31)
    finished = make_delivery(endpoint, status="succeeded", created_at=old)
    DeliveryAttempt.objects.create(
        delivery=finished, number=1, started_at=old, duration_ms=5, url=endpoint.url, outcome="succeeded"
    )
    Event.objects.filter(pk=finished.event_id).update(created_at=old)
    still_pending = make_delivery(endpoint, created_at=old, next_attempt_at=timezone.now())
    recent = make_delivery(endpoint, status="failed", created_at=timezone.now() - timedelta(days=29))

    output = run("webhooks_prune")

    assert output.strip() == "Deleted 1 deliveries, 1 attempts and 1 events older than 30 days."
    assert set(Delivery.objects.values_list("pk", flat=True)) == {still_pending.pk, recent.pk}


def test_prune_older_than_days(endpoint):
    make_delivery(endpoint, status="failed", created_at=timezone.now() - timedelta(days=3))
    assert "Deleted 0 deliveries" in run("webhooks_prune", "--older-than-days", "4")
    assert "Deleted 1 deliveries" in run("webhooks_prune", "--older-than-days", "2")


@pytest.mark.parametrize("days", ["0", "-3"])
def test_prune_refuses_a_retention_under_one_day(endpoint, days):
    make_delivery(endpoint, status="failed", created_at=timezone.now() - timedelta(hours=1))
    with pytest.raises(CommandError, match="at least 1"):
        run("webhooks_prune", "--older-than-days", days)
    assert Delivery.objects.count() == 1


def test_prune_refuses_a_retention_that_is_not_a_number():
    with pytest.raises(CommandError, match="invalid int value"):
        run("webhooks_prune", "--older-than-days", "week")


# --- Output into a pipe ------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_status_into_a_pipe_that_closes_early_ends_without_a_traceback():
    """`webhooks_status | head`: more lines than a pipe holds, and a reader that stops
    after the first one."""
    WebhookEndpoint.objects.bulk_create(
        WebhookEndpoint(name=f"endpoint {n:04}", url=f"https://hooks{n}.example.com/in", secret="s" * 32)
        for n in range(1500)
    )
    env = {
        **os.environ,
        "DATABASE_URL": worker_database_url(),
        "DJANGO_SECRET_KEY": django_settings.SECRET_KEY,
        "PYTHONUNBUFFERED": "1",
    }
    command = [sys.executable, "manage.py", "webhooks_status"]
    with subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as process:
        assert process.stdout.readline().startswith(b"Webhook endpoints (1500)")
        process.stdout.close()  # like head: gone after the first line(s)
        stderr = process.stderr.read().decode()
        returncode = process.wait(timeout=60)
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr, stderr
    assert returncode == 1
