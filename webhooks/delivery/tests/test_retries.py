"""Delivery policy beyond the plain schedule: Retry-After, 410 Gone, disabling an
endpoint that keeps failing (with an email), and retention of the delivery log."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django.utils import timezone

from incidents import services as incident_services
from tests.support.receiver import Reply
from webhooks.actions import delivery_log_prune, endpoint_send_test
from webhooks.delivery import retries
from webhooks.endpoints import endpoint_create
from webhooks.models import Delivery, DeliveryAttempt, Event, WebhookEndpoint
from webhooks.tests.support import delivery_attempt

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 1, 15, 10, 30, tzinfo=UTC)


@pytest.fixture(autouse=True)
def schedule(settings):
    settings.WEBHOOK_RETRY_DELAYS = [10.0, 20.0, 30.0]
    settings.WEBHOOK_RETRY_AFTER_MAX = 3600.0
    settings.WEBHOOK_NOTIFY_EMAILS = ["oncall@example.com"]
    return settings


def one_delivery(receiver, system_actor, path="/hook", **endpoint_fields) -> Delivery:
    endpoint = endpoint_create(name="ep", url=receiver.url(path), **endpoint_fields)
    incident_services.incident_create(title="t", idempotency_key=f"k-{path}", actor=system_actor)
    return Delivery.objects.get(endpoint=endpoint)


def attempt(delivery: Delivery) -> DeliveryAttempt:
    """Make the delivery due and attempt it, as a worker would."""
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now(), locked_until=None)
    result = delivery_attempt(delivery_id=delivery.pk)
    assert result is not None
    return result


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("120", 120.0),
        (" 7 ", 7.0),
        ("Thu, 15 Jan 2026 10:32:00 GMT", 120.0),
        ("Thu, 15 Jan 2026 10:00:00 GMT", 0.0),
        ("soon", None),
        ("-5", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_retry_after(header, expected):
    assert retries.parse_retry_after(header, now=NOW) == expected


def test_retry_after_is_never_sooner_than_the_schedule_and_is_capped(schedule):
    assert retries.next_retry_delay(attempts_made=1) == 10.0
    assert retries.next_retry_delay(attempts_made=1, retry_after=2) == 10.0
    assert retries.next_retry_delay(attempts_made=2, retry_after=600) == 600.0
    assert retries.next_retry_delay(attempts_made=2, retry_after=10**6) == 3600.0
    assert retries.next_retry_delay(attempts_made=4, retry_after=5) is None


@pytest.mark.parametrize("status", [429, 503])
def test_a_429_or_503_with_retry_after_pushes_the_next_attempt_later(status, receiver, system_actor):
    receiver.script("/busy", [Reply(status=status, headers={"Retry-After": "120"})])
    delivery = one_delivery(receiver, system_actor, "/busy")
    before = timezone.now()
    attempt(delivery)
    delivery.refresh_from_db()
    assert delivery.status == "pending"
    wait = (delivery.next_attempt_at - before).total_seconds()
    assert 119 <= wait <= 125


def test_retry_after_on_a_500_is_ignored(receiver, system_actor):
    receiver.script("/err", [Reply(status=500, headers={"Retry-After": "900"})])
    delivery = one_delivery(receiver, system_actor, "/err")
    before = timezone.now()
    attempt(delivery)
    delivery.refresh_from_db()
    assert 9 <= (delivery.next_attempt_at - before).total_seconds() <= 12


def test_410_gone_fails_the_delivery_and_disables_the_endpoint_with_an_email(
    receiver, system_actor, django_capture_on_commit_callbacks
):
    receiver.script("/gone", [410])
    delivery = one_delivery(receiver, system_actor, "/gone")
    with django_capture_on_commit_callbacks(execute=True):
        attempt(delivery)
    delivery.refresh_from_db()
    endpoint = WebhookEndpoint.objects.get(pk=delivery.endpoint_id)
    assert delivery.status == "failed" and delivery.attempt_count == 1 and delivery.next_attempt_at is None
    assert endpoint.is_active is False
    assert endpoint.disabled_reason == "The receiver answered 410 Gone."
    assert endpoint.disabled_at is not None
    (email,) = mail.outbox
    assert email.to == ["oncall@example.com"]
    assert endpoint.name in email.subject and "410 Gone" in email.body
    # No more deliveries are created for it.
    incident_services.incident_create(title="after", idempotency_key="after-gone", actor=system_actor)
    assert Delivery.objects.filter(endpoint=endpoint).count() == 1


def test_an_endpoint_failing_for_the_whole_window_is_disabled_and_a_success_resets_the_window(
    receiver, system_actor, schedule, django_capture_on_commit_callbacks
):
    schedule.WEBHOOK_DISABLE_AFTER_FAILING_FOR = 5 * 24 * 3600
    receiver.script("/flaky", [500, 200, 500, 500])
    delivery = one_delivery(receiver, system_actor, "/flaky")
    endpoint = delivery.endpoint

    attempt(delivery)  # 500: the window opens
    endpoint.refresh_from_db()
    assert endpoint.failing_since is not None and endpoint.is_active
    attempt(delivery)  # 200: the window closes
    endpoint.refresh_from_db()
    assert endpoint.failing_since is None

    second = Delivery.objects.create(
        event=delivery.event, endpoint=endpoint, next_attempt_at=timezone.now(), origin=Delivery.Origin.REDELIVER
    )
    second = Delivery.objects.select_related("endpoint").get(pk=second.pk)
    attempt(second)  # 500: opens again
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=timezone.now() - timedelta(days=5, minutes=1))
    with django_capture_on_commit_callbacks(execute=True):
        attempt(second)  # 500, five days into the window: disabled
    endpoint.refresh_from_db()
    assert endpoint.is_active is False
    assert endpoint.disabled_reason.startswith("Every attempt failed for 5 days")
    assert len(mail.outbox) == 1


def test_without_notify_emails_the_django_admins_are_told(
    receiver, system_actor, schedule, django_capture_on_commit_callbacks
):
    schedule.WEBHOOK_NOTIFY_EMAILS = []
    schedule.ADMINS = [("", "admin@example.com")]
    receiver.script("/gone2", [410])
    delivery = one_delivery(receiver, system_actor, "/gone2")
    with django_capture_on_commit_callbacks(execute=True):
        attempt(delivery)
    (email,) = mail.outbox
    assert email.to == ["admin@example.com"]


def test_re_enabling_through_the_api_clears_reason_and_window(api_client, receiver, system_actor):
    receiver.script("/gone3", [410])
    delivery = one_delivery(receiver, system_actor, "/gone3")
    attempt(delivery)
    response = api_client.patch(f"/api/v1/webhooks/{delivery.endpoint_id}", {"is_active": True}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["is_active"] is True and body["disabled_reason"] == "" and body["disabled_at"] is None
    assert WebhookEndpoint.objects.get(pk=delivery.endpoint_id).failing_since is None


def test_test_sends_do_not_open_or_close_the_failing_window(receiver):
    receiver.script("/t", [500])
    endpoint = endpoint_create(name="t", url=receiver.url("/t"))
    endpoint_send_test(endpoint=endpoint)
    endpoint.refresh_from_db()
    assert endpoint.failing_since is None and endpoint.is_active


def test_prune_deletes_old_finished_deliveries_attempts_and_orphan_events_in_batches(receiver, system_actor):
    endpoint = endpoint_create(name="p", url=receiver.url("/p"))
    for n in range(5):
        incident_services.incident_create(title=f"t{n}", idempotency_key=f"p{n}", actor=system_actor)
    deliveries = list(Delivery.objects.order_by("created_at"))
    for delivery in deliveries[:4]:
        attempt(delivery)  # succeeded, one attempt each
    old = timezone.now() - timedelta(days=31)
    old_ids = [d.pk for d in deliveries[:3]] + [deliveries[4].pk]  # three finished + one pending, all old
    Delivery.objects.filter(pk__in=old_ids).update(created_at=old)
    Event.objects.update(created_at=old)

    deleted = delivery_log_prune(batch_size=2)

    assert deleted == {"deliveries": 3, "attempts": 3, "events": 3}
    remaining = set(Delivery.objects.values_list("pk", flat=True))
    assert remaining == {deliveries[3].pk, deliveries[4].pk}  # recent finished, and old but pending
    assert Event.objects.count() == 2  # the events still referenced stay
    assert DeliveryAttempt.objects.count() == 1
    assert endpoint.deliveries.count() == 2
