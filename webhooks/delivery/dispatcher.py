"""The dispatcher (Celery beat, every WEBHOOK_DISPATCH_INTERVAL): re-sends the wake-up of
due deliveries no worker holds, so a lost message, a Redis flush or a killed worker
loses nothing: the database, not Redis, knows what is due."""

import logging
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from webhooks.delivery import wakeups
from webhooks.models import Delivery, Event

logger = logging.getLogger(__name__)


def deliveries_dispatch_due(*, limit: int = 1000) -> int:
    """Enqueue due, unleased deliveries whose message is missing (never sent, or sent
    longer ago than WEBHOOK_REDISPATCH_AFTER and still not taken): after a Redis flush,
    a lost message or a killed worker, this is what sends them. Likewise events whose
    large fan-out no worker has written yet (their wake-up lost, or the worker killed
    mid-way)."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.WEBHOOK_REDISPATCH_AFTER)
    due_ids = list(
        Delivery.objects.claimable(now)
        .filter(Q(enqueued_at__isnull=True) | Q(enqueued_at__lte=stale))
        .order_by("next_attempt_at")
        .values_list("id", flat=True)[:limit]
    )
    if due_ids:
        Delivery.objects.filter(pk__in=due_ids).update(enqueued_at=now)
        wakeups.enqueue_deliveries(due_ids)
    unexpanded = list(
        Event.objects.filter(expanded_at__isnull=True, created_at__lte=stale, is_test=False)
        .order_by("created_at")
        .values_list("id", flat=True)[:limit]
    )
    if unexpanded:
        wakeups.enqueue_expansion(unexpanded)
    if due_ids or unexpanded:  # a run that found nothing stays silent (opsknight.logs.QuietPeriodicTasks)
        logger.info(
            "Dispatcher: enqueued %d due delivery(ies) whose wake-up was missing, %d event(s) to expand.",
            len(due_ids), len(unexpanded), extra={"deliveries": len(due_ids), "events": len(unexpanded)},
        )  # fmt: skip
    return len(due_ids) + len(unexpanded)
