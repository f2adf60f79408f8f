"""Operator actions: Send Test, redeliver, replay and prune the delivery log."""

from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from incidents.actors import Actor
from incidents.models import Incident, Responder, Service
from webhooks import formats
from webhooks.delivery import claims, outbox, worker
from webhooks.formats import opsknight as opsknight_format
from webhooks.models import EVENT_TYPES, Delivery, DeliveryAttempt, Event, WebhookEndpoint, new_event_id

# Send Test's people: who "declared" and changed the sample incident, and its assignee
# (example.com and made-up ids, Slack's from its API docs: nobody real is mentioned).
SEND_TEST_ACTOR = Actor.system("Send Test")
SAMPLE_RESPONDER = Responder(
    id="rsp_TEST00000000000000000000000",
    name="Sample Responder",
    email="responder@example.com",
    slack_user_id="U012AB3CD",
    teams_upn="responder@example.com",
    discord_user_id="100000000000000001",
    telegram_username="sample_responder",
)


def _sample_incident(event_type: str) -> dict:
    """The sample incident of a Send Test, as the real payload code renders it (an
    unsaved Incident: nothing is written, and the body cannot drift from real ones)."""
    now = timezone.now()
    status = {
        EVENT_TYPES.ACKNOWLEDGED: Incident.Status.ACKNOWLEDGED,
        EVENT_TYPES.RESOLVED: Incident.Status.RESOLVED,
    }.get(event_type, Incident.Status.TRIGGERED)
    incident = Incident(
        id="inc_TEST00000000000000000000000",
        number=0,
        title="Test event from OpsKnight",
        summary="Sent with Send Test: not a real incident.",
        status=status,
        severity=Incident.Severity.INFO,
        service=Service(id="svc_TEST00000000000000000000000", name="OpsKnight test"),
        assignee_responder=SAMPLE_RESPONDER,
        assignee=SAMPLE_RESPONDER.email,
        creator_type=SEND_TEST_ACTOR.type,
        creator_name=SEND_TEST_ACTOR.name,
        escalation_level=1 if event_type == EVENT_TYPES.ESCALATED else 0,
        created_at=now,
        updated_at=now,
        acknowledged_at=now if status == Incident.Status.ACKNOWLEDGED else None,
        resolved_at=now if status == Incident.Status.RESOLVED else None,
    )
    return opsknight_format.incident_payload(incident)


def endpoint_send_test(*, endpoint: WebhookEndpoint, event_type: str = EVENT_TYPES.TRIGGERED) -> DeliveryAttempt:
    """Send one signed sample event now, in this process, in the endpoint's format, and
    log it as a test. One attempt, no retries: the operator sees the outcome at once."""
    if event_type not in EVENT_TYPES.values:
        raise ValidationError({"event_type": f"Unknown event type '{event_type}'."})
    now = timezone.now()
    event_id = new_event_id()
    body = opsknight_format.event_body(
        event_id=event_id,
        event_type=event_type,
        timestamp=now,
        actor=opsknight_format.actor_payload(type=SEND_TEST_ACTOR.type, name=SEND_TEST_ACTOR.name),
        incident=_sample_incident(event_type),
    )
    with transaction.atomic():
        # Expanded already: its one delivery is written here, never by a worker.
        event = Event.objects.create(
            id=event_id, type=event_type, payload=body.decode("utf-8"), is_test=True, created_at=now, expanded_at=now
        )
        # One message: the first the endpoint subscribes to (the first of all if none is).
        messages = outbox.EventRenderer(event).messages_for(endpoint)
        subscribed = [m for m in messages if m.type is None or endpoint.is_subscribed_to(m.type)]
        message = (subscribed or messages)[0]
        # Never due (no next_attempt_at), so neither a worker nor the dispatcher ever
        # sends it: its one attempt is this one, whatever happens to this process.
        delivery = Delivery.objects.create(
            event=event,
            endpoint=endpoint,
            body=message.body,
            message_id=message.id,
            message_type=message.type or "",
            origin=Delivery.Origin.TEST,
            is_test=True,
            attempt_count=1,
            next_attempt_at=None,
            locked_until=claims.lease_until(now),
        )
    return worker.send_and_record([delivery], not_after=claims.attempt_not_after())[0]


def delivery_redeliver(*, delivery: Delivery) -> Delivery:
    """Send the same message (same body, same `webhook-id`) to the same endpoint again,
    as a new delivery with its own retries. The body is rendered again in the endpoint's
    format as it is now: the same bytes unless its format or options changed since."""
    messages = outbox.EventRenderer(delivery.event).messages_for(delivery.endpoint)
    # The same message of the event (by its id); the first if the format changed since.
    message = next((m for m in messages if m.id == delivery.message_id), messages[0])
    redelivery = outbox.new_delivery(
        delivery.event_id, delivery.endpoint, Delivery.Origin.REDELIVER, timezone.now(), is_test=delivery.is_test,
        message=message,
    )  # fmt: skip
    redelivery.redelivery_of = delivery  # the admin links the two
    with transaction.atomic():
        (redelivery,) = outbox.deliveries_save_and_enqueue([redelivery])
    return redelivery


def endpoint_replay(*, endpoint: WebhookEndpoint, since: datetime) -> int:
    """Re-send every real event since `since` that the endpoint subscribes to (event
    types and filters as they are now), as new deliveries of the same events. Returns
    how many."""
    now = timezone.now()
    fields = ("id", "type", "facts") if endpoint.format == formats.DEFAULT else ("id", "type", "facts", "payload")
    events = Event.objects.filter(created_at__gte=since, is_test=False).order_by("created_at").only(*fields)
    with transaction.atomic():
        deliveries = outbox.deliveries_save_and_enqueue(
            [
                outbox.new_delivery(event.id, endpoint, Delivery.Origin.REPLAY, now, message=message)
                for event in events.iterator(chunk_size=2000)
                if outbox.endpoint_wants(endpoint, outbox.EventFacts.of_event(event))
                for message in outbox.EventRenderer(event).messages_for(endpoint)
                if message.type is None or endpoint.is_subscribed_to(message.type)
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
