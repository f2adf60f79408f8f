"""Incident reads that are not covered through the API (incidents/selectors.py)."""

from urllib.parse import urlsplit

import pytest
from django.urls import resolve

from incidents import selectors


def test_incident_page_url_is_the_admin_change_page_on_the_public_base_url(settings):
    settings.PUBLIC_BASE_URL = "https://ops.example.com"
    url = selectors.incident_page_url(incident_id="inc_01GOLDEN000000000000000001")
    assert url == "https://ops.example.com/admin/incidents/incident/inc_01GOLDEN000000000000000001/change/"


@pytest.mark.django_db
def test_incident_page_url_opens_the_incident_for_an_operator(client, django_user_model, make_incident, settings):
    settings.PUBLIC_BASE_URL = "https://ops.example.com"
    incident = make_incident(title="Checkout is slow")
    path = urlsplit(selectors.incident_page_url(incident_id=incident.id)).path
    assert resolve(path).url_name == "incidents_incident_change"

    client.force_login(django_user_model.objects.create_superuser(username="oncall", password="x"))
    page = client.get(path)
    assert page.status_code == 200
    assert "Checkout is slow" in page.content.decode()
