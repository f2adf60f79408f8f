"""Prometheus metrics of webhook delivery: attempt counters counted by the workers, and
queue gauges read from the database at scrape time (served at /metrics by opsknight.monitoring)."""

# Two sources, each where its figures are true:
# - Counters and the duration histogram are counted where attempts happen, in the
#   worker processes (any number of them, each with many threads). They are kept in
#   prometheus_client's multiprocess mode: each process writes its values to its own
#   memory-mapped file in PROMETHEUS_MULTIPROC_DIR, and a scrape of any web process adds
#   up every file there. The counters only ever grow, also across worker restarts.
# - Gauges (pending, failed, queue lag, disabled endpoints) are the state of the
#   database, read at scrape time (`selectors.queue_health`: four queries on indexes
#   and the small endpoints table): right whichever process or host asks, never stale.
#   The webhooks app registers QUEUE_HEALTH with opsknight.monitoring (WebhooksConfig.ready).

import logging
import os
import socket
from collections import Counter
from collections.abc import Iterable

from django.db import DatabaseError
from django.utils import timezone
from prometheus_client import Counter as PrometheusCounter
from prometheus_client import Histogram, values
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from webhooks import selectors
from webhooks.models import EVENT_TYPES, DeliveryAttempt

logger = logging.getLogger(__name__)

OUTCOMES = [DeliveryAttempt.Outcome.SUCCEEDED.value, DeliveryAttempt.Outcome.FAILED.value]


def _process_identifier() -> str:
    # Several containers can share the directory (Compose's web and workers, or scaled
    # workers), and each may run its own pid 1: the host name keeps their files apart.
    return f"{socket.gethostname()}-{os.getpid()}"


# Multiprocess mode whatever the import order (settings.py sets the directory).
values.ValueClass = values.MultiProcessValue(_process_identifier)

# registry=None: /metrics builds its registry from the files and the database instead.
ATTEMPTS = PrometheusCounter(
    "opsknight_webhook_attempts",
    "Webhook attempts made (Send Test excluded), by event type and outcome (succeeded: a 2xx answer).",
    ["event_type", "outcome"],
    registry=None,
)
DELIVERIES = PrometheusCounter(
    "opsknight_webhook_deliveries",
    "Webhook deliveries that have finished (Send Test excluded): succeeded, or failed after their last attempt.",
    ["event_type", "outcome"],
    registry=None,
)
ATTEMPT_DURATION = Histogram(
    "opsknight_webhook_attempt_duration_seconds",
    "Time from sending a webhook attempt to its answer or error (Send Test excluded), by outcome.",
    ["outcome"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30),
    registry=None,
)

_series_created = False


def _create_series() -> None:
    """Every event type and outcome at 0 from this process's first attempt on, so a
    series exists (and `rate()` sees its first increase) before it first counts."""
    global _series_created
    if _series_created:
        return
    for event_type in EVENT_TYPES.values:
        for outcome in OUTCOMES:
            ATTEMPTS.labels(event_type, outcome)
            DELIVERIES.labels(event_type, outcome)
    for outcome in OUTCOMES:
        ATTEMPT_DURATION.labels(outcome)
    _series_created = True


def count_attempts(attempts: list[tuple[str, str, int, bool]]) -> None:
    """A batch's real attempts, as (event type, outcome, duration in ms, whether it
    finished its delivery). Each counter moves once per label set (a batch mostly
    shares one or two): every move is a locked write to the process's file."""
    _create_series()
    tried, finished = Counter(), Counter()
    for event_type, outcome, duration_ms, done in attempts:
        tried[event_type, outcome] += 1
        finished[event_type, outcome] += done
        ATTEMPT_DURATION.labels(outcome).observe(duration_ms / 1000)
    for labels, count in tried.items():
        ATTEMPTS.labels(*labels).inc(count)
    for labels, count in finished.items():
        if count:
            DELIVERIES.labels(*labels).inc(count)


class QueueHealthCollector(Collector):
    """The database's gauges, computed when scraped (four queries)."""

    def collect(self) -> Iterable[GaugeMetricFamily]:
        now = timezone.now()
        try:
            health = selectors.queue_health(now=now)
        except DatabaseError:
            # The counters are still worth a scrape; the missing gauges say the rest.
            logger.warning("/metrics: the database gauges are left out, the database is unreachable.", exc_info=True)
            return
        gauges = [
            ("opsknight_webhook_deliveries_pending", "Deliveries waiting for an attempt or a retry.", health.pending),
            ("opsknight_webhook_deliveries_due", "Pending deliveries whose attempt is due now.", health.due),
            (
                "opsknight_webhook_queue_lag_seconds",
                "How long the oldest due delivery that no worker holds has been waiting (0: none).",
                health.lag_seconds(now),
            ),
            (
                "opsknight_webhook_deliveries_failed",
                "Deliveries that failed after their last attempt, still in the log (Send Test excluded).",
                health.failed,
            ),
            ("opsknight_webhook_endpoints_disabled", "Webhook endpoints that are disabled.", health.endpoints_disabled),
            (
                "opsknight_webhook_endpoints_failing",
                "Active endpoints whose every attempt has failed since their failing window opened.",
                health.endpoints_failing,
            ),
        ]
        for name, documentation, value in gauges:
            yield GaugeMetricFamily(name, documentation, value=value)


QUEUE_HEALTH = QueueHealthCollector()
