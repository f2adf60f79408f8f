"""Webhook reads."""

from django.db.models import QuerySet

from webhooks.models import Delivery, WebhookEndpoint


def endpoint_list() -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.all()


def endpoint_get(*, endpoint_id: str) -> WebhookEndpoint:
    return WebhookEndpoint.objects.get(pk=endpoint_id)


def delivery_list(
    *,
    endpoint: WebhookEndpoint,
    status: str | None = None,
    event_type: str | None = None,
    is_test: bool | None = None,
) -> QuerySet[Delivery]:
    deliveries = Delivery.objects.filter(endpoint=endpoint).select_related("event")
    if status:
        deliveries = deliveries.filter(status=status)
    if event_type:
        deliveries = deliveries.filter(event__type=event_type)
    if is_test is not None:
        deliveries = deliveries.filter(is_test=is_test)
    return deliveries


def delivery_get(*, delivery_id: str) -> Delivery:
    return Delivery.objects.select_related("event", "endpoint").prefetch_related("attempts").get(pk=delivery_id)
