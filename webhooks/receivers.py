"""The webhooks app listens to the incidents app; incidents never imports webhooks."""

from django.dispatch import receiver

from incidents.models import IncidentEvent
from incidents.signals import incident_event_recorded
from webhooks.services import event_record


@receiver(incident_event_recorded, sender=IncidentEvent, dispatch_uid="webhooks.outbox")
def write_outbox(sender, event: IncidentEvent, **kwargs) -> None:
    event_record(incident_event=event)
