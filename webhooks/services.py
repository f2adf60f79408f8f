"""Webhook writes: endpoints, the outbox, and the life of a delivery.

Follow one event: `event_record` (in the incident's transaction) writes the Event and
its Deliveries (with the body in the endpoint's format, unless it is the default: see
webhooks/formats) and enqueues them on commit → `tasks.deliver_batch` →
`deliveries_attempt` claims the rows, `_send_and_record` signs them and hands them to
the transport's sending pool, `_record_attempts` logs the attempts and marks each
delivery succeeded, due again, or failed.
"""

import concurrent.futures
import json
import logging
import queue as queue_module
import threading
import time
from collections import defaultdict
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DatabaseError, close_old_connections, connection, transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from incidents.models import Incident, IncidentEvent
from webhooks import formats, notifications, observability, payloads, queue, retries, signing, transport
from webhooks.models import EVENT_TYPES, Delivery, DeliveryAttempt, Event, WebhookEndpoint, new_event_id
from webhooks.targets import TargetRefused, check_url

MIN_TYPED_SECRET_LENGTH = 16

logger = logging.getLogger(__name__)

# --- Endpoints -------------------------------------------------------------------


def _validate_endpoint(endpoint: WebhookEndpoint) -> None:
    errors: dict[str, str] = {}
    if not endpoint.name.strip():
        errors["name"] = "This field may not be blank."
    try:
        check_url(endpoint.url)
    except TargetRefused as error:
        errors["url"] = str(error)
    if not isinstance(endpoint.event_types, list):
        errors["event_types"] = "Give a list of event types."
    else:
        unknown = [t for t in endpoint.event_types if t not in EVENT_TYPES.values]
        if unknown:
            errors["event_types"] = (
                f"Unknown event type(s): {', '.join(map(str, unknown))}. Known: {', '.join(EVENT_TYPES.values)}."
            )
    try:
        endpoint.format_options = check_format(format=endpoint.format, format_options=endpoint.format_options)
    except ValidationError as error:
        errors.update({name: messages[0] for name, messages in error.message_dict.items()})
    header_errors = transport.custom_header_errors(endpoint.headers)
    if header_errors:
        errors["headers"] = " ".join(header_errors)
    if errors:
        raise ValidationError(errors)
    endpoint.full_clean()


def check_format(*, format: str, format_options) -> dict:
    """The format's options, checked (unknown keys refused); a ValidationError naming
    `format` or each bad `format_options.<option>` otherwise."""
    try:
        return formats.validate_options(format, format_options)
    except formats.UnknownFormat as error:
        raise ValidationError({"format": str(error)}) from None
    except formats.OptionsError as error:
        raise ValidationError(
            {
                name if name == "format_options" else f"format_options.{name}": message
                for name, message in error.errors.items()
            }
        ) from None


def _check_typed_secret(secret: str) -> None:
    if len(secret) < MIN_TYPED_SECRET_LENGTH:
        raise ValidationError({"secret": f"A secret needs at least {MIN_TYPED_SECRET_LENGTH} characters."})


def endpoint_create(
    *,
    name: str,
    url: str,
    event_types: list[str] | None = None,
    is_active: bool = True,
    description: str = "",
    secret: str | None = None,
    format: str = formats.DEFAULT,
    format_options: dict | None = None,
    headers: dict[str, str] | None = None,
) -> WebhookEndpoint:
    """Create an endpoint. The secret is generated unless one is typed; the caller shows
    `endpoint.secret` once and never again."""
    if secret:
        _check_typed_secret(secret)
    endpoint = WebhookEndpoint(
        name=name,
        url=url,
        event_types=sorted(set(event_types or [])),
        is_active=is_active,
        description=description,
        secret=secret or signing.generate_secret(),
        format=format,
        format_options={} if format_options is None else format_options,
        headers=headers or {},
    )
    _validate_endpoint(endpoint)
    endpoint.save(force_insert=True)
    return endpoint


ENDPOINT_UPDATABLE_FIELDS = frozenset(
    {"name", "url", "event_types", "is_active", "description", "format", "format_options", "headers"}
)


def _keep_redacted_values(new: dict, old: dict) -> dict:
    """Custom headers as given, except that a value sent back as REDACTED (as the API and
    admin show sensitive ones) keeps the stored value of that header."""
    if not isinstance(new, dict):
        return new
    return {name: old.get(name, value) if value == transport.REDACTED else value for name, value in new.items()}


