"""Content filters next to event types: services, lowest severity, visibility. Applied in
the outbox with no query per endpoint; replay applies them; Send Test ignores them."""

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from incidents.models import Service
from webhooks.actions import endpoint_replay, endpoint_send_test
from webhooks.endpoints import endpoint_create, endpoint_update
from webhooks.models import Delivery, Event
from webhooks.tests.support import declare

pytestmark = pytest.mark.django_db


@pytest.fixture
def payments():
    return Service.objects.create(name="payments")


@pytest.fixture
def search():
    return Service.objects.create(name="search")


def received_by(name: str) -> list[str]:
    return list(
        Delivery.objects.filter(endpoint__name=name)
        .order_by("created_at")
        .values_list("event__incident__title", flat=True)
    )


def test_sev1_and_sev2_of_the_payments_service_only(system_actor, receiver, payments, search):
    endpoint_create(name="pay-hi", url=receiver.url("/p"), services=[payments.pk], min_severity="high")
    endpoint_create(name="everything", url=receiver.url("/e"))
    declare(system_actor, key="1", title="pay critical", service=payments, severity="critical")
    declare(system_actor, key="2", title="pay high", service=payments, severity="high")
    declare(system_actor, key="3", title="pay medium", service=payments, severity="medium")
    declare(system_actor, key="4", title="search critical", service=search, severity="critical")
    declare(system_actor, key="5", title="no service critical", severity="critical")

    assert received_by("pay-hi") == ["pay critical", "pay high"]
    assert len(received_by("everything")) == 5


def test_visibility_public_private_or_both(system_actor, receiver):
    for visibility in ("public", "private", "both"):
        endpoint_create(name=visibility, url=receiver.url(f"/{visibility}"), visibility=visibility)
    declare(system_actor, key="pub", title="open", visibility="public")
    declare(system_actor, key="priv", title="secret", visibility="private")

    assert received_by("public") == ["open"]
    assert received_by("private") == ["secret"]
    assert received_by("both") == ["open", "secret"]


def test_a_formats_own_event_names_combine_with_the_filters(system_actor, receiver, payments):
    endpoint_create(
        name="io",
        url=receiver.url("/io"),
        format="incidentio",
        event_types=["public_incident.incident_created_v2"],
        min_severity="critical",
    )
    declare(system_actor, key="a", title="minor", service=payments, severity="low")
    declare(system_actor, key="b", title="major", service=payments, severity="critical")
    assert received_by("io") == ["major"]


def test_filters_cost_no_query_per_endpoint(system_actor, receiver, payments):
    endpoint_create(name="one", url=receiver.url("/1"), services=[payments.pk], min_severity="low")
    with CaptureQueriesContext(connection) as one:
        declare(system_actor, key="x1", service=payments)
    for n in range(20):
        endpoint_create(name=f"f{n}", url=receiver.url(f"/{n}"), services=[payments.pk], min_severity="low")
    with CaptureQueriesContext(connection) as many:
        declare(system_actor, key="x2", service=payments)
    assert len(many.captured_queries) == len(one.captured_queries)
    assert Delivery.objects.filter(event__incident__idempotency_key="x2").count() == 21


def test_replay_applies_the_filters_and_send_test_ignores_them(system_actor, receiver, payments, search):
    declare(system_actor, key="p", title="pay", service=payments, severity="critical")
    declare(system_actor, key="s", title="search", service=search, severity="critical")
    late = endpoint_create(name="late", url=receiver.url("/late"), services=[search.pk])
    since = Event.objects.order_by("created_at").first().created_at

    assert endpoint_replay(endpoint=late, since=since) == 1
    assert received_by("late") == ["search"]
    attempt = endpoint_send_test(endpoint=late)  # the sample incident has another service
    assert attempt.response_status == 200


@pytest.mark.parametrize(
    "fields, field, fragment",
    [
        ({"services": ["svc_nope"]}, "services", "Unknown service id(s): svc_nope"),
        ({"services": "svc_1"}, "services", "list of service ids"),
        ({"min_severity": "sev1"}, "min_severity", "Valid: (empty), critical, high, medium, low, info"),
        ({"visibility": "secret"}, "visibility", "Valid: both, public, private"),
        ({"ordering": "fifo"}, "ordering", "Valid: none, per_incident"),
    ],
)
def test_bad_filters_are_refused_naming_the_field(receiver, fields, field, fragment):
    with pytest.raises(ValidationError) as refused:
        endpoint_create(name="x", url=receiver.url("/x"), **fields)
    assert fragment in refused.value.message_dict[field][0]
    endpoint = endpoint_create(name="ok", url=receiver.url("/ok"))
    with pytest.raises(ValidationError):
        endpoint_update(endpoint=endpoint, **fields)


def test_the_api_takes_and_shows_the_filters(api_client, payments):
    response = api_client.post(
        "/api/v1/webhooks",
        {"name": "pay", "url": "https://hooks.example.com/p", "services": [payments.pk], "min_severity": "high"},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["services"], body["min_severity"], body["visibility"], body["ordering"]) == (
        [payments.pk],
        "high",
        "both",
        "none",
    )
    response = api_client.patch(f"/api/v1/webhooks/{body['id']}", {"min_severity": "sev9"}, format="json")
    assert response.status_code == 400
    assert "min_severity" in response.json()["error"]["fields"]
