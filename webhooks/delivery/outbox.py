"""The outbox: an incident event becomes an Event and one Delivery per subscribed
endpoint, in the incident's own transaction, with their wake-up sent after commit."""

import json
import logging
from dataclasses import asdict, dataclass
from datetime import datetime

from django.conf import settings
from django.dispatch import receiver
from django.utils import timezone

from incidents.models import IncidentEvent
from incidents.selectors import incident_page_url
from incidents.signals import incident_event_recorded
from opsknight.rows import rows_insert
from webhooks import formats
from webhooks.delivery import wakeups
from webhooks.formats import opsknight as opsknight_format
from webhooks.models import Delivery, Event, WebhookEndpoint, new_event_id

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EventFacts:
    """What subscriptions, filters and ordering look at: the event's type, and its
    incident's id, version, service, severity and visibility when it happened (stored
    with the event, so a worker expanding it later sees the same)."""

    type: str
    incident_id: str = ""
    version: int = 0
    service_id: str | None = None
    severity: str = ""
    visibility: str = "public"

    @classmethod
    def of_incident(cls, *, event_type: str, incident, version: int) -> "EventFacts":
        return cls(event_type, incident.pk, version, incident.service_id, incident.severity, incident.visibility)

    @classmethod
    def of_event(cls, event: Event) -> "EventFacts":
        return cls(type=event.type, **event.facts)

    def stored(self) -> dict:
        return {key: value for key, value in asdict(self).items() if key != "type"}


# Lowest first: an endpoint's min_severity lets through that rank and above.
SEVERITY_RANK = {"info": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}


def endpoint_wants(endpoint: WebhookEndpoint, facts: EventFacts) -> bool:
    """The endpoint's subscription and filters let this event through. A format with its
    own event names subscribes message by message (deliveries_create); its filters apply
    here all the same."""
    if formats.event_types(endpoint.format) is None and not endpoint.is_subscribed_to(facts.type):
        return False
    if endpoint.services and facts.service_id not in endpoint.services:
        return False
    if endpoint.min_severity and SEVERITY_RANK.get(facts.severity, 0) < SEVERITY_RANK[endpoint.min_severity]:
        return False
    return endpoint.visibility in ("both", facts.visibility)


_ENDPOINT_FIELDS = (
    "id", "event_types", "format", "format_options", "services", "min_severity", "visibility", "ordering",
)  # fmt: skip


def _active_endpoints():
    # Subscriptions and filters are applied in Python: JSON containment differs per
    # database, and it costs no query per endpoint.
    return WebhookEndpoint.objects.filter(is_active=True).only(*_ENDPOINT_FIELDS)


@receiver(incident_event_recorded, sender=IncidentEvent, dispatch_uid="webhooks.outbox")
def write_outbox(sender, event: IncidentEvent, **kwargs) -> None:
    """The webhooks app listens to the incidents app (which never imports webhooks)."""
    event_record(incident_event=event)


def event_record(*, incident_event: IncidentEvent) -> Event:
    """Write the event and one delivery per subscribed endpoint, in the caller's
    transaction; the deliveries are enqueued only once it commits."""
    event_id = new_event_id()
    body = opsknight_format.event_body(
        event_id=event_id,
        event_type=incident_event.type,
        timestamp=incident_event.occurred_at,
        actor=opsknight_format.actor_payload(
            type=incident_event.actor_type,
            id=incident_event.actor_id,
            name=incident_event.actor_name,
            private=incident_event.incident.is_private,
        ),
        # The incidents app leaves the links prefetched (empty) when the incident has
        # none, as most have: then they cost no query here.
        incident=opsknight_format.incident_payload(incident_event.incident),
    )
    facts = EventFacts.of_incident(
        event_type=incident_event.type, incident=incident_event.incident, version=incident_event.version
    )
    # At most WEBHOOK_INLINE_FANOUT_MAX + 1 endpoints are read here, whatever their number:
    # the change's transaction stays O(1) in the number of endpoints.
    inline_max = settings.WEBHOOK_INLINE_FANOUT_MAX
    endpoints = list(_active_endpoints().order_by("pk")[: inline_max + 1])
    inline = len(endpoints) <= inline_max
    event = Event.objects.create(
        id=event_id,
        type=incident_event.type,
        incident_id=incident_event.incident_id,
        incident_event=incident_event,
        payload=body.decode("utf-8"),
        created_at=incident_event.occurred_at,
        expanded_at=incident_event.occurred_at if inline else None,
        facts=facts.stored(),
    )
    if inline:
        deliveries_create(event=event, endpoints=endpoints, facts=facts)
    else:
        # A large fan-out: a worker writes the deliveries after commit (event_expand).
        wakeups.enqueue_expansion_on_commit(event.id)
    return event