def _origin(url: str) -> tuple[str, int | None]:
    parts = urlsplit(url)
    try:
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    except ValueError:
        port = None
    return (parts.hostname or "").lower(), port


def endpoint_check_url_move(*, endpoint: WebhookEndpoint, new_url, new_headers) -> None:
    """A credential-like custom header (shown redacted, so whoever edits may not know it)
    was given for one host: it is not sent to another until the operator types it again
    or removes it, so nobody can redirect a stored credential by changing the URL alone."""
    if not isinstance(new_url, str) or _origin(new_url) == _origin(endpoint.url):
        return
    given = new_headers if isinstance(new_headers, dict) else None
    stale = [
        name
        for name in endpoint.headers
        if transport.is_sensitive_header(name) and (given is None or given.get(name) == transport.REDACTED)
    ]
    if stale:
        old_host, new_host = _origin(endpoint.url)[0], _origin(new_url)[0]
        raise ValidationError(
            {
                "headers": f"The URL moves from {old_host} to {new_host}: give the value of "
                f"{', '.join(stale)} again (or remove it), so that a credential meant for {old_host} "
                f"is not sent to {new_host}."
            }
        )


def endpoint_update(*, endpoint: WebhookEndpoint, **changes) -> WebhookEndpoint:
    unknown = set(changes) - ENDPOINT_UPDATABLE_FIELDS
    if unknown:
        raise ValueError(f"Not updatable: {', '.join(sorted(unknown))}")
    if "format" in changes and changes["format"] != endpoint.format and "format_options" not in changes:
        changes["format_options"] = {}  # the old format's options mean nothing to the new one
    if "url" in changes:
        endpoint_check_url_move(endpoint=endpoint, new_url=changes["url"], new_headers=changes.get("headers"))
    if "headers" in changes:
        changes["headers"] = _keep_redacted_values(changes["headers"], endpoint.headers)
    for name, value in changes.items():
        setattr(endpoint, name, sorted(set(value)) if name == "event_types" else value)
    if changes.get("is_active") is True:
        endpoint.disabled_reason, endpoint.disabled_at, endpoint.failing_since = "", None, None
    elif changes.get("is_active") is False and not endpoint.disabled_at:
        endpoint.disabled_reason, endpoint.disabled_at = "Disabled by hand.", timezone.now()
    endpoint.updated_at = timezone.now()
    _validate_endpoint(endpoint)
    endpoint.save()
    return endpoint


def endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    endpoint.delete()


def endpoint_rotate_secret(*, endpoint: WebhookEndpoint, secret: str | None = None) -> WebhookEndpoint:
    """A new secret signs from now on; the old one signs alongside it for
    WEBHOOK_SECRET_ROTATION_OVERLAP seconds, so receivers can switch without a gap."""
    if secret:
        _check_typed_secret(secret)
    now = timezone.now()
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = now + timedelta(seconds=settings.WEBHOOK_SECRET_ROTATION_OVERLAP)
    endpoint.secret = secret or signing.generate_secret()
    endpoint.updated_at = now
    endpoint.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at", "updated_at"])
    return endpoint


# --- The outbox --------------------------------------------------------------------


def subscribed_endpoints(*, event_type: str) -> list[WebhookEndpoint]:
    # Subscriptions are filtered in Python: JSON containment differs per database,
    # and the active endpoints are few enough to read at once.
    active = WebhookEndpoint.objects.filter(is_active=True).only("id", "event_types", "format", "format_options")
    return [endpoint for endpoint in active if endpoint.is_subscribed_to(event_type)]


def event_record(*, incident_event: IncidentEvent) -> Event:
    """Write the event and one delivery per subscribed endpoint, in the caller's
    transaction; the deliveries are enqueued only once it commits."""
    event_id = new_event_id()
    body = payloads.event_body(
        event_id=event_id,
        event_type=incident_event.type,
        timestamp=incident_event.occurred_at,
        # A triggered event is written in the transaction that inserts the incident, so it
        # has no links yet: that saves the query on the hottest path.
        incident=payloads.incident_payload(
            incident_event.incident,
            external_links=[] if incident_event.type == IncidentEvent.Type.TRIGGERED else None,
        ),
    )
    event = Event.objects.create(
        id=event_id,
        type=incident_event.type,
        incident_id=incident_event.incident_id,
        incident_event=incident_event,
        payload=body.decode("utf-8"),
        created_at=incident_event.occurred_at,
    )
    _create_deliveries(event=event, endpoints=subscribed_endpoints(event_type=event.type), origin=Delivery.Origin.EVENT)
    return event


