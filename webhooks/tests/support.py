"""Small helpers shared by the webhooks service tests."""

import re
from datetime import UTC, timedelta

from django.utils import timezone

from incidents import services as incident_services
from incidents.models import Incident
from webhooks.delivery.worker import deliveries_attempt
from webhooks.models import Delivery, DeliveryAttempt, WebhookEndpoint

Z_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def z(moment) -> str | None:
    """ISO 8601 UTC with `Z`, to the millisecond, computed independently of webhooks.formats.opsknight."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def declare(actor, key="k1", **fields) -> Incident:
    incident, created = incident_services.incident_create(
        title=fields.pop("title", "DB down"), idempotency_key=key, actor=actor, **fields
    )
    assert created
    return incident


def only_delivery(endpoint) -> Delivery:
    (delivery,) = Delivery.objects.filter(endpoint=endpoint)
    return delivery


def reload(endpoint: WebhookEndpoint) -> WebhookEndpoint:
    return WebhookEndpoint.objects.get(pk=endpoint.pk)


def make_due(delivery: Delivery) -> None:
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))


def delivery_attempt(*, delivery_id: str) -> DeliveryAttempt | None:
    """One delivery through the worker's path: its attempt, or None when there was
    nothing to do (not due, leased, finished)."""
    attempts = deliveries_attempt(delivery_ids=[delivery_id])
    return attempts[0] if attempts else None
