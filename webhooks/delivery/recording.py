"""Recording: an attempt's outcome is logged (DeliveryAttempt) and moves its delivery on:
succeeded, due again per the retry policy, or failed; endpoint health follows."""

import logging
from collections import defaultdict
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import Q
from django.utils import timezone

from opsknight.rows import rows_insert
from webhooks import endpoints, observability, transport
from webhooks.delivery import retries, wakeups
from webhooks.formats import opsknight as opsknight_format
from webhooks.models import Delivery, DeliveryAttempt, WebhookEndpoint

logger = logging.getLogger(__name__)


def _outcome(delivery: Delivery, result: transport.AttemptResult, *, final: bool, now: datetime):
    """The delivery's new state after this attempt, and the retry delay if there is one:
    succeeded; due again (per the retry policy and any Retry-After); or failed. `final`:
    no retry whatever the outcome (a test send reports at once; a disabled endpoint gets
    nothing). A 410 Gone ends the delivery (and disables the endpoint)."""
    update = {
        "locked_until": None,
        "last_status_code": result.response_status,
        "last_error": result.summary,
    }
    delay = None
    if result.succeeded:
        update.update(status=Delivery.Status.SUCCEEDED, next_attempt_at=None, completed_at=now)
        return update, None
    if not (final or result.response_status == 410):
        retry_after = None
        if result.response_status in retries.RETRY_AFTER_STATUSES:
            retry_after = retries.parse_retry_after(_header(result.response_headers, "Retry-After"), now=now)
        delay = retries.next_retry_delay(attempts_made=delivery.attempt_count, retry_after=retry_after)
    if delay is None:
        update.update(status=Delivery.Status.FAILED, next_attempt_at=None, completed_at=now)
    else:
        # With a countdown message on the queue the dispatcher leaves it alone; a delay
        # too long for a countdown is the dispatcher's to enwakeups.
        enqueued_at = now + timedelta(seconds=delay) if wakeups.countdown_fits(delay) else None
        update.update(next_attempt_at=now + timedelta(seconds=delay), enqueued_at=enqueued_at)
    return update, delay


def record_attempts(records: list[tuple[Delivery, transport.AttemptResult, bool]]) -> list[DeliveryAttempt]:
    """Log the attempts and move each delivery on. Should the batch's statements fail
    (the transport makes every answer storable, so this is a last line of defence), each
    attempt is recorded on its own, and one that still cannot be stored is recorded
    without the receiver's answer: one odd answer never leaves the others unrecorded (their
    leases would run out and healthy endpoints would get their events again)."""
    try:
        return _record_batch(records)
    except DatabaseError:
        logger.exception("Could not record a batch of %d attempts; recording them one by one.", len(records))
    attempts = []
    for delivery, result, final in records:
        try:
            attempts += _record_batch([(delivery, result, final)])
        except DatabaseError as error:
            logger.exception("Could not record the attempt of %s; recording it without the answer.", delivery.pk)
            attempts += _record_batch([(delivery, _without_answer(result, error), final)])
    return attempts


def _without_answer(result: transport.AttemptResult, error: Exception) -> transport.AttemptResult:
    return transport.AttemptResult(
        started_at=result.started_at,
        duration_ms=result.duration_ms,
        request_headers=result.request_headers,
        response_status=result.response_status,
        error_class=result.error_class or ("" if result.succeeded else "Unrecorded"),
        error_message=f"The receiver's answer could not be stored ({type(error).__name__}).",
    )


