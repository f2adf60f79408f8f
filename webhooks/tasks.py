"""Celery tasks: fetch by id, call a service. Both are safe to run more than once."""

from celery import shared_task
from django.conf import settings

from webhooks import services


@shared_task(name="webhooks.tasks.deliver_batch", acks_late=True, ignore_result=True)
def deliver_batch(delivery_ids: list[str]) -> None:
    # Topped up with other due deliveries: under load one task serves a whole batch.
    # A hanging receiver's requests are recorded later, so they do not hold this thread.
    services.deliveries_attempt(delivery_ids=delivery_ids, fill_to=settings.WEBHOOK_BATCH_SIZE, record_slow_later=True)


@shared_task(name="webhooks.tasks.deliver", acks_late=True, ignore_result=True)
def deliver(delivery_id: str) -> None:
    """One delivery: the message shape of earlier versions, still on queues after an upgrade."""
    deliver_batch([delivery_id])


@shared_task(name="webhooks.tasks.dispatch_due_deliveries", ignore_result=True)
def dispatch_due_deliveries() -> int:
    return services.deliveries_dispatch_due()


@shared_task(name="webhooks.tasks.prune_delivery_log", ignore_result=True)
def prune_delivery_log() -> dict[str, int]:
    return services.delivery_log_prune()
