"""Per-incident ordering with real workers: a receiver that fails an incident's first
delivery three times still gets that incident's events in version order, another
incident's events are not held up, and a worker killed mid-sequence loses nothing and
breaks no order."""

import json
import time

import pytest

from incidents import services as incident_services
from tests.support.waiting import wait_until
from webhooks.endpoints import endpoint_create
from webhooks.models import Delivery
from webhooks.tests.support import declare

pytestmark = pytest.mark.e2e

LIFECYCLE = ["acknowledge", "escalate", "resolve", "reopen"]


def versions_received(receiver, path: str, incident_id: str) -> list[int]:
    bodies = [json.loads(r.body) for r in receiver.received(path)]
    return [b["incident"]["version"] for b in bodies if b["incident"]["id"] == incident_id]


def run_lifecycle(incident, actor) -> None:
    for action in LIFECYCLE:
        getattr(incident_services, f"incident_{action}")(incident=incident, actor=actor)


def test_version_order_survives_three_failures_and_other_incidents_flow(e2e, receiver, system_actor):
    endpoint_create(name="itsm", url=receiver.url("/itsm"), ordering="per_incident")
    receiver.script("/itsm", [500, 500, 500])  # the first three requests fail
    slow = declare(system_actor, key="slow")
    run_lifecycle(slow, system_actor)
    # Its trigger has failed three times (retries after 1 and 2 s); the last retry comes 3 s later.
    wait_until(lambda: len(receiver.received("/itsm")) >= 3, timeout=10)
    quick = declare(system_actor, key="quick")

    # The other incident arrives while the first one's trigger is still being retried.
    wait_until(lambda: versions_received(receiver, "/itsm", quick.pk) == [1], timeout=10)
    assert Delivery.objects.filter(event__incident=slow, status="pending").exists()

    wait_until(lambda: Delivery.objects.filter(status="pending").count() == 0, timeout=40)
    # Three failures of the trigger, its last retry, and only then the later versions, in order.
    assert versions_received(receiver, "/itsm", slow.pk) == [1, 1, 1, 1, 2, 3, 4, 5]
    assert set(Delivery.objects.values_list("status", flat=True)) == {"succeeded"}


def test_a_worker_killed_mid_sequence_loses_nothing_and_keeps_the_order(e2e, receiver, system_actor):
    endpoint_create(name="itsm", url=receiver.url("/itsm"), ordering="per_incident")
    incidents = [declare(system_actor, key=f"k{n}") for n in range(5)]
    for incident in incidents:
        run_lifecycle(incident, system_actor)
    time.sleep(0.3)
    e2e.workers[0].kill()
    e2e.workers[0].start()

    wait_until(lambda: Delivery.objects.filter(status="pending").count() == 0, timeout=60)
    for incident in incidents:
        received = versions_received(receiver, "/itsm", incident.pk)
        # A killed batch may be sent again (at least once), but never out of order.
        assert sorted(set(received)) == [1, 2, 3, 4, 5], received
        firsts = [received.index(version) for version in (1, 2, 3, 4, 5)]
        assert firsts == sorted(firsts), received