def _create_deliveries(*, event: Event, endpoints, origin: str) -> list[Delivery]:
    now = timezone.now()
    renderer = _EventRenderer(event)
    return _save_and_enqueue(
        [
            _new_delivery(event.id, endpoint, origin, now, is_test=event.is_test, body=renderer.body_for(endpoint))
            for endpoint in endpoints
        ]
    )


def _new_delivery(
    event_id: str, endpoint: WebhookEndpoint, origin: str, now: datetime, *, is_test: bool = False, body: str = ""
) -> Delivery:
    # enqueued_at=now: the message goes out on commit, so the dispatcher waits for it.
    # A redelivered test event stays marked as a test (out of real-delivery stats and filters).
    return Delivery(
        event_id=event_id,
        endpoint=endpoint,
        origin=origin,
        is_test=is_test,
        next_attempt_at=now,
        enqueued_at=now,
        body=body,
    )


class _EventRenderer:
    """One event's body for endpoints of another format than the default, rendered
    from its stored payload once per distinct format and options. Default-format
    endpoints get "" (their deliveries send the payload itself) at no cost."""

    def __init__(self, event: Event):
        self.event = event
        self._parsed: dict | None = None
        self._bodies: dict[tuple[str, str], str] = {}

    def body_for(self, endpoint: WebhookEndpoint) -> str:
        if endpoint.format == formats.DEFAULT:
            return ""
        key = (endpoint.format, json.dumps(endpoint.format_options, sort_keys=True))
        if key not in self._bodies:
            self._bodies[key] = self._render(endpoint.format, endpoint.format_options)
        return self._bodies[key]

    def _render(self, format: str, options: dict) -> str:
        try:
            if self._parsed is None:
                self._parsed = json.loads(self.event.payload)
            incident_id = self._parsed["incident"]["id"]
            context = formats.RenderContext(
                incident_url=settings.PUBLIC_BASE_URL + reverse("admin:incidents_incident_change", args=[incident_id])
            )
            return formats.render(format, event=self._parsed, options=options, context=context).decode("utf-8")
        except Exception:
            # Never fail the incident's transaction over a message: the OpsKnight body goes
            # instead, and the receiver's answer shows in the log.
            logger.exception("Could not render event %s as %s; sending the OpsKnight body.", self.event.id, format)
            return ""


def _save_and_enqueue(deliveries: list[Delivery]) -> list[Delivery]:
    deliveries = Delivery.objects.bulk_create(deliveries, batch_size=1000)
    queue.enqueue_deliveries_on_commit([d.id for d in deliveries])
    return deliveries


# --- Attempts ------------------------------------------------------------------------


def _lease_until(now: datetime) -> datetime:
    return now + timedelta(seconds=settings.WEBHOOK_LEASE_SECONDS)


def _claimable(now: datetime) -> Q:
    return Q(status=Delivery.Status.PENDING, next_attempt_at__lte=now) & (
        Q(locked_until__isnull=True) | Q(locked_until__lte=now)
    )


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
    claimed = _claim(delivery_ids, now)
    if fill_to > len(claimed):
        claimed += _claim_more(limit=fill_to - len(claimed), now=now, skip_endpoints=transport.busy_endpoint_keys())
    if not claimed:
        return []
    deliveries = list(Delivery.objects.filter(pk__in=claimed).select_related("event", "endpoint"))
    return _send_and_record(deliveries, not_after=_attempt_not_after(lease_clock), record_slow_later=record_slow_later)


# Time kept at the end of a lease to record the attempt: an attempt that ends later
# could be sent again by another worker while it is still being recorded.
RECORDING_MARGIN_SECONDS = 2.0


def _attempt_not_after(lease_clock: float) -> float:
    """When the attempts of a lease taken at `lease_clock` (time.monotonic()) must be over."""
    return lease_clock + settings.WEBHOOK_LEASE_SECONDS - RECORDING_MARGIN_SECONDS


def delivery_attempt(*, delivery_id: str) -> DeliveryAttempt | None:
    """One delivery: its attempt, or None when there was nothing to do."""
    attempts = deliveries_attempt(delivery_ids=[delivery_id])
    return attempts[0] if attempts else None


