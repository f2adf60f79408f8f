"""Concurrent creates and transitions against PostgreSQL: the database, not a
read-then-write, keeps one incident per idempotency key (in each API key's scope) and
one change per version."""

from collections.abc import Callable

import pytest
from django.db import connection
from rest_framework.test import APIClient

from incidents import services
from incidents.actors import Actor
from incidents.models import Incident, IncidentCounter, IncidentEvent
from opsknight.services import api_key_create
from tests.support.concurrency import run_at_once as support_run_at_once

THREADS = 8

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL row locks and concurrency"),
]


def run_at_once(work: Callable[[int], object], count: int = THREADS) -> list:
    return support_run_at_once(work, count)


def test_concurrent_creates_with_one_key_make_one_incident():
    def work(index):
        return services.incident_create(
            title=f"caller {index}", actor=Actor.system(f"caller {index}"), idempotency_key="storm-1"
        )

    results = run_at_once(work)

    assert not [r for r in results if isinstance(r, BaseException)], results
    assert sum(created for _, created in results) == 1
    assert len({incident.id for incident, _ in results}) == 1
    incident = Incident.objects.get()
    assert incident.id == results[0][0].id
    assert IncidentEvent.objects.filter(incident=incident).count() == 1
    assert IncidentEvent.objects.count() == 1


def test_concurrent_api_creates_with_one_key_answer_one_201():
    _, raw_key = api_key_create(name="storm", scopes=["incidents:write", "incidents:read"])

    def work(index):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
        response = client.post(
            "/api/v1/incidents", {"title": f"caller {index}", "idempotency_key": "storm-2"}, format="json"
        )
        return response.status_code, response.json()["id"]

    results = run_at_once(work)

    assert not [r for r in results if isinstance(r, BaseException)], results
    statuses = sorted(status for status, _ in results)
    assert statuses == [200] * (THREADS - 1) + [201]
    assert len({incident_id for _, incident_id in results}) == 1
    assert Incident.objects.count() == 1
    assert IncidentEvent.objects.count() == 1


