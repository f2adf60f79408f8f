import itertools

import pytest

from incidents import services
from incidents.models import Incident

_keys = itertools.count(1)


def move_to(incident: Incident, status: str, actor) -> Incident:
    """Bring a new (triggered) incident to `status` through the services."""
    if status == Incident.Status.ACKNOWLEDGED:
        return services.incident_acknowledge(incident=incident, actor=actor)
    if status == Incident.Status.RESOLVED:
        return services.incident_resolve(incident=incident, actor=actor)
    return incident


@pytest.fixture
def make_incident(db, system_actor):
    """make_incident(status="triggered", **fields) → an incident made through the services."""

    def make(status: str = Incident.Status.TRIGGERED, **fields) -> Incident:
        fields.setdefault("title", "Database is down")
        fields.setdefault("idempotency_key", f"test-key-{next(_keys)}")
        incident, created = services.incident_create(actor=system_actor, **fields)
        assert created
        return move_to(incident, status, system_actor)

    return make


@pytest.fixture
def service(db):
    return services.service_create(name="API Gateway", description="The front door")
