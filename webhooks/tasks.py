"""Celery tasks: fetch by id, call a service. Both are safe to run more than once."""

from celery import shared_task

from webhooks import services


@shared_task(name="webhooks.tasks.deliver", acks_late=True, ignore_result=True)
def deliver(delivery_id: str) -> None:
    services.delivery_attempt(delivery_id=delivery_id)


@shared_task(name="webhooks.tasks.dispatch_due_deliveries", ignore_result=True)
def dispatch_due_deliveries() -> int:
    return services.deliveries_dispatch_due()


@shared_task(name="webhooks.tasks.prune_delivery_log", ignore_result=True)
def prune_delivery_log() -> dict[str, int]:
    return services.delivery_log_prune()
