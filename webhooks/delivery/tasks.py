"""Celery tasks: fetch by id, call a service; each is safe to run more than once. Their
names keep the `webhooks.tasks.` prefix of earlier versions: messages already queued
during an upgrade still find them."""

from celery import shared_task
from django.conf import settings

from webhooks.actions import delivery_log_prune
from webhooks.delivery.dispatcher import deliveries_dispatch_due
from webhooks.delivery.outbox import event_expand
from webhooks.delivery.worker import deliveries_attempt


@shared_task(name="webhooks.tasks.deliver_batch", acks_late=True, ignore_result=True)
def deliver_batch(delivery_ids: list[str]) -> None:
    # Topped up with other due deliveries: under load one task serves a whole batch.
    # A hanging receiver's requests are recorded later, so they do not hold this thread.
    deliveries_attempt(delivery_ids=delivery_ids, fill_to=settings.WEBHOOK_BATCH_SIZE, record_slow_later=True)


@shared_task(name="webhooks.tasks.expand_events", acks_late=True, ignore_result=True)
def expand_events(event_ids: list[str]) -> None:
    for event_id in event_ids:
        event_expand(event_id=event_id)


@shared_task(name="webhooks.tasks.dispatch_due_deliveries", ignore_result=True)
def dispatch_due_deliveries() -> int:
    return deliveries_dispatch_due()


@shared_task(name="webhooks.tasks.prune_delivery_log", ignore_result=True)
def prune_delivery_log() -> dict[str, int]:
    return delivery_log_prune()
