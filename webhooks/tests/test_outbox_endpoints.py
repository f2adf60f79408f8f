"""The outbox reads the active endpoints with a raw SELECT: it must give what the ORM
query it replaces gives, field for field."""

import pytest

from incidents.models import Service
from webhooks.delivery.outbox import _ENDPOINT_FIELDS, _active_endpoints, _first_active_endpoints
from webhooks.endpoints import endpoint_create, endpoint_update

pytestmark = pytest.mark.django_db


def fields(endpoint) -> tuple:
    return tuple(getattr(endpoint, name) for name in _ENDPOINT_FIELDS)


def test_the_raw_read_matches_the_orm_query_field_for_field():
    service = Service.objects.create(name="payments")
    endpoint_create(name="plain", url="https://hooks.example.com/a")
    endpoint_create(
        name="filtered", url="https://hooks.example.com/b", event_types=["incident.resolved"],
        services=[service.pk], min_severity="high", visibility="both", ordering="per_incident",
    )  # fmt: skip
    endpoint_create(name="slack", url="https://hooks.slack.com/services/T0/B0/x", format="slack")
    off = endpoint_create(name="off", url="https://hooks.example.com/off")
    endpoint_update(endpoint=off, is_active=False)

    expected = list(_active_endpoints().order_by("pk"))
    found = _first_active_endpoints(10)

    assert [fields(e) for e in found] == [fields(e) for e in expected]
    assert off.pk not in {e.pk for e in found}
    assert found[1].event_types == ["incident.resolved"] and found[1].services == [service.pk]
    assert all(not e._state.adding for e in found)
    assert [e.pk for e in _first_active_endpoints(2)] == [e.pk for e in expected[:2]]


def test_the_raw_read_is_one_query(django_assert_num_queries):
    endpoint_create(name="plain", url="https://hooks.example.com/a")
    with django_assert_num_queries(1):
        _first_active_endpoints(51)
