"""Endpoint health for the admin: aggregate queries (a fixed number, whatever the number
of endpoints), percentiles on PostgreSQL and in Python (SQLite), deliveries per hour,
and the SVG chart drawn from them."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from webhooks import selectors
from webhooks.admin import chart
from webhooks.endpoints import endpoint_create
from webhooks.models import Delivery, DeliveryAttempt, Event, WebhookEndpoint

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 10, 12, 30, tzinfo=UTC)


def endpoint(n: int = 0) -> WebhookEndpoint:
    return endpoint_create(name=f"e{n}", url=f"https://hooks{n}.example.com/in")


def delivery(to: WebhookEndpoint, status: str, *, at: datetime = NOW, is_test=False, durations=()) -> Delivery:
    event = Event.objects.create(type="incident.triggered", payload="{}", is_test=is_test, created_at=at)
    row = Delivery.objects.create(event=event, endpoint=to, status=status, is_test=is_test, created_at=at)
    for number, duration in enumerate(durations, start=1):
        DeliveryAttempt.objects.create(
            delivery=row, number=number, started_at=at, duration_ms=duration, url=to.url,
            outcome="succeeded" if status == "succeeded" else "failed",
        )  # fmt: skip
    return row


def test_health_counts_the_last_24_hours_of_real_deliveries():
    busy, quiet = endpoint(1), endpoint(2)
    for _ in range(3):
        delivery(busy, "succeeded", at=NOW - timedelta(hours=1), durations=[100])
    delivery(busy, "failed", at=NOW - timedelta(minutes=5), durations=[900, 1000, 1100])
    delivery(busy, "pending", at=NOW - timedelta(days=3))  # pending of any age counts
    delivery(busy, "failed", at=NOW - timedelta(days=2))  # older than the window
    delivery(busy, "succeeded", at=NOW, is_test=True, durations=[5000])  # tests never count

    health = selectors.endpoints_health(endpoint_ids=[busy.pk, quiet.pk], now=NOW)

    got = health[busy.pk]
    assert (got.succeeded_24h, got.failed_24h, got.pending, got.finished_24h) == (3, 1, 1, 4)
    assert got.failed == 2  # in the log: the old failure too
    assert got.success_rate_24h == 0.75
    assert got.last_status == "failed" and got.last_at == NOW - timedelta(minutes=5)
    # Durations 100, 100, 100, 900, 1000, 1100: percentile_cont interpolates.
    assert got.p50_ms == pytest.approx(500)
    assert got.p95_ms == pytest.approx(1075)
    assert health[quiet.pk] == selectors.EndpointHealth(endpoint=quiet)
    assert health[quiet.pk].success_rate_24h is None


def test_the_python_percentiles_match_postgresql(monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("compares with PostgreSQL's percentile_cont")
    target = endpoint()
    for duration in [12, 40, 41, 250, 3, 77, 1200]:
        delivery(target, "succeeded", durations=[duration])
    in_sql = selectors.endpoints_health(endpoint_ids=[target.pk], now=NOW)[target.pk]
    monkeypatch.setattr(connection, "vendor", "sqlite")  # the fallback path, on the same rows
    in_python = selectors.endpoints_health(endpoint_ids=[target.pk], now=NOW)[target.pk]
    assert (in_python.p50_ms, in_python.p95_ms) == pytest.approx((in_sql.p50_ms, in_sql.p95_ms))
    assert in_sql.p50_ms == 41


@pytest.mark.parametrize(
    "values, fraction, expected",
    [([], 0.5, None), ([7], 0.95, 7), ([1, 2, 3, 4], 0.5, 2.5), ([10, 20], 0.95, 19.5), ([1, 2, 3], 1.0, 3)],
)
def test_percentile_interpolates_like_percentile_cont(values, fraction, expected):
    assert selectors.percentile(values, fraction) == expected


def test_health_costs_the_same_queries_for_1_or_20_endpoints():
    def queries(count: int) -> int:
        ids = []
        for n in range(count):
            target = endpoint(n + 100 * count)
            delivery(target, "succeeded", durations=[10])
            delivery(target, "pending")
            ids.append(target.pk)
        with CaptureQueriesContext(connection) as captured:
            health = selectors.endpoints_health(endpoint_ids=ids, now=NOW)
        assert len(health) == count and all(h.succeeded_24h == 1 and h.pending == 1 for h in health.values())
        return len(captured)

    assert queries(1) == queries(20) <= 3


def test_deliveries_per_hour_buckets_by_outcome_in_one_query():
    target, other = endpoint(1), endpoint(2)
    delivery(target, "succeeded", at=NOW - timedelta(minutes=20))  # 12:10, this hour
    delivery(target, "succeeded", at=NOW - timedelta(minutes=25))
    delivery(target, "failed", at=NOW - timedelta(hours=2))  # 10:30
    delivery(target, "pending", at=NOW - timedelta(hours=23, minutes=30))  # 13:00 yesterday, the first hour
    delivery(target, "failed", at=NOW - timedelta(hours=25))  # outside
    delivery(target, "succeeded", at=NOW, is_test=True)  # tests are not drawn
    delivery(other, "failed", at=NOW)

    with CaptureQueriesContext(connection) as captured:
        hours = selectors.endpoint_deliveries_per_hour(endpoint=target, now=NOW)

    assert len(captured) == 1
    assert len(hours) == 24
    assert hours[0].hour == datetime(2026, 3, 9, 13, tzinfo=UTC) and hours[-1].hour == datetime(
        2026, 3, 10, 12, tzinfo=UTC
    )
    by_hour = {h.hour.hour: (h.succeeded, h.failed, h.pending) for h in hours}
    assert by_hour[12] == (2, 0, 0)
    assert by_hour[10] == (0, 1, 0)
    assert by_hour[13] == (0, 0, 1)
    assert sum(h.succeeded + h.failed + h.pending for h in hours) == 4


# --- The chart -------------------------------------------------------------------------


def hours_with(**counts_at) -> list[selectors.HourCounts]:
    start = datetime(2026, 3, 9, 13, tzinfo=UTC)
    return [selectors.HourCounts(hour=start + timedelta(hours=n), **counts_at.get(f"h{n}", {})) for n in range(24)]


def test_chart_draws_stacked_bars_scaled_to_the_tallest_hour():
    svg = chart.deliveries_per_hour_svg(hours_with(h0={"succeeded": 2, "failed": 2}, h23={"succeeded": 8}))

    assert svg.startswith("<svg") and svg.endswith("</svg>")
    heights = {
        (kind, float(height))
        for kind, height in re.findall(r'class="bar-(\w+)" x="[\d.]+" y="[\d.]+" width="[\d.]+" height="([\d.]+)"', svg)
    }
    plot = chart.HEIGHT - chart.TOP - chart.BOTTOM
    assert ("succeeded", plot) in heights  # the tallest hour fills the plot
    assert ("failed", plot / 4) in heights and ("succeeded", plot / 4) in heights
    assert svg.count('class="bar-') == 3
    assert "<title>13:00 UTC: 2 succeeded, 2 failed, 0 pending</title>" in svg
    assert ">8</text>" in svg  # the y axis says the tallest count
    assert svg.count("<title>") == 24
    assert "No deliveries" not in svg


def test_chart_of_a_quiet_day_says_so():
    svg = chart.deliveries_per_hour_svg(hours_with())
    assert "No deliveries in the last 24 hours" in svg
    assert 'class="bar-' not in svg