def _record_batch(records: list[tuple[Delivery, transport.AttemptResult, bool]]) -> list[DeliveryAttempt]:
    """Log the attempts and move each delivery on, in one transaction: one bulk insert,
    one update per distinct new state (a batch's successes share one), retries enqueued
    on commit grouped by delay, and endpoint health once per endpoint."""
    now = timezone.now()
    attempts, by_state, retry_groups, health = [], defaultdict(list), defaultdict(list), {}
    for delivery, result, final in records:
        update, delay = _outcome(delivery, result, final=final, now=now)
        by_state[tuple(sorted(update.items()))].append(delivery.pk)
        if delay is not None and wakeups.countdown_fits(delay):
            retry_groups[delay].append(delivery.pk)
        attempts.append(
            DeliveryAttempt(
                delivery=delivery,
                number=delivery.attempt_count,
                started_at=result.started_at,
                duration_ms=result.duration_ms,
                url=delivery.endpoint.url,
                request_headers=transport.redact_headers(result.request_headers, custom=delivery.endpoint.headers),
                response_status=result.response_status,
                response_headers=result.response_headers,
                response_body_excerpt=result.response_body_excerpt,
                error_class=result.error_class,
                error_message=result.error_message,
                outcome=DeliveryAttempt.Outcome.SUCCEEDED if result.succeeded else DeliveryAttempt.Outcome.FAILED,
            )
        )
        if not delivery.is_test and delivery.endpoint.is_active:
            seen = health.setdefault(delivery.endpoint_id, {"endpoint": delivery.endpoint, "ok": False, "gone": False})
            seen["ok"] |= result.succeeded
            seen["gone"] |= result.response_status == 410
        for name, value in update.items():
            setattr(delivery, name, value)
    with transaction.atomic():
        rows_insert(attempts)
        for state, ids in by_state.items():
            Delivery.objects.filter(pk__in=ids).update(**dict(state))
        for delay, ids in retry_groups.items():
            wakeups.enqueue_deliveries_on_commit(ids, countdown=delay)
        _track_endpoint_health(list(health.values()), now=now)
        _wake_next_in_order([d for d, _, _ in records if d.ordered and d.status != Delivery.Status.PENDING])
    observability.attempts_recorded(attempts)
    return attempts


def _wake_next_in_order(ended: list[Delivery]) -> None:
    """An ordered delivery that ended frees its incident's next one at that endpoint: wake
    it now rather than at the dispatcher's next pass (one query, only for ordered ones)."""
    if not ended:
        return
    pairs = Q()
    for delivery in ended:
        pairs |= Q(endpoint_id=delivery.endpoint_id, incident_id=delivery.incident_id)
    waiting = Delivery.objects.filter(pairs, ordered=True, status=Delivery.Status.PENDING, origin=Delivery.Origin.EVENT)
    wakeups.enqueue_deliveries_on_commit(list(waiting.values_list("id", flat=True)))


def _header(headers: dict, name: str) -> str | None:
    return next((value for key, value in headers.items() if key.lower() == name.lower()), None)


def _track_endpoint_health(outcomes: list[dict], *, now: datetime) -> None:
    """Per endpoint of a batch (`{"endpoint", "ok", "gone"}`): any success clears the
    failing window; otherwise a 410 disables the endpoint, and a failure opens the
    window or, once it is older than WEBHOOK_DISABLE_AFTER_FAILING_FOR, disables the
    endpoint. One statement per kind of change, conditional so that concurrent workers
    agree without locking endpoint rows."""
    window = timedelta(seconds=settings.WEBHOOK_DISABLE_AFTER_FAILING_FOR)
    recovered, opened = [], []
    for outcome in outcomes:
        endpoint = outcome["endpoint"]
        if outcome["ok"]:
            if endpoint.failing_since is not None:
                recovered.append(endpoint.pk)
        elif outcome["gone"]:
            endpoints.endpoint_disable(endpoint=endpoint, reason="The receiver answered 410 Gone.", now=now)
        elif endpoint.failing_since is None:
            opened.append(endpoint.pk)
        elif endpoint.failing_since <= now - window:
            since = opsknight_format.iso_z(endpoint.failing_since)
            endpoints.endpoint_disable(
                endpoint=endpoint, reason=f"Every attempt failed for {_duration(window)} (since {since}).", now=now
            )
    if recovered:
        WebhookEndpoint.objects.filter(pk__in=recovered).update(failing_since=None)
    if opened:
        WebhookEndpoint.objects.filter(pk__in=opened, failing_since__isnull=True).update(failing_since=now)


def _duration(window: timedelta) -> str:
    hours = window.total_seconds() / 3600
    return f"{hours / 24:g} days" if hours >= 48 else f"{hours:g} hours" if hours >= 1 else f"{window.seconds} s"
