"""Webhook reads."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import connection
from django.db.models import Aggregate, Count, FloatField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import TruncHour
from django.utils import timezone

from webhooks.models import Delivery, DeliveryAttempt, WebhookEndpoint


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


# --- Endpoint health (admin) -----------------------------------------------------------

HEALTH_WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class EndpointHealth:
    """An endpoint's last real delivery, and its real deliveries over HEALTH_WINDOW:
    outcomes, deliveries still pending (of any age), and attempt durations."""

    last_status: str | None = None
    last_at: datetime | None = None
    succeeded: int = 0
    failed: int = 0
    pending: int = 0
    p50_ms: float | None = None
    p95_ms: float | None = None

    @property
    def finished(self) -> int:
        return self.succeeded + self.failed

    @property
    def success_rate(self) -> float | None:
        """Succeeded / finished, 0 to 1; None with nothing finished."""
        return self.succeeded / self.finished if self.finished else None


class PercentileCont(Aggregate):
    """PostgreSQL's ordered-set aggregate: the `fraction` percentile of `expression`,
    interpolated between neighbours."""

    function = "percentile_cont"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression, fraction: float, **extra):
        super().__init__(expression, fraction=float(fraction), **extra)


def percentile(sorted_values: list[float], fraction: float) -> float | None:
    """Like percentile_cont: linear interpolation between the two nearest ranks."""
    if not sorted_values:
        return None
    position = (len(sorted_values) - 1) * fraction
    lower = int(position)
    upper = min(lower + 1, len(sorted_values) - 1)
    return sorted_values[lower] + (sorted_values[upper] - sorted_values[lower]) * (position - lower)


def _durations(endpoint_ids: list[str], since: datetime) -> dict[str, tuple[float | None, float | None]]:
    """p50 and p95 attempt duration per endpoint: one aggregate query on PostgreSQL; on
    SQLite (a local run, no percentile function) one query for the durations, sorted here."""
    # Attempts of deliveries created in the window: found through the delivery index.
    attempts = DeliveryAttempt.objects.filter(
        delivery__endpoint_id__in=endpoint_ids,
        delivery__created_at__gte=since,
        delivery__is_test=False,
        started_at__gte=since,
    ).exclude(error_class="NotSent")
    if connection.vendor == "postgresql":
        rows = attempts.values("delivery__endpoint_id").annotate(
            p50=PercentileCont("duration_ms", 0.5), p95=PercentileCont("duration_ms", 0.95)
        )
        return {row["delivery__endpoint_id"]: (row["p50"], row["p95"]) for row in rows}
    by_endpoint: dict[str, list[float]] = defaultdict(list)
    for endpoint_id, duration in attempts.order_by("duration_ms").values_list("delivery__endpoint_id", "duration_ms"):
        by_endpoint[endpoint_id].append(duration)
    return {key: (percentile(values, 0.5), percentile(values, 0.95)) for key, values in by_endpoint.items()}


def endpoints_health(*, endpoint_ids: list[str], now: datetime | None = None) -> dict[str, EndpointHealth]:
    """Health for each of `endpoint_ids` in four queries, however many there are (test
    sends left out). Endpoints with no deliveries get an empty EndpointHealth."""
    if not endpoint_ids:
        return {}
    since = (now or timezone.now()) - HEALTH_WINDOW
    real = Delivery.objects.filter(endpoint_id__in=endpoint_ids, is_test=False)
    last = Delivery.objects.filter(endpoint=OuterRef("pk"), is_test=False).order_by("-created_at")
    lasts = WebhookEndpoint.objects.filter(pk__in=endpoint_ids).values_list(
        "pk", Subquery(last.values("status")[:1]), Subquery(last.values("created_at")[:1])
    )
    counts = {
        row["endpoint_id"]: row
        for row in real.filter(created_at__gte=since)
        .values("endpoint_id")
        .annotate(
            succeeded=Count("pk", filter=Q(status=Delivery.Status.SUCCEEDED)),
            failed=Count("pk", filter=Q(status=Delivery.Status.FAILED)),
        )
    }
    # Pending ones of any age (a retry can be due days later): the partial index holds only those.
    pending = dict(
        real.filter(status=Delivery.Status.PENDING)
        .values("endpoint_id")
        .annotate(n=Count("pk"))
        .values_list("endpoint_id", "n")
    )
    durations = _durations(endpoint_ids, since)
    health = {}
    for endpoint_id, last_status, last_at in lasts:
        count = counts.get(endpoint_id, {})
        p50, p95 = durations.get(endpoint_id, (None, None))
        health[endpoint_id] = EndpointHealth(
            last_status=last_status,
            last_at=last_at,
            succeeded=count.get("succeeded", 0),
            failed=count.get("failed", 0),
            pending=pending.get(endpoint_id, 0),
            p50_ms=p50,
            p95_ms=p95,
        )
    return health


@dataclass(frozen=True)
class HourCounts:
    hour: datetime  # the start of the hour, UTC
    succeeded: int = 0
    failed: int = 0
    pending: int = 0


def endpoint_deliveries_per_hour(
    *, endpoint: WebhookEndpoint, now: datetime | None = None, hours: int = 24
) -> list[HourCounts]:
    """Real deliveries created in each of the last `hours` hours (the current one last),
    by status, from one grouped query; hours without deliveries are zeros."""
    now = now or timezone.now()
    current = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    first = current - timedelta(hours=hours - 1)
    rows = (
        Delivery.objects.filter(endpoint=endpoint, is_test=False, created_at__gte=first)
        .annotate(hour=TruncHour("created_at", tzinfo=UTC))
        .values("hour", "status")
        .annotate(n=Count("pk"))
    )
    counts: dict[datetime, dict[str, int]] = defaultdict(dict)
    for row in rows:
        counts[row["hour"]][row["status"]] = row["n"]
    return [
        HourCounts(hour=hour, **counts.get(hour, {})) for hour in (first + timedelta(hours=n) for n in range(hours))
    ]