def event_expand(*, event_id: str) -> int:
    """Write the deliveries of an event whose fan-out was too large for its change's
    transaction, in chunks, and enqueue them. Safe to run again (after a crash, or a
    duplicate wake-up): the unique constraint on (event, endpoint, message) keeps each
    delivery once. Returns how many deliveries the event has."""
    event = Event.objects.filter(pk=event_id).first()
    if event is None or event.expanded_at is not None or event.is_test:
        return 0
    now, renderer, facts = timezone.now(), EventRenderer(event), EventFacts.of_event(event)
    chunk: list[Delivery] = []
    # Read at once (at most WEBHOOK_MAX_ENDPOINTS rows, a few fields each), not through a
    # server-side cursor: outside a transaction that would be a WITH HOLD cursor, which
    # PgBouncer's transaction pooling does not support.
    for endpoint in list(_active_endpoints()):
        chunk += _deliveries_for(endpoint, event=event, facts=facts, renderer=renderer, now=now)
        if len(chunk) >= EXPANSION_CHUNK:
            Delivery.objects.bulk_create(chunk, ignore_conflicts=True)
            chunk = []
    Delivery.objects.bulk_create(chunk, ignore_conflicts=True)
    Event.objects.filter(pk=event.pk, expanded_at__isnull=True).update(expanded_at=now)
    # Every pending one, also those a crashed earlier expansion wrote.
    pending = Delivery.objects.filter(event=event, origin=Delivery.Origin.EVENT, status=Delivery.Status.PENDING)
    ids = list(pending.values_list("id", flat=True))
    wakeups.enqueue_deliveries(ids)
    return len(ids)


# Rows per INSERT while expanding (each its own short transaction).
EXPANSION_CHUNK = 1000


def deliveries_create(*, event: Event, endpoints, facts: EventFacts) -> list[Delivery]:
    """One delivery per message each endpoint wants (one message per event, except for
    formats that send several), written and enqueued on commit."""
    now, renderer = timezone.now(), EventRenderer(event)
    deliveries = []
    for endpoint in endpoints:
        deliveries += _deliveries_for(endpoint, event=event, facts=facts, renderer=renderer, now=now)
    return deliveries_save_and_enqueue(deliveries)


def _deliveries_for(endpoint, *, event: Event, facts: EventFacts, renderer, now) -> list[Delivery]:
    if not endpoint_wants(endpoint, facts):
        return []
    origin = Delivery.Origin.EVENT
    return [
        new_delivery(event.id, endpoint, origin, now, is_test=event.is_test, message=message, facts=facts)
        for message in renderer.messages_for(endpoint)
        if message.type is None or endpoint.is_subscribed_to(message.type)
    ]


@dataclass(frozen=True)
class StoredMessage:
    """A message as a delivery row keeps it: body "" sends the event's own payload;
    id and type "" mean the event's. `type` None: no per-message subscription check."""

    body: str = ""
    id: str = ""
    type: str | None = None


DEFAULT_MESSAGE = StoredMessage()


def new_delivery(
    event_id: str,
    endpoint: WebhookEndpoint,
    origin: str,
    now: datetime,
    *,
    is_test: bool = False,
    message: StoredMessage = DEFAULT_MESSAGE,
    facts: EventFacts | None = None,
) -> Delivery:
    # enqueued_at=now: the message goes out on commit, so the dispatcher waits for it.
    # A redelivered test event stays marked as a test (out of real-delivery stats and filters).
    # Only an event's own deliveries are ordered; redeliveries and replays go as they come.
    ordered = facts is not None and origin == Delivery.Origin.EVENT and endpoint.ordering == "per_incident"
    return Delivery(
        incident_id=facts.incident_id if facts else "",
        sequence=facts.version if facts else 0,
        ordered=ordered,
        event_id=event_id,
        endpoint=endpoint,
        origin=origin,
        is_test=is_test,
        next_attempt_at=now,
        enqueued_at=now,
        body=message.body,
        message_id=message.id,
        message_type=message.type or "",
    )


class EventRenderer:
    """One event's messages for endpoints of another format than the default, rendered
    from its stored payload once per distinct format and options. Default-format
    endpoints send the payload itself, at no cost."""

    def __init__(self, event: Event):
        self.event = event
        self._parsed: dict | None = None
        self._messages: dict[tuple[str, str], list[StoredMessage]] = {}

    def messages_for(self, endpoint: WebhookEndpoint) -> list[StoredMessage]:
        if endpoint.format == formats.DEFAULT:
            return [DEFAULT_MESSAGE]
        key = (endpoint.format, json.dumps(endpoint.format_options, sort_keys=True))
        if key not in self._messages:
            self._messages[key] = self._render(endpoint.format, endpoint.format_options)
        return self._messages[key]

    def _render(self, format: str, options: dict) -> list[StoredMessage]:
        try:
            if self._parsed is None:
                self._parsed = json.loads(self.event.payload)
            incident_id = self._parsed["incident"]["id"]
            context = formats.RenderContext(incident_url=incident_page_url(incident_id=incident_id))
            render = formats.test_messages if self.event.is_test else formats.messages
            rendered = render(format, event=self._parsed, options=options, context=context)
        except Exception:
            # Never fail the incident's transaction over a message: the OpsKnight body goes
            # instead, and the receiver's answer shows in the log.
            logger.exception("Could not render event %s as %s; sending the OpsKnight body.", self.event.id, format)
            return [DEFAULT_MESSAGE]
        own_names = formats.event_types(format) is not None
        return [
            StoredMessage(
                body=message.body.decode("utf-8"),
                # The first message keeps the event's id: one-message formats are as before.
                id="" if index == 0 else f"{self.event.id}_{index}",
                type=message.type if own_names else None,
            )
            for index, message in enumerate(rendered)
        ]


def deliveries_save_and_enqueue(deliveries: list[Delivery]) -> list[Delivery]:
    deliveries = rows_insert(deliveries)
    wakeups.enqueue_deliveries_on_commit([d.id for d in deliveries])
    return deliveries
