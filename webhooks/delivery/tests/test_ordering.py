"""Per-incident ordering: an incident's delivery of version N is not attempted at an
ordered endpoint until every earlier one there has ended (succeeded, or failed after
its last retry); the database decides, so it holds across workers and crashes; other
incidents and unordered endpoints are not held up."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from incidents import services as incident_services
from webhooks.delivery import claims
from webhooks.delivery.dispatcher import deliveries_dispatch_due
from webhooks.delivery.worker import deliveries_attempt
from webhooks.endpoints import endpoint_create
from webhooks.models import Delivery
from webhooks.tests.support import declare

pytestmark = pytest.mark.django_db


def lifecycle(actor, key: str):
    incident = declare(actor, key=key)
    incident_services.incident_acknowledge(incident=incident, actor=actor)
    incident_services.incident_resolve(incident=incident, actor=actor)
    return incident


def due_now() -> None:
    Delivery.objects.filter(status="pending").update(next_attempt_at=timezone.now() - timedelta(seconds=1))


def attempt_all() -> list[str]:
    """Every due delivery once, as workers would: which event types were sent."""
    ids = list(Delivery.objects.filter(status="pending").values_list("id", flat=True))
    return sorted(a.delivery.event.type for a in deliveries_attempt(delivery_ids=ids))


def test_an_incidents_deliveries_go_one_at_a_time_in_version_order(system_actor, receiver, settings):
    settings.WEBHOOK_RETRY_DELAYS = [60]
    receiver.script("/o", [500, 500])  # the trigger fails twice: its retry, then for good
    endpoint_create(name="ordered", url=receiver.url("/o"), ordering="per_incident")
    endpoint_create(name="unordered", url=receiver.url("/u"))
    lifecycle(system_actor, "a")

    # Unordered: all three at once. Ordered: only the trigger.
    sent = attempt_all()
    assert sent.count("incident.triggered") == 2 and sent.count("incident.acknowledged") == 1
    assert [r.header("X-OpsKnight-Event") for r in receiver.received("/o")] == ["incident.triggered"]

    # The trigger waits for its retry: the later ones still wait behind it, even when due.
    due_now_except_trigger = Delivery.objects.filter(endpoint__name="ordered").exclude(event__type="incident.triggered")
    due_now_except_trigger.update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert attempt_all() == []
    waiting = Delivery.objects.get(endpoint__name="ordered", event__type="incident.acknowledged")
    trigger = Delivery.objects.get(endpoint__name="ordered", event__type="incident.triggered")
    assert list(Delivery.objects.earlier_pending(waiting).values_list("pk", flat=True)) == [trigger.pk]
    assert deliveries_dispatch_due() == 0  # the dispatcher does not wake what waits

    due_now()
    assert attempt_all() == ["incident.triggered"]  # its last attempt: failed for good
    assert Delivery.objects.get(pk=trigger.pk).status == "failed"
    assert attempt_all() == ["incident.acknowledged"]
    assert attempt_all() == ["incident.resolved"]
    order = [r.header("X-OpsKnight-Event") for r in receiver.received("/o")]
    assert order == ["incident.triggered", "incident.triggered", "incident.acknowledged", "incident.resolved"]


def test_another_incident_is_not_held_up(system_actor, receiver):
    receiver.script("/o", [500])
    endpoint_create(name="ordered", url=receiver.url("/o"), ordering="per_incident")
    first = declare(system_actor, key="first")
    incident_services.incident_acknowledge(incident=first, actor=system_actor)
    attempt_all()  # first's trigger fails: its acknowledge waits
    second = declare(system_actor, key="second")

    assert attempt_all() == ["incident.triggered"]  # second's trigger goes at once
    (sent,) = [r for r in receiver.received("/o") if second.pk in r.body.decode()]
    assert sent.header("X-OpsKnight-Event") == "incident.triggered"


def test_the_api_shows_what_a_delivery_waits_behind(system_actor, receiver, api_client):
    receiver.script("/o", [500])
    endpoint = endpoint_create(name="ordered", url=receiver.url("/o"), ordering="per_incident")
    lifecycle(system_actor, "w")
    attempt_all()
    trigger = Delivery.objects.get(event__type="incident.triggered")

    listed = api_client.get(f"/api/v1/webhooks/{endpoint.pk}/deliveries").json()["results"]
    behind = {d["event_type"]: d["waiting_behind"] for d in listed}
    assert behind == {
        "incident.triggered": None,
        "incident.acknowledged": trigger.pk,
        "incident.resolved": trigger.pk,
    }
    acknowledged = Delivery.objects.get(event__type="incident.acknowledged")
    assert api_client.get(f"/api/v1/deliveries/{acknowledged.pk}").json()["waiting_behind"] == trigger.pk


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the top-up is PostgreSQL's (SKIP LOCKED)")
def test_the_top_up_takes_ordered_deliveries_only_when_nothing_is_ahead(system_actor, settings):
    """A worker tops its batch up with other due deliveries, oldest first: an ordered one
    waiting behind an earlier one stays, the first of its incident goes."""
    endpoint_create(name="ordered", url="https://hooks.example.com/o", ordering="per_incident")
    endpoint_create(name="unordered", url="https://hooks.example.com/u")
    lifecycle(system_actor, "a")
    due_now()

    taken = Delivery.objects.filter(pk__in=claims.claim_more(limit=10, now=timezone.now(), skip_endpoints=[]))

    assert sorted((d.endpoint.name, d.event.type) for d in taken) == [
        ("ordered", "incident.triggered"),
        ("unordered", "incident.acknowledged"),
        ("unordered", "incident.resolved"),
        ("unordered", "incident.triggered"),
    ]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the top-up is PostgreSQL's (SKIP LOCKED)")
def test_the_top_up_looks_at_a_bounded_window_of_the_oldest(system_actor):
    """Many ordered deliveries waiting behind a failing one are the oldest due: the top-up
    tests only TOP_UP_WINDOW × limit of them for an earlier pending delivery, so it stays
    cheap for everyone; what it leaves has its own wake-up."""
    endpoint_create(name="ordered", url="https://hooks.example.com/o", ordering="per_incident")
    busy = declare(system_actor, key="busy")
    for _ in range(6):
        incident_services.incident_escalate(incident=busy, actor=system_actor)
    now = timezone.now()
    first, *waiting = Delivery.objects.filter(event__incident=busy).order_by("sequence")
    Delivery.objects.filter(pk=first.pk).update(next_attempt_at=now + timedelta(minutes=1))  # retrying
    Delivery.objects.filter(pk__in=[d.pk for d in waiting]).update(next_attempt_at=now - timedelta(seconds=2))
    endpoint_create(name="unordered", url="https://hooks.example.com/u")
    late = declare(system_actor, key="late")
    Delivery.objects.filter(event__incident=late).update(next_attempt_at=now - timedelta(seconds=1))
    assert len(waiting) == claims.TOP_UP_WINDOW + 2

    # A window of 4: the oldest four all wait behind the retrying one.
    assert claims.claim_more(limit=1, now=now, skip_endpoints=[]) == []
    # A window of 8: the six waiting, then the late incident's two, which go.
    taken = claims.claim_more(limit=2, now=now, skip_endpoints=[])
    assert {Delivery.objects.get(pk=pk).event.incident_id for pk in taken} == {late.pk} and len(taken) == 2
