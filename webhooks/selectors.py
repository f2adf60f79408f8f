"""Webhook reads."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import connection
from django.db.models import (
    Aggregate,
    Case,
    CharField,
    Count,
    FloatField,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    When,
)
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
    deliveries = _with_waiting_behind(Delivery.objects.filter(endpoint=endpoint).select_related("event"))
    if status:
        deliveries = deliveries.filter(status=status)
    if event_type:
        deliveries = deliveries.filter(event__type=event_type)
    if is_test is not None:
        deliveries = deliveries.filter(is_test=is_test)
    return deliveries


def delivery_get(*, delivery_id: str) -> Delivery:
    deliveries = Delivery.objects.select_related("event", "endpoint").prefetch_related("attempts")
    return _with_waiting_behind(deliveries).get(pk=delivery_id)


def _with_waiting_behind(deliveries: QuerySet[Delivery]) -> QuerySet[Delivery]:
    """`waiting_behind`: for a pending delivery of an endpoint with per-incident ordering,
    the earliest delivery of the same incident it waits for (None otherwise)."""
    earliest = Delivery.objects.earlier_pending().order_by("sequence", "created_at").values("pk")[:1]
    return deliveries.annotate(
        waiting_behind=Case(
            When(ordered=True, status=Delivery.Status.PENDING, then=Subquery(earliest)),
            default=None,
            output_field=CharField(),
        )
    )


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
        Delivery.objects.claimable(now).order_by("next_attempt_at").values_list("next_attempt_at", flat=True).first()
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


# --- Endpoint health (admin, webhooks_status) ----------------------------------------

HEALTH_WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class EndpointHealth:
    """An endpoint's newest real delivery, its real deliveries created in the last
    HEALTH_WINDOW (outcomes, attempt durations), and what it has pending or failed in
    the log (of any age). Test sends are left out of every figure."""

    endpoint: WebhookEndpoint
    last_status: str | None = None
    last_at: datetime | None = None
    succeeded_24h: int = 0
    failed_24h: int = 0
    pending: int = 0
    retrying: int = 0  # of the pending ones, those that already failed an attempt
    next_attempt_at: datetime | None = None  # the soonest of its pending deliveries
    failed: int = 0  # in the log, any age
    last_error: str = ""  # while failing: the error of its newest attempted delivery
    p50_ms: float | None = None  # attempt durations; only from endpoints_health()
    p95_ms: float | None = None

    @property
    def failing_since(self) -> datetime | None:
        """Set while an active endpoint's every attempt fails: what the admin shows as
        *failing since …* (the switch, `is_active`, stays on until it is disabled)."""
        return self.endpoint.failing_since if self.endpoint.is_active else None

    @property
    def finished_24h(self) -> int:
        return self.succeeded_24h + self.failed_24h

    @property
    def success_rate_24h(self) -> float | None:
        """Succeeded / finished, 0 to 1; None with nothing finished."""
        return self.succeeded_24h / self.finished_24h if self.finished_24h else None


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


def _endpoint_health(endpoints: QuerySet[WebhookEndpoint], *, now: datetime, durations: bool) -> list[EndpointHealth]:
    """Health of `endpoints`, in their order: the endpoints with their newest delivery
    (one query), the counts (one grouped query, through the indexes on recent, pending
    and failed deliveries), and with `durations` the attempt percentiles (one more)."""
    since = now - HEALTH_WINDOW
    newest = Delivery.objects.filter(endpoint=OuterRef("pk"), is_test=False).order_by("-created_at")
    rows = list(
        endpoints.annotate(
            last_status=Subquery(newest.values("status")[:1]), last_at=Subquery(newest.values("created_at")[:1])
        )
    )
    ids = [endpoint.pk for endpoint in rows]
    if not ids:
        return []
    pending, failed, recent = (
        Q(status=Delivery.Status.PENDING),
        Q(status=Delivery.Status.FAILED),
        Q(created_at__gte=since),
    )
    counts = {
        row["endpoint_id"]: row
        for row in Delivery.objects.filter(Q(endpoint_id__in=ids, is_test=False) & (recent | pending | failed))
        .values("endpoint_id")
        .annotate(
            succeeded_24h=Count("pk", filter=recent & Q(status=Delivery.Status.SUCCEEDED)),
            failed_24h=Count("pk", filter=recent & failed),
            pending=Count("pk", filter=pending),
            retrying=Count("pk", filter=pending & Q(attempt_count__gt=0)),
            next_attempt_at=Min("next_attempt_at", filter=pending),
            failed=Count("pk", filter=failed),
        )
    }
    percentiles = _durations(ids, since) if durations else {}
    last_errors = _last_errors([e.pk for e in rows if e.is_active and e.failing_since is not None])
    health = []
    for endpoint in rows:
        count = counts.get(endpoint.pk, {})
        p50, p95 = percentiles.get(endpoint.pk, (None, None))
        health.append(
            EndpointHealth(
                endpoint=endpoint,
                last_status=endpoint.last_status,
                last_at=endpoint.last_at,
                succeeded_24h=count.get("succeeded_24h", 0),
                failed_24h=count.get("failed_24h", 0),
                pending=count.get("pending", 0),
                retrying=count.get("retrying", 0),
                next_attempt_at=count.get("next_attempt_at"),
                failed=count.get("failed", 0),
                last_error=last_errors.get(endpoint.pk, ""),
                p50_ms=p50,
                p95_ms=p95,
            )
        )
    return health


def _last_errors(failing_ids: list[str]) -> dict[str, str]:
    """The error of each failing endpoint's newest attempted real delivery (its newest
    deliveries all failed, so this reads a few rows of its index); no query when none fails."""
    if not failing_ids:
        return {}
    newest_error = (
        Delivery.objects.filter(endpoint=OuterRef("pk"), is_test=False, attempt_count__gt=0)
        .exclude(last_error="")
        .order_by("-created_at")
        .values("last_error")[:1]
    )
    rows = WebhookEndpoint.objects.filter(pk__in=failing_ids).annotate(last_error=Subquery(newest_error))
    return {pk: error or "" for pk, error in rows.values_list("pk", "last_error")}


def endpoints_health(*, endpoint_ids: list[str], now: datetime | None = None) -> dict[str, EndpointHealth]:
    """Health with attempt percentiles for each of `endpoint_ids` (an admin page's rows), in
    three queries however many there are (four when some are failing)."""
    if not endpoint_ids:
        return {}
    endpoints = WebhookEndpoint.objects.filter(pk__in=endpoint_ids)
    return {row.endpoint.pk: row for row in _endpoint_health(endpoints, now=now or timezone.now(), durations=True)}


def endpoint_health_list(*, now: datetime) -> list[EndpointHealth]:
    """Every endpoint, by name, with its health (no percentiles): two queries whatever
    the number of endpoints, and one more when some endpoint is failing (its last error)."""
    return _endpoint_health(WebhookEndpoint.objects.order_by("name", "id"), now=now, durations=False)


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
