"""One attempt at a time, in-process, against a real receiver on 127.0.0.1: outcomes,
the retry schedule, what is not sent, and the address check at send time."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from standardwebhooks import Webhook

from tests.support.receiver import Reply
from webhooks.actions import endpoint_send_test
from webhooks.endpoints import endpoint_create, endpoint_update
from webhooks.models import Delivery, DeliveryAttempt, WebhookEndpoint
from webhooks.tests.support import declare, delivery_attempt, make_due, only_delivery
from webhooks.transport.addresses import TargetRefused, validate_url_shape

pytestmark = pytest.mark.django_db


def test_successful_attempt_marks_the_delivery_succeeded(system_actor, receiver):
    receiver.script("/ok", [Reply(status=202, body=b'{"thanks": true}')])
    endpoint = endpoint_create(name="ok", url=receiver.url("/ok"))
    declare(system_actor)
    delivery = only_delivery(endpoint)

    attempt = delivery_attempt(delivery_id=delivery.id)

    assert isinstance(attempt, DeliveryAttempt)
    assert attempt.number == 1
    assert attempt.outcome == DeliveryAttempt.Outcome.SUCCEEDED
    assert attempt.response_status == 202
    assert attempt.response_body_excerpt == '{"thanks": true}'
    assert attempt.error_class == "" and attempt.error_message == ""
    assert attempt.url == receiver.url("/ok")
    assert attempt.duration_ms >= 0
    (request,) = receiver.wait_for(1, "/ok")
    # The attempt log holds exactly the headers that went out.
    sent = attempt.request_headers
    for name in ["X-OpsKnight-Event", "X-OpsKnight-Delivery", "X-OpsKnight-Signature", "webhook-id"]:
        assert request.header(name) == sent[name], name
    assert sent["X-OpsKnight-Delivery"] == delivery.id
    assert sent["webhook-id"] == delivery.event_id
    assert sent["X-OpsKnight-Event"] == "incident.triggered"
    assert request.body == delivery.event.payload.encode()
    assert Webhook(endpoint.secret).verify(request.body, request.headers)["id"] == delivery.event_id

    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.SUCCEEDED
    assert delivery.attempt_count == 1
    assert delivery.completed_at is not None and delivery.next_attempt_at is None
    assert delivery.locked_until is None
    assert delivery.last_status_code == 202 and delivery.last_error == ""
    assert list(delivery.attempts.all()) == [attempt]

    # Succeeded: never sent again by the system.
    make_due(delivery)
    assert delivery_attempt(delivery_id=delivery.id) is None
    assert Delivery.objects.get(pk=delivery.pk).status == Delivery.Status.SUCCEEDED


def test_failures_follow_the_retry_schedule_then_fail(system_actor, receiver, settings):
    settings.WEBHOOK_RETRY_DELAYS = [10, 20, 30]
    receiver.script("/down", [500, 503, 500, 502, 200])
    endpoint = endpoint_create(name="down", url=receiver.url("/down"))
    declare(system_actor)
    delivery = only_delivery(endpoint)

    for number, (status, delay) in enumerate(zip([500, 503, 500], [10, 20, 30], strict=True), start=1):
        before = timezone.now()
        attempt = delivery_attempt(delivery_id=delivery.id)
        after = timezone.now()
        assert attempt.number == number
        assert attempt.outcome == DeliveryAttempt.Outcome.FAILED
        assert attempt.response_status == status
        delivery.refresh_from_db()
        assert delivery.status == Delivery.Status.PENDING
        assert delivery.attempt_count == number
        assert delivery.last_status_code == status and delivery.last_error == f"HTTP {status}"
        assert delivery.locked_until is None and delivery.completed_at is None
        assert before + timedelta(seconds=delay) <= delivery.next_attempt_at <= after + timedelta(seconds=delay)
        # Not due yet: a second call does nothing.
        assert delivery_attempt(delivery_id=delivery.id) is None
        make_due(delivery)

    last = delivery_attempt(delivery_id=delivery.id)
    assert last.number == 4 and last.response_status == 502
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.FAILED
    assert delivery.attempt_count == 4
    assert delivery.next_attempt_at is None and delivery.completed_at is not None
    assert delivery.last_error == "HTTP 502"
    assert list(delivery.attempts.values_list("number", "response_status", "outcome")) == [
        (1, 500, "failed"),
        (2, 503, "failed"),
        (3, 500, "failed"),
        (4, 502, "failed"),
    ]
    # Failed is final, even if the row looks due.
    make_due(delivery)
    assert delivery_attempt(delivery_id=delivery.id) is None
    assert len(receiver.wait_for(4, "/down")) == 4


def test_the_schedule_length_is_the_retry_count(system_actor, receiver, settings):
    settings.WEBHOOK_RETRY_DELAYS = [5]
    receiver.script("/down", [500, 500, 500])
    endpoint = endpoint_create(name="down", url=receiver.url("/down"))
    declare(system_actor)
    delivery = only_delivery(endpoint)
    delivery_attempt(delivery_id=delivery.id)
    assert Delivery.objects.get(pk=delivery.pk).status == Delivery.Status.PENDING
    make_due(delivery)
    delivery_attempt(delivery_id=delivery.id)
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.FAILED and delivery.attempt_count == 2


def test_a_redirect_is_a_failure_and_is_not_followed(system_actor, receiver):
    receiver.script("/moved", [Reply(status=301, headers={"Location": receiver.url("/elsewhere")})])
    endpoint = endpoint_create(name="moved", url=receiver.url("/moved"))
    declare(system_actor)
    delivery = only_delivery(endpoint)
    attempt = delivery_attempt(delivery_id=delivery.id)
    assert attempt.outcome == DeliveryAttempt.Outcome.FAILED and attempt.response_status == 301
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.PENDING and delivery.next_attempt_at > timezone.now()
    assert delivery.last_error == "HTTP 301 (redirects are not followed)"
    receiver.wait_for(1, "/moved")
    assert receiver.received("/elsewhere") == []


def test_not_due_leased_or_finished_deliveries_are_not_sent(system_actor, receiver):
    endpoints = [endpoint_create(name=f"e{n}", url=receiver.url(f"/e{n}")) for n in range(4)]
    declare(system_actor)
    later, leased, succeeded, failed = (only_delivery(e) for e in endpoints)
    now = timezone.now()
    Delivery.objects.filter(pk=later.pk).update(next_attempt_at=now + timedelta(minutes=5))
    Delivery.objects.filter(pk=leased.pk).update(locked_until=now + timedelta(minutes=5))
    Delivery.objects.filter(pk=succeeded.pk).update(status=Delivery.Status.SUCCEEDED, completed_at=now)
    Delivery.objects.filter(pk=failed.pk).update(status=Delivery.Status.FAILED, completed_at=now)

    for delivery in (later, leased, succeeded, failed):
        assert delivery_attempt(delivery_id=delivery.id) is None
    assert delivery_attempt(delivery_id="dlv_does_not_exist") is None
    assert DeliveryAttempt.objects.count() == 0
    assert set(Delivery.objects.values_list("attempt_count", flat=True)) == {0}
    assert receiver.received() == []

    # An expired lease (a worker that died) does not block the next attempt.
    Delivery.objects.filter(pk=leased.pk).update(locked_until=now - timedelta(seconds=1))
    assert delivery_attempt(delivery_id=leased.id).outcome == DeliveryAttempt.Outcome.SUCCEEDED


def test_response_excerpt_is_bounded_even_for_a_huge_body(system_actor, receiver, settings):
    settings.WEBHOOK_RESPONSE_EXCERPT_BYTES = 300
    big = b"x" * (1024 * 1024)
    receiver.script("/big", [Reply(status=200, body=big)])
    endpoint = endpoint_create(name="big", url=receiver.url("/big"))
    declare(system_actor)
    delivery = only_delivery(endpoint)

    attempt = delivery_attempt(delivery_id=delivery.id)

    assert attempt.outcome == DeliveryAttempt.Outcome.SUCCEEDED
    assert attempt.response_body_excerpt == "x" * 300
    attempt.refresh_from_db()
    assert len(attempt.response_body_excerpt.encode()) == 300


def test_default_excerpt_limit_applies_to_a_large_error_body(system_actor, receiver, settings):
    limit = settings.WEBHOOK_RESPONSE_EXCERPT_BYTES
    receiver.script("/err", [Reply(status=500, body="é".encode() * 100_000)])
    endpoint = endpoint_create(name="err", url=receiver.url("/err"))
    declare(system_actor)
    attempt = delivery_attempt(delivery_id=only_delivery(endpoint).id)
    assert attempt.outcome == DeliveryAttempt.Outcome.FAILED and attempt.response_status == 500
    assert 0 < len(attempt.response_body_excerpt.encode()) <= limit + 2  # a cut character may become U+FFFD
    assert attempt.response_body_excerpt.startswith("é" * 100)


def test_disabled_endpoint_event_delivery_fails_without_sending(system_actor, receiver):
    endpoint = endpoint_create(name="soon off", url=receiver.url("/off"))
    declare(system_actor)
    delivery = only_delivery(endpoint)
    endpoint_update(endpoint=endpoint, is_active=False)

    attempt = delivery_attempt(delivery_id=delivery.id)

    assert attempt.outcome == DeliveryAttempt.Outcome.FAILED
    assert attempt.error_message == "The endpoint is disabled."
    assert attempt.response_status is None
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.FAILED
    assert "The endpoint is disabled." in delivery.last_error
    assert delivery.next_attempt_at is None and delivery.completed_at is not None
    assert receiver.received() == []


def test_connection_refused_is_a_recorded_failure(system_actor):
    from tests.support.receiver import free_port

    endpoint = endpoint_create(name="nobody", url=f"http://127.0.0.1:{free_port()}/x")
    declare(system_actor)
    delivery = only_delivery(endpoint)
    attempt = delivery_attempt(delivery_id=delivery.id)
    assert attempt.outcome == DeliveryAttempt.Outcome.FAILED
    assert attempt.error_class == "ConnectionError"
    assert attempt.error_message == "Connection refused."
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.PENDING
    assert delivery.last_error == "ConnectionError: Connection refused."
    assert delivery.last_status_code is None


# --- Target checks -------------------------------------------------------------------


def test_internal_target_is_refused_and_logged(system_actor, receiver, settings):
    endpoint = endpoint_create(name="loopback", url=receiver.url("/internal"))
    declare(system_actor)
    delivery = only_delivery(endpoint)
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False

    attempt = delivery_attempt(delivery_id=delivery.id)

    assert attempt.outcome == DeliveryAttempt.Outcome.FAILED
    assert attempt.error_class == "TargetRefused"
    assert "127.0.0.1" in attempt.error_message
    assert "internal address" in attempt.error_message
    assert "WEBHOOK_ALLOW_PRIVATE_TARGETS" in attempt.error_message
    assert attempt.response_status is None
    delivery.refresh_from_db()
    assert delivery.last_error.startswith("TargetRefused: ")
    assert receiver.received() == []


def test_send_test_to_an_internal_target_reports_the_refusal(receiver, settings):
    endpoint = endpoint_create(name="loopback", url=receiver.url("/internal"))
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    attempt = endpoint_send_test(endpoint=endpoint)
    assert attempt.error_class == "TargetRefused"
    assert attempt.delivery.status == Delivery.Status.FAILED
    assert receiver.received() == []


@pytest.mark.parametrize(
    "url, message",
    [
        ("ftp://example.com/hook", "http:// or https://"),
        ("example.com/hook", "http:// or https://"),
        ("http:///hook", "no host"),
        ("http://example.com:99999/hook", "invalid port"),
        ("http://example.com:port/hook", "invalid port"),
    ],
)
def test_bad_url_shapes_are_refused_by_the_check_and_at_create(url, message):
    with pytest.raises(TargetRefused, match=message):
        validate_url_shape(url)
    with pytest.raises(ValidationError) as error:
        endpoint_create(name="bad", url=url)
    assert message in error.value.message_dict["url"][0]
    assert not WebhookEndpoint.objects.exists()