def test_concurrent_api_creates_of_two_keys_with_one_idempotency_key_make_one_incident_per_key():
    """Idempotency keys are scoped per API key: each key's callers share one incident."""
    raw_keys = [api_key_create(name=f"storm {n}", scopes=["incidents:write"])[1] for n in range(2)]

    def work(index):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_keys[index % 2]}")
        response = client.post(
            "/api/v1/incidents", {"title": f"caller {index}", "idempotency_key": "storm-3"}, format="json"
        )
        return index % 2, response.status_code, response.json()["id"]

    results = run_at_once(work)

    assert not [r for r in results if isinstance(r, BaseException)], results
    for key in range(2):
        answers = [(status, incident_id) for k, status, incident_id in results if k == key]
        assert sorted(status for status, _ in answers) == [200] * (THREADS // 2 - 1) + [201]
        assert len({incident_id for _, incident_id in answers}) == 1
    assert len({incident_id for _, _, incident_id in results}) == 2
    assert Incident.objects.count() == 2
    assert IncidentEvent.objects.count() == 2


def test_concurrent_acknowledges_succeed_once():
    incident, _ = services.incident_create(title="x", actor=Actor.system(), idempotency_key="ack-race")

    def work(index):
        return services.incident_acknowledge(incident=incident, actor=Actor.system(f"caller {index}"))

    results = run_at_once(work)

    succeeded = [r for r in results if isinstance(r, Incident)]
    refused = [r for r in results if isinstance(r, services.InvalidTransition)]
    assert len(succeeded) == 1 and len(refused) == THREADS - 1, results
    assert all("'acknowledged'" in error.message for error in refused)
    stored = Incident.objects.get(pk=incident.pk)
    assert (stored.status, stored.version) == ("acknowledged", 2)
    events = list(IncidentEvent.objects.filter(incident=incident).values_list("type", "version"))
    assert sorted(events, key=lambda e: e[1]) == [("incident.triggered", 1), ("incident.acknowledged", 2)]


def test_concurrent_escalations_all_apply_with_unique_versions():
    incident, _ = services.incident_create(title="x", actor=Actor.system(), idempotency_key="escalate-race")

    def work(index):
        return services.incident_escalate(incident=incident, actor=Actor.system(f"caller {index}")).version

    results = run_at_once(work)

    assert not [r for r in results if isinstance(r, BaseException)], results
    assert sorted(results) == list(range(2, THREADS + 2))
    stored = Incident.objects.get(pk=incident.pk)
    assert (stored.version, stored.escalation_level) == (THREADS + 1, THREADS)
    versions = list(IncidentEvent.objects.filter(incident=incident).values_list("version", flat=True))
    assert sorted(versions) == list(range(1, THREADS + 2))


def test_concurrent_mixed_transitions_keep_the_timeline_consistent():
    incident, _ = services.incident_create(title="x", actor=Actor.system(), idempotency_key="mixed-race")
    actions = [services.ACKNOWLEDGE, services.RESOLVE, services.ESCALATE, services.REOPEN] * 2

    def work(index):
        return services.incident_transition(incident=incident, transition=actions[index], actor=Actor.system())

    results = run_at_once(work)

    assert all(isinstance(r, Incident | services.InvalidTransition) for r in results), results
    applied = [r for r in results if isinstance(r, Incident)]
    stored = Incident.objects.get(pk=incident.pk)
    assert stored.version == 1 + len(applied)
    events = list(IncidentEvent.objects.filter(incident=incident).order_by("version"))
    assert [e.version for e in events] == list(range(1, stored.version + 1))
    assert sorted(r.version for r in applied) == list(range(2, stored.version + 1))
    # Replaying the timeline through the lifecycle table gives the stored status.
    status = "triggered"
    for event in events[1:]:
        transition = next(t for t in services.TRANSITIONS.values() if t.event_type == event.type)
        assert status in transition.allowed_from, [e.type for e in events]
        status = {"acknowledge": "acknowledged", "resolve": "resolved", "reopen": "triggered"}.get(
            transition.action, status
        )
    assert stored.status == status


# --- Numbers ---------------------------------------------------------------------------------


@pytest.mark.parametrize("counter_row", ["present", "missing"])
def test_concurrent_creates_take_distinct_numbers_without_gaps(counter_row):
    """Half the callers replay one key (their rolled-back insert must give its number
    back); the others declare new incidents. Without a counter row (a database emptied
    by hand) the first callers race to create it."""
    start = services.incident_create(title="before", actor=Actor.system(), idempotency_key="n-before")[0].number
    if counter_row == "missing":
        IncidentCounter.objects.all().delete()
    keys = [f"n-{index}" if index % 2 else "n-shared" for index in range(THREADS)]

    def work(index):
        return services.incident_create(title=f"caller {index}", actor=Actor.system(), idempotency_key=keys[index])

    results = run_at_once(work)

    assert not [r for r in results if isinstance(r, BaseException)], results
    created = {incident.number for incident, was_created in results if was_created}
    assert len(created) == len(set(keys))
    assert sorted(created) == list(range(start + 1, start + 1 + len(set(keys))))
    numbers = sorted(Incident.objects.values_list("number", flat=True))
    assert numbers == list(range(start, start + 1 + len(set(keys))))
    assert IncidentCounter.objects.get().last_number == numbers[-1]


def test_concurrent_api_creates_answer_distinct_references():
    _, raw_key = api_key_create(name="numbers", scopes=["incidents:write", "incidents:read"])

    def work(index):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
        response = client.post("/api/v1/incidents", {"title": "x", "idempotency_key": f"ref-{index}"}, format="json")
        return response.status_code, response.json()["reference"]

    results = run_at_once(work)

    assert not [r for r in results if isinstance(r, BaseException)], results
    assert {status for status, _ in results} == {201}
    references = {reference for _, reference in results}
    assert references == {f"INC-{n}" for n in Incident.objects.values_list("number", flat=True)}
    assert len(references) == THREADS
