"""Queries per batch of attempts stay constant as the batch grows: no per-delivery
queries creep back into the delivery loop."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from incidents import services as incident_services
from webhooks.delivery.worker import deliveries_attempt
from webhooks.endpoints import endpoint_create
from webhooks.models import Delivery, WebhookEndpoint

pytestmark = pytest.mark.django_db


def queries_to_attempt(receiver, system_actor, *, endpoints: int, events: int, status: int = 200) -> tuple[int, int]:
    for n in range(endpoints):
        path = f"/q{status}-{endpoints}-{n}"
        receiver.script(path, [status] * events)
        endpoint_create(name=path, url=receiver.url(path))
    for n in range(events):
        incident_services.incident_create(
            title=f"t{n}", idempotency_key=f"q{status}-{endpoints}-{n}", actor=system_actor
        )
    ids = list(Delivery.objects.filter(status="pending", attempt_count=0).values_list("id", flat=True))
    with CaptureQueriesContext(connection) as queries:
        attempts = deliveries_attempt(delivery_ids=ids)
    WebhookEndpoint.objects.all().delete()  # and their deliveries: the next call starts clean
    return len(queries), len(attempts)


@pytest.mark.parametrize("status", [200, 500])
def test_a_batch_costs_the_same_queries_for_2_or_40_deliveries(receiver, system_actor, settings, status):
    settings.WEBHOOK_MAX_IN_FLIGHT_PER_ENDPOINT = 100
    small, small_attempts = queries_to_attempt(receiver, system_actor, endpoints=2, events=1, status=status)
    large, large_attempts = queries_to_attempt(receiver, system_actor, endpoints=4, events=10, status=status)
    assert (small_attempts, large_attempts) == (2, 40)
    assert small == large
    # claim, load, savepoint/transaction, bulk insert, one update per new state, endpoint health
    assert large <= 8, large
