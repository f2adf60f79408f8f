"""The outbox: an incident event becomes an Event and one Delivery per subscribed
endpoint, in the incident's own transaction, with their wake-up sent after commit."""

import json
import logging
from datetime import datetime

from django.dispatch import receiver
from django.utils import timezone

from incidents.models import IncidentEvent
from incidents.selectors import incident_page_url
from incidents.signals import incident_event_recorded
from webhooks import formats
from webhooks.delivery import wakeups
from webhooks.formats import opsknight as opsknight_format
from webhooks.models import Delivery, Event, WebhookEndpoint, new_event_id

logger = logging.getLogger(__name__)


def subscribed_endpoints(*, event_type: str) -> list[WebhookEndpoint]:
    # Subscriptions are filtered in Python: JSON containment differs per database,
    # and the active endpoints are few enough to read at once.
    active = WebhookEndpoint.objects.filter(is_active=True).only("id", "event_types", "format", "format_options")
    return [endpoint for endpoint in active if endpoint.is_subscribed_to(event_type)]


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
        # A triggered event is written in the transaction that inserts the incident, so it
        # has no links yet: that saves the query on the hottest path.
        incident=opsknight_format.incident_payload(
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
    deliveries_create(event=event, endpoints=subscribed_endpoints(event_type=event.type), origin=Delivery.Origin.EVENT)
    return event


def deliveries_create(*, event: Event, endpoints, origin: str) -> list[Delivery]:
    now = timezone.now()
    renderer = EventRenderer(event)
    return deliveries_save_and_enqueue(
        [
            new_delivery(event.id, endpoint, origin, now, is_test=event.is_test, body=renderer.body_for(endpoint))
            for endpoint in endpoints
        ]
    )


def new_delivery(
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


class EventRenderer:
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
            context = formats.RenderContext(incident_url=incident_page_url(incident_id=incident_id))
            return formats.render(format, event=self._parsed, options=options, context=context).decode("utf-8")
        except Exception:
            # Never fail the incident's transaction over a message: the OpsKnight body goes
            # instead, and the receiver's answer shows in the log.
            logger.exception("Could not render event %s as %s; sending the OpsKnight body.", self.event.id, format)
            return ""


def deliveries_save_and_enqueue(deliveries: list[Delivery]) -> list[Delivery]:
    deliveries = Delivery.objects.bulk_create(deliveries, batch_size=1000)
    wakeups.enqueue_deliveries_on_commit([d.id for d in deliveries])
    return deliveries
