"""Webhook reads."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

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


# --- Health of the queue and the endpoints (/metrics, webhooks_status) ------------------
# Each query reads an index (the partial indexes on pending and on failed deliveries,
# or one endpoint's newest deliveries), so the cost follows the backlog and the number
# of endpoints, not the size of the delivery log.


@dataclass(frozen=True)
class QueueHealth:
    pending: int  # waiting for their first attempt or a retry
    due: int  # of which due now (some may be in a worker's hands)
    oldest_due_at: datetime | None  # the longest-waiting due delivery no worker holds
    failed: int  # real deliveries that ended failed, still in the log
    endpoints_disabled: int
    endpoints_failing: int  # active, with every attempt failing since `failing_since`

    def lag_seconds(self, now: datetime) -> float:
        return max(0.0, (now - self.oldest_due_at).total_seconds()) if self.oldest_due_at else 0.0


def queue_health(*, now: datetime) -> QueueHealth:
    pending = Delivery.objects.filter(status=Delivery.Status.PENDING).aggregate(
        pending=Count("*"), due=Count("next_attempt_at", filter=Q(next_attempt_at__lte=now))
    )
    oldest_due_at = (
        Delivery.objects.filter(status=Delivery.Status.PENDING, next_attempt_at__lte=now)
        .filter(Q(locked_until__isnull=True) | Q(locked_until__lte=now))
        .order_by("next_attempt_at")
        .values_list("next_attempt_at", flat=True)
        .first()
    )
    endpoints = WebhookEndpoint.objects.aggregate(
        disabled=Count("id", filter=Q(is_active=False)),
        failing=Count("id", filter=Q(is_active=True, failing_since__isnull=False)),
    )
    return QueueHealth(
        pending=pending["pending"],
        due=pending["due"],
        oldest_due_at=oldest_due_at,
        failed=_real_failed().count(),
        endpoints_disabled=endpoints["disabled"],
        endpoints_failing=endpoints["failing"],
    )


def _real_failed() -> QuerySet[Delivery]:
    return Delivery.objects.filter(status=Delivery.Status.FAILED, is_test=False)


@dataclass(frozen=True)
class EndpointHealth:
    endpoint: WebhookEndpoint
    last_status: str | None  # of its newest real delivery
    last_at: datetime | None
    finished_24h: int  # real deliveries created in the last 24 hours that have finished
    succeeded_24h: int
    pending: int
    failed: int

    @property
    def success_rate_24h(self) -> float | None:
        return self.succeeded_24h / self.finished_24h if self.finished_24h else None


def endpoint_health_list(*, now: datetime) -> list[EndpointHealth]:
    """Every endpoint, by name, with its latest delivery, its last 24 hours and what it
    has pending and failed: three queries whatever the number of endpoints."""
    real = Delivery.objects.filter(endpoint=OuterRef("pk"), is_test=False)
    recent_finished = real.filter(created_at__gte=now - timedelta(hours=24)).exclude(status=Delivery.Status.PENDING)
    newest = real.order_by("-created_at")
    endpoints = WebhookEndpoint.objects.order_by("name", "id").annotate(
        last_status=Subquery(newest.values("status")[:1]),
        last_at=Subquery(newest.values("created_at")[:1]),
        finished_24h=_count(recent_finished),
        succeeded_24h=_count(recent_finished.filter(status=Delivery.Status.SUCCEEDED)),
    )
    pending = _count_by_endpoint(Delivery.objects.filter(status=Delivery.Status.PENDING))
    failed = _count_by_endpoint(_real_failed())
    return [
        EndpointHealth(
            endpoint=endpoint,
            last_status=endpoint.last_status,
            last_at=endpoint.last_at,
            finished_24h=endpoint.finished_24h,
            succeeded_24h=endpoint.succeeded_24h,
            pending=pending.get(endpoint.pk, 0),
            failed=failed.get(endpoint.pk, 0),
        )
        for endpoint in endpoints
    ]


def _count(deliveries: QuerySet[Delivery]) -> Coalesce:
    counted = deliveries.order_by().values("endpoint").annotate(n=Count("*")).values("n")
    return Coalesce(Subquery(counted), 0)


def _count_by_endpoint(deliveries: QuerySet[Delivery]) -> dict[str, int]:
    return dict(deliveries.order_by().values("endpoint").annotate(n=Count("*")).values_list("endpoint", "n"))
