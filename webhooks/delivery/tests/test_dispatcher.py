"""The dispatcher re-enqueues due, unleased deliveries whose message is missing."""

from datetime import timedelta

import pytest
from django.utils import timezone

from webhooks.delivery.dispatcher import deliveries_dispatch_due
from webhooks.endpoints import endpoint_create
from webhooks.models import Delivery
from webhooks.tests.support import declare, delivery_attempt, make_due, only_delivery

pytestmark = pytest.mark.django_db


def test_dispatch_picks_due_unleased_deliveries_with_a_missing_message(system_actor, receiver, settings):
    settings.WEBHOOK_REDISPATCH_AFTER = 30
    names = ["never", "stale", "expired_lease", "fresh", "leased", "later", "succeeded", "failed"]
    endpoints = {name: endpoint_create(name=name, url=receiver.url(f"/{name}")) for name in names}
    declare(system_actor)
    d = {name: only_delivery(endpoint) for name, endpoint in endpoints.items()}
    now = timezone.now()
    past = now - timedelta(seconds=1)
    updates = {
        "never": {"enqueued_at": None},
        "stale": {"enqueued_at": now - timedelta(seconds=60)},
        "expired_lease": {"enqueued_at": None, "locked_until": past},
        "fresh": {"enqueued_at": now - timedelta(seconds=5)},
        "leased": {"enqueued_at": None, "locked_until": now + timedelta(seconds=60)},
        "later": {"enqueued_at": None, "next_attempt_at": now + timedelta(seconds=60)},
        "succeeded": {"enqueued_at": None, "status": Delivery.Status.SUCCEEDED},
        "failed": {"enqueued_at": None, "status": Delivery.Status.FAILED},
    }
    for name, fields in updates.items():
        Delivery.objects.filter(pk=d[name].pk).update(**{"next_attempt_at": past, **fields})

    before = timezone.now()
    assert deliveries_dispatch_due() == 3

    after = {x.endpoint.name: x for x in Delivery.objects.select_related("endpoint")}
    for name in ["never", "stale", "expired_lease"]:
        assert before <= after[name].enqueued_at <= timezone.now(), name
    for name in ["fresh", "leased", "later", "succeeded", "failed"]:
        fields = {"enqueued_at": None, **updates[name]}
        assert after[name].enqueued_at == fields["enqueued_at"], name
    # Dispatching enqueues; it sends nothing itself and claims nothing.
    assert set(Delivery.objects.values_list("attempt_count", flat=True)) == {0}
    assert receiver.received() == []
    # Just enqueued: a second run right away leaves them to their messages.
    assert deliveries_dispatch_due() == 0


def test_dispatch_takes_the_most_overdue_first_up_to_the_limit(system_actor, receiver):
    first, second = (endpoint_create(name=n, url=receiver.url(f"/{n}")) for n in ["first", "second"])
    declare(system_actor)
    now = timezone.now()
    Delivery.objects.filter(endpoint=first).update(next_attempt_at=now - timedelta(minutes=5), enqueued_at=None)
    Delivery.objects.filter(endpoint=second).update(next_attempt_at=now - timedelta(minutes=1), enqueued_at=None)
    assert deliveries_dispatch_due(limit=1) == 1
    assert only_delivery(first).enqueued_at is not None
    assert only_delivery(second).enqueued_at is None
    assert deliveries_dispatch_due(limit=1) == 1
    assert only_delivery(second).enqueued_at is not None


def test_dispatch_leaves_a_scheduled_retry_alone_until_it_is_overdue(system_actor, receiver, settings):
    settings.WEBHOOK_RETRY_DELAYS = [10]
    settings.WEBHOOK_REDISPATCH_AFTER = 30
    receiver.script("/r", [500])
    endpoint = endpoint_create(name="r", url=receiver.url("/r"))
    declare(system_actor)
    delivery = only_delivery(endpoint)
    delivery_attempt(delivery_id=delivery.id)
    # The retry went out as a countdown message: not due yet, and its message is on its way.
    assert deliveries_dispatch_due() == 0
    make_due(delivery)
    assert deliveries_dispatch_due() == 0  # due, but its countdown message is fresh
    Delivery.objects.filter(pk=delivery.pk).update(enqueued_at=timezone.now() - timedelta(seconds=31))
    assert deliveries_dispatch_due() == 1
