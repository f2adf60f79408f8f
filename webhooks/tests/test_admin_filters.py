"""The endpoint form edits filters and ordering as choices (not JSON), and a delivery's
page says what it waits behind."""

import pytest
from django.contrib.admin.utils import quote

from incidents.models import Service
from webhooks.delivery.worker import deliveries_attempt
from webhooks.endpoints import endpoint_create
from webhooks.models import Delivery, WebhookEndpoint
from webhooks.tests.support import declare
from webhooks.tests.test_admin import ENDPOINTS, add_form

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(client, django_user_model):
    user = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(user)
    return client


def test_filters_and_ordering_are_choices_in_the_form_and_are_saved(admin):
    payments = Service.objects.create(name="payments")
    page = admin.get(f"{ENDPOINTS}add/").content.decode()
    assert f'value="{payments.pk}"' in page and 'type="checkbox"' in page  # services as checkboxes
    assert 'name="min_severity"' in page and 'name="ordering"' in page and 'name="visibility"' in page

    fields = {"services": [payments.pk], "min_severity": "high", "visibility": "public", "ordering": "per_incident"}
    response = admin.post(f"{ENDPOINTS}add/", add_form(**fields))

    assert response.status_code in (200, 302, 303), response.content[:500]
    endpoint = WebhookEndpoint.objects.get()
    assert (endpoint.services, endpoint.min_severity, endpoint.visibility, endpoint.ordering) == (
        [payments.pk],
        "high",
        "public",
        "per_incident",
    )


def test_a_waiting_delivery_says_what_it_waits_behind(admin, system_actor, receiver):
    from incidents import services as incident_services

    receiver.script("/o", [500])
    endpoint_create(name="ordered", url=receiver.url("/o"), ordering="per_incident")
    incident = declare(system_actor)
    incident_services.incident_acknowledge(incident=incident, actor=system_actor)
    deliveries_attempt(delivery_ids=list(Delivery.objects.values_list("id", flat=True)))
    trigger = Delivery.objects.get(event__type="incident.triggered")
    waiting = Delivery.objects.get(event__type="incident.acknowledged")

    page = admin.get(f"/admin/webhooks/delivery/{quote(waiting.pk)}/change/").content.decode()

    assert f">{trigger.pk}</a> (per-incident order)" in page and "behind" in page
