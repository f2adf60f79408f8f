"""The worker side of a delivery: claim due deliveries, sign them, send them through the
transport's sending pool, and hand the outcomes to `recording`."""

import concurrent.futures
import time
from datetime import timedelta

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from webhooks import formats, transport
from webhooks.delivery import claims, late_recorder, recording, wakeups
from webhooks.models import Delivery, DeliveryAttempt


def deliveries_attempt(
    *, delivery_ids: list[str], fill_to: int = 0, record_slow_later: bool = False
) -> list[DeliveryAttempt]:
    """Claim those of `delivery_ids` that are due and free and, with `fill_to`, other due
    deliveries up to that many (so one task works through a backlog instead of one
    message per delivery), send them all at once, and record the attempts in a few bulk
    statements. Returns the attempts made. Nothing to do (not due, leased, finished,
    gone) returns []: a task is safe to run any number of times.

    With `record_slow_later`, requests still in flight after WEBHOOK_SLOW_REQUEST_SECONDS
    are recorded by this process's late recorder when they end, and are not returned:
    the caller (a worker's task thread) is free again instead of waiting on a hanging
    receiver for its whole timeout."""
    now, lease_clock = timezone.now(), time.monotonic()
    claimed = claims.claim(delivery_ids, now)
    if fill_to > len(claimed):
        busy = transport.busy_endpoint_keys()
        claimed += claims.claim_more(limit=fill_to - len(claimed), now=now, skip_endpoints=busy)
    if not claimed:
        return []
    deliveries = list(Delivery.objects.filter(pk__in=claimed).select_related("event", "endpoint"))
    not_after = claims.attempt_not_after(lease_clock)
    return send_and_record(deliveries, not_after=not_after, record_slow_later=record_slow_later)


# Time kept at the end of a lease to record the attempt: an attempt that ends later
# could be sent again by another worker while it is still being recorded.


def _signed_request(delivery: Delivery, timestamp: int, not_after: float) -> transport.OutgoingRequest:
    endpoint, event = delivery.endpoint, delivery.event
    body = delivery.sent_body.encode("utf-8")
    secrets = endpoint.signing_secrets()
    headers = transport.build_headers(
        delivery_id=delivery.id,
        event_id=delivery.webhook_id,
        event_type=event.type,
        body=body,
        secrets=secrets,
        timestamp=timestamp,
        custom_headers=endpoint.headers,
        signing_keys=endpoint.signing_keys(),
    )
    headers.update(
        formats.extra_headers(
            endpoint.format, message_id=delivery.webhook_id, body=body, secrets=secrets, endpoint_id=endpoint.pk
        )
    )
    # Send Test answers the operator now: it does not wait behind the endpoint's cap.
    return transport.OutgoingRequest(endpoint.url, body, headers, None if delivery.is_test else endpoint.pk, not_after)


def send_and_record(
    deliveries: list[Delivery], *, not_after: float, record_slow_later: bool = False
) -> list[DeliveryAttempt]:
    """Send the claimed deliveries through the sending pool and record their attempts.
    With `record_slow_later`, hanging requests go to the late recorder (see
    deliveries_attempt); otherwise every attempt is waited for and returned."""
    records, to_send = [], []
    for delivery in deliveries:
        if not delivery.endpoint.is_active and delivery.origin == Delivery.Origin.EVENT:
            records.append((delivery, _not_sent("The endpoint is disabled."), True))
        else:
            to_send.append(delivery)
    timestamp = int(time.time())
    sendings = transport.start_many([_signed_request(delivery, timestamp, not_after) for delivery in to_send])
    deferred = [delivery for delivery, sending in zip(to_send, sendings, strict=True) if sending is None]
    started = [(delivery, sending) for delivery, sending in zip(to_send, sendings, strict=True) if sending]
    handed_over = _wait_unless_hanging(started) if record_slow_later else []
    for delivery, sending in started:
        if delivery not in handed_over:
            records.append((delivery, sending.future.result(), delivery.is_test))
    if deferred:
        _defer(deferred)
    return recording.record_attempts(records)


def _wait_unless_hanging(started: list[tuple[Delivery, "transport.Sending"]]) -> list[Delivery]:
    """Wait for the batch's requests, except those that hang (in flight, not just queued
    for a sending thread, for longer than WEBHOOK_SLOW_REQUEST_SECONDS): those go to the
    late recorder, and their deliveries are returned. Requests still queued are waited
    for, so a busy sending pool still holds the task back (no unbounded backlog)."""
    handed_over, waiting = [], started
    while waiting:
        concurrent.futures.wait(
            [sending.future for _, sending in waiting], timeout=settings.WEBHOOK_SLOW_REQUEST_SECONDS
        )
        now = time.monotonic()
        for delivery, sending in waiting:
            if sending.is_hanging(now):
                late_recorder.record_when_done(delivery, sending.future)
                handed_over.append(delivery)
        waiting = [(d, s) for d, s in waiting if not s.future.done() and d not in handed_over]
    return handed_over


def _defer(deliveries: list[Delivery]) -> None:
    """Give back, uncounted, deliveries whose endpoint is at its in-flight cap: they are
    due again in WEBHOOK_DEFER_SECONDS, when a slot may be free."""
    later = timezone.now() + timedelta(seconds=settings.WEBHOOK_DEFER_SECONDS)
    ids = [delivery.pk for delivery in deliveries]
    Delivery.objects.filter(pk__in=ids).update(
        locked_until=None, attempt_count=F("attempt_count") - 1, next_attempt_at=later, enqueued_at=later
    )
    wakeups.enqueue_deliveries(ids, countdown=settings.WEBHOOK_DEFER_SECONDS)


def _not_sent(message: str) -> transport.AttemptResult:
    return transport.AttemptResult(
        started_at=timezone.now(), duration_ms=0, request_headers={}, error_class="NotSent", error_message=message
    )
