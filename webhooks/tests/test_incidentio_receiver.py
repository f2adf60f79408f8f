"""An incident.io receiver as incident.io's users write them (tests/support/incidentio_receiver.py:
svix, a marshmallow envelope for `incident_updated_v2`, the lead's Slack id), subscribed to
`incident_updated_v2` only, takes every change of an incident's life, sent in process."""

import pytest

from incidents import services as incident_services
from tests.support.incidentio_receiver import IncidentIoReceiver
from webhooks.actions import endpoint_send_test
from webhooks.delivery.worker import deliveries_attempt
from webhooks.endpoints import endpoint_create
from webhooks.formats import incidentio
from webhooks.models import Delivery, DeliveryAttempt
from webhooks.transport.signing import generate_secret

pytestmark = pytest.mark.django_db

SLACK_USER_ID = "U02AYNF2XJM"


@pytest.fixture
def incidentio_receiver():
    secret = generate_secret()
    server = IncidentIoReceiver(secret)
    server.secret = secret
    yield server
    server.close()


def live_a_whole_life(actor) -> str:
    incident, _ = incident_services.incident_create(
        title="Checkout returns 502", severity="critical", assignee=SLACK_USER_ID, idempotency_key="io-r", actor=actor
    )
    for change in ("acknowledge", "escalate", "resolve", "reopen", "resolve"):
        incident = getattr(incident_services, f"incident_{change}")(incident=incident, actor=actor)
    incident_services.incident_create(title="Customer data", visibility="private", idempotency_key="io-p", actor=actor)
    return incident.id


def test_every_change_after_the_trigger_is_accepted_and_the_resolve_pages_the_lead(system_actor, incidentio_receiver):
    endpoint = endpoint_create(
        name="incident.io bridge",
        url=incidentio_receiver.url,
        format="incidentio",
        event_types=[incidentio.UPDATED],
        secret=incidentio_receiver.secret,
    )
    live_a_whole_life(system_actor)
    deliveries = list(Delivery.objects.filter(endpoint=endpoint))
    assert {d.message_type for d in deliveries} == {incidentio.UPDATED}  # not the trigger, nor the private one

    deliveries_attempt(delivery_ids=[d.pk for d in deliveries])

    statuses = [attempt.response_status for attempt in DeliveryAttempt.objects.filter(delivery__endpoint=endpoint)]
    assert sorted(statuses) == [204] * 5
    seen = incidentio_receiver.seen
    # Sent at once, in parallel: in any order.
    assert sorted(entry["category"] for entry in seen) == ["closed", "closed", "live", "live", "triage"]
    assert len({entry["webhook_id"] for entry in seen}) == 5
    assert incidentio_receiver.paged_leads == [(seen[0]["reference"], SLACK_USER_ID)] * 2


def test_the_receiver_is_strict_about_what_it_does_not_handle(system_actor, incidentio_receiver):
    # Subscribed to everything, it answers 422 to the other types, as it would behind incident.io.
    everything = endpoint_create(
        name="all", url=incidentio_receiver.url, format="incidentio", secret=incidentio_receiver.secret
    )
    live_a_whole_life(system_actor)
    deliveries_attempt(delivery_ids=list(Delivery.objects.filter(endpoint=everything).values_list("pk", flat=True)))
    by_type = {}
    for attempt in DeliveryAttempt.objects.filter(delivery__endpoint=everything).select_related("delivery"):
        by_type.setdefault(attempt.delivery.message_type, set()).add(attempt.response_status)
    assert by_type == {
        incidentio.CREATED: {422},
        incidentio.UPDATED: {204},
        incidentio.STATUS_UPDATED: {422},
        incidentio.PRIVATE_CREATED: {422},
    }
    # And a request signed with another secret gets nowhere.
    stranger = endpoint_create(name="stranger", url=incidentio_receiver.url, format="incidentio")
    incident_services.incident_create(title="Forged?", idempotency_key="io-s", actor=system_actor)
    (delivery,) = Delivery.objects.filter(endpoint=stranger)
    (attempt,) = deliveries_attempt(delivery_ids=[delivery.pk])
    assert attempt.response_status == 400


def test_send_test_of_a_resolve_reaches_an_updates_only_receiver(incidentio_receiver):
    endpoint = endpoint_create(
        name="bridge", url=incidentio_receiver.url, format="incidentio", event_types=[incidentio.UPDATED],
        secret=incidentio_receiver.secret,
    )  # fmt: skip
    assert endpoint_send_test(endpoint=endpoint).response_status == 422  # the trigger: incident_created_v2
    assert endpoint_send_test(endpoint=endpoint, event_type="incident.resolved").response_status == 204
    assert [entry["category"] for entry in incidentio_receiver.seen] == ["closed"]