def _claim(delivery_ids: list[str], now: datetime) -> list[str]:
    """Take the lease on those of `delivery_ids` that are due and free, in one statement
    that also says which ones it took."""
    if not delivery_ids:
        return []
    table = connection.ops.quote_name(Delivery._meta.db_table)
    adapt = connection.ops.adapt_datetimefield_value
    placeholders = ", ".join(["%s"] * len(delivery_ids))
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET locked_until = %s, attempt_count = attempt_count + 1 "
            f"WHERE id IN ({placeholders}) AND status = %s AND next_attempt_at <= %s "
            "AND (locked_until IS NULL OR locked_until <= %s) RETURNING id",
            [adapt(_lease_until(now)), *delivery_ids, Delivery.Status.PENDING, adapt(now), adapt(now)],
        )
        return [row[0] for row in cursor.fetchall()]


def _claim_more(*, limit: int, now: datetime, skip_endpoints: list[str]) -> list[str]:
    """Take the lease on up to `limit` more due, free deliveries, oldest due first,
    skipping rows another worker is claiming (PostgreSQL's SKIP LOCKED) and endpoints
    this process already sends to at their cap. Elsewhere (SQLite): none."""
    if connection.vendor != "postgresql" or limit <= 0:
        return []
    table = connection.ops.quote_name(Delivery._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET locked_until = %s, attempt_count = attempt_count + 1 WHERE id IN ("
            f"SELECT id FROM {table} WHERE status = %s AND next_attempt_at <= %s "
            "AND (locked_until IS NULL OR locked_until <= %s) AND NOT (endpoint_id = ANY(%s)) "
            "ORDER BY next_attempt_at LIMIT %s FOR UPDATE SKIP LOCKED) RETURNING id",
            [_lease_until(now), Delivery.Status.PENDING, now, now, skip_endpoints, limit],
        )
        return [row[0] for row in cursor.fetchall()]


def _signed_request(delivery: Delivery, timestamp: int, not_after: float) -> transport.OutgoingRequest:
    endpoint, event = delivery.endpoint, delivery.event
    body = delivery.sent_body.encode("utf-8")
    headers = transport.build_headers(
        delivery_id=delivery.id,
        event_id=event.id,
        event_type=event.type,
        body=body,
        secrets=endpoint.signing_secrets(),
        timestamp=timestamp,
        custom_headers=endpoint.headers,
    )
    # Send Test answers the operator now: it does not wait behind the endpoint's cap.
    return transport.OutgoingRequest(endpoint.url, body, headers, None if delivery.is_test else endpoint.pk, not_after)


def _send_and_record(
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
    return _record_attempts(records)


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
                _late_recorder.record_when_done(delivery, sending.future)
                handed_over.append(delivery)
        waiting = [(d, s) for d, s in waiting if not s.future.done() and d not in handed_over]
    return handed_over


class _LateRecorder:
    """One thread per worker process that records the attempts a batch stopped waiting
    for (a slow or hanging receiver), in bulk, on its own database connection. Their
    deliveries stay leased until then; if this process dies first, the lease runs out
    and the dispatcher sends them again (at least once: a possible duplicate, no loss)."""

    def __init__(self) -> None:
        self._queue: queue_module.SimpleQueue = queue_module.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def record_when_done(self, delivery: Delivery, future) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="late-recorder", daemon=True)
                self._thread.start()
        future.add_done_callback(lambda done: self._queue.put((delivery, done.result(), delivery.is_test)))

    def _run(self) -> None:
        while True:
            try:
                records = [self._queue.get(timeout=LATE_RECORDER_IDLE_SECONDS)]
            except queue_module.Empty:
                connection.close()  # idle: give the database connection back
                records = [self._queue.get()]
            # Whatever else ended meanwhile goes into the same statements.
            while len(records) < settings.WEBHOOK_BATCH_SIZE:
                try:
                    records.append(self._queue.get(timeout=0.05))
                except queue_module.Empty:
                    break
            try:
                close_old_connections()
                _record_attempts(records)
            except Exception:  # noqa: BLE001 - the leases expire and the dispatcher resends
                logger.exception("Could not record %d attempts; they will be sent again.", len(records))


# Hanging receivers end in bursts of timeouts; between bursts the recorder holds no
# database connection.
LATE_RECORDER_IDLE_SECONDS = 1.0
_late_recorder = _LateRecorder()


def _defer(deliveries: list[Delivery]) -> None:
    """Give back, uncounted, deliveries whose endpoint is at its in-flight cap: they are
    due again in WEBHOOK_DEFER_SECONDS, when a slot may be free."""
    later = timezone.now() + timedelta(seconds=settings.WEBHOOK_DEFER_SECONDS)
    ids = [delivery.pk for delivery in deliveries]
    Delivery.objects.filter(pk__in=ids).update(
        locked_until=None, attempt_count=F("attempt_count") - 1, next_attempt_at=later, enqueued_at=later
    )
    queue.enqueue_deliveries(ids, countdown=settings.WEBHOOK_DEFER_SECONDS)


def _not_sent(message: str) -> transport.AttemptResult:
    return transport.AttemptResult(
        started_at=timezone.now(), duration_ms=0, request_headers={}, error_class="NotSent", error_message=message
    )


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
        # too long for a countdown is the dispatcher's to enqueue.
        enqueued_at = now + timedelta(seconds=delay) if queue.countdown_fits(delay) else None
        update.update(next_attempt_at=now + timedelta(seconds=delay), enqueued_at=enqueued_at)
    return update, delay


def _record_attempts(records: list[tuple[Delivery, transport.AttemptResult, bool]]) -> list[DeliveryAttempt]:
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
        if delay is not None and queue.countdown_fits(delay):
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
        DeliveryAttempt.objects.bulk_create(attempts)
        for state, ids in by_state.items():
            Delivery.objects.filter(pk__in=ids).update(**dict(state))
        for delay, ids in retry_groups.items():
            queue.enqueue_deliveries_on_commit(ids, countdown=delay)
        _track_endpoint_health(list(health.values()), now=now)
    observability.attempts_recorded(attempts)
    return attempts


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
            endpoint_disable(endpoint=endpoint, reason="The receiver answered 410 Gone.", now=now)
        elif endpoint.failing_since is None:
            opened.append(endpoint.pk)
        elif endpoint.failing_since <= now - window:
            since = payloads.iso_z(endpoint.failing_since)
            endpoint_disable(
                endpoint=endpoint, reason=f"Every attempt failed for {_duration(window)} (since {since}).", now=now
            )
    if recovered:
        WebhookEndpoint.objects.filter(pk__in=recovered).update(failing_since=None)
    if opened:
        WebhookEndpoint.objects.filter(pk__in=opened, failing_since__isnull=True).update(failing_since=now)


def _duration(window: timedelta) -> str:
    hours = window.total_seconds() / 3600
    return f"{hours / 24:g} days" if hours >= 48 else f"{hours:g} hours" if hours >= 1 else f"{window.seconds} s"


def endpoint_disable(*, endpoint: WebhookEndpoint, reason: str, now: datetime | None = None) -> bool:
    """Stop sending to the endpoint and tell the admins (after commit). False if it was
    already disabled."""
    now = now or timezone.now()
    disabled = WebhookEndpoint.objects.filter(pk=endpoint.pk, is_active=True).update(
        is_active=False, disabled_reason=reason[:500], disabled_at=now, updated_at=now
    )
    if disabled:
        endpoint.is_active, endpoint.disabled_reason, endpoint.disabled_at = False, reason[:500], now
        endpoint_id = endpoint.pk
        transaction.on_commit(lambda: notifications.endpoint_disabled(endpoint_id=endpoint_id))
    return bool(disabled)


def deliveries_dispatch_due(*, limit: int = 1000) -> int:
    """Enqueue due, unleased deliveries whose message is missing (never sent, or sent
    longer ago than WEBHOOK_REDISPATCH_AFTER and still not taken): after a Redis flush,
    a lost message or a killed worker, this is what sends them."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.WEBHOOK_REDISPATCH_AFTER)
    due_ids = list(
        Delivery.objects.filter(_claimable(now))
        .filter(Q(enqueued_at__isnull=True) | Q(enqueued_at__lte=stale))
        .order_by("next_attempt_at")
        .values_list("id", flat=True)[:limit]
    )
    if due_ids:
        Delivery.objects.filter(pk__in=due_ids).update(enqueued_at=now)
        queue.enqueue_deliveries(due_ids)
    return len(due_ids)


# --- Operator actions ----------------------------------------------------------------


def _sample_incident(event_type: str) -> dict:
    now = payloads.iso_z(timezone.now())
    status = {
        EVENT_TYPES.ACKNOWLEDGED: Incident.Status.ACKNOWLEDGED,
        EVENT_TYPES.RESOLVED: Incident.Status.RESOLVED,
    }.get(event_type, Incident.Status.TRIGGERED)
    return {
        "id": "inc_TEST00000000000000000000000",
        "title": "Test event from OpsKnight",
        "summary": "Sent with Send Test: not a real incident.",
        "status": str(status),
        "severity": "info",
        "service": {"id": "svc_TEST00000000000000000000000", "name": "OpsKnight test"},
        "assignee": None,
        "createdAt": now,
        "updatedAt": now,
        "acknowledgedAt": now if status == Incident.Status.ACKNOWLEDGED else None,
        "resolvedAt": now if status == Incident.Status.RESOLVED else None,
        "escalationLevel": 1 if event_type == EVENT_TYPES.ESCALATED else 0,
        "version": 1,
        "visibility": "public",
        "externalLinks": [],
    }


def endpoint_send_test(*, endpoint: WebhookEndpoint, event_type: str = EVENT_TYPES.TRIGGERED) -> DeliveryAttempt:
    """Send one signed sample event now, in this process, in the endpoint's format, and
    log it as a test. One attempt, no retries: the operator sees the outcome at once."""
    if event_type not in EVENT_TYPES.values:
        raise ValidationError({"event_type": f"Unknown event type '{event_type}'."})
    now = timezone.now()
    event_id = new_event_id()
    body = payloads.event_body(
        event_id=event_id, event_type=event_type, timestamp=now, incident=_sample_incident(event_type)
    )
    with transaction.atomic():
        event = Event.objects.create(
            id=event_id, type=event_type, payload=body.decode("utf-8"), is_test=True, created_at=now
        )
        # Never due (no next_attempt_at), so neither a worker nor the dispatcher ever
        # sends it: its one attempt is this one, whatever happens to this process.
        delivery = Delivery.objects.create(
            event=event,
            endpoint=endpoint,
            body=_EventRenderer(event).body_for(endpoint),
            origin=Delivery.Origin.TEST,
            is_test=True,
            attempt_count=1,
            next_attempt_at=None,
            locked_until=_lease_until(now),
        )
    return _send_and_record([delivery], not_after=_attempt_not_after(time.monotonic()))[0]


def delivery_redeliver(*, delivery: Delivery) -> Delivery:
    """Send the same event (same body, same `webhook-id`) to the same endpoint again,
    as a new delivery with its own retries. The body is rendered again in the endpoint's
    format as it is now: the same bytes unless its format or options changed since."""
    with transaction.atomic():
        (redelivery,) = _create_deliveries(
            event=delivery.event, endpoints=[delivery.endpoint], origin=Delivery.Origin.REDELIVER
        )
    return redelivery


def endpoint_replay(*, endpoint: WebhookEndpoint, since: datetime) -> int:
    """Re-send every real event since `since` that the endpoint subscribes to, as new
    deliveries of the same events. Returns how many."""
    now = timezone.now()
    fields = ("id", "type") if endpoint.format == formats.DEFAULT else ("id", "type", "payload")
    events = Event.objects.filter(created_at__gte=since, is_test=False).order_by("created_at").only(*fields)
    with transaction.atomic():
        deliveries = _save_and_enqueue(
            [
                _new_delivery(
                    event.id, endpoint, Delivery.Origin.REPLAY, now, body=_EventRenderer(event).body_for(endpoint)
                )
                for event in events.iterator(chunk_size=2000)
                if endpoint.is_subscribed_to(event.type)
            ]
        )
    return len(deliveries)


def delivery_log_prune(*, older_than: timedelta | None = None, batch_size: int = 1000) -> dict[str, int]:
    """Delete finished deliveries (with their attempts) and then events older than the
    retention period (WEBHOOK_RETENTION_DAYS), in small batches, each in its own short
    transaction, so no long lock is held on the log. Pending deliveries are kept."""
    cutoff = timezone.now() - (older_than or timedelta(days=settings.WEBHOOK_RETENTION_DAYS))
    deleted = {"deliveries": 0, "attempts": 0, "events": 0}
    old_finished = Delivery.objects.filter(created_at__lt=cutoff).exclude(status=Delivery.Status.PENDING)
    while ids := list(old_finished.values_list("id", flat=True)[:batch_size]):
        with transaction.atomic():
            deleted["attempts"] += DeliveryAttempt.objects.filter(delivery_id__in=ids).delete()[0]
            deleted["deliveries"] += Delivery.objects.filter(pk__in=ids).delete()[0]
    old_events = Event.objects.filter(created_at__lt=cutoff, deliveries__isnull=True)
    while ids := list(old_events.values_list("id", flat=True)[:batch_size]):
        deleted["events"] += Event.objects.filter(pk__in=ids, deliveries__isnull=True).delete()[0]
    return deleted
