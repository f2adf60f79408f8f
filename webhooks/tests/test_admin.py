"""The webhooks admin, as a superuser: endpoint list columns and their query count, the
add form (secret shown once), Send Test, rotation, and the delivery log with Redeliver."""

import html
import re
from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from incidents import services as incident_services
from tests.support.receiver import Reply
from webhooks import services
from webhooks.models import Delivery, Event, WebhookEndpoint

pytestmark = pytest.mark.django_db

ENDPOINTS = "/admin/webhooks/webhookendpoint/"
DELIVERIES = "/admin/webhooks/delivery/"


@pytest.fixture
def admin(client, django_user_model):
    user = django_user_model.objects.create_superuser("root", "root@example.com", None)  # no hashing
    client.force_login(user)
    return client


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def make_event(n: int = 0, is_test: bool = False) -> Event:
    return Event.objects.create(type="incident.triggered", payload=f'{{"n":{n}}}', is_test=is_test)


def endpoint_with_log(n: int, succeeded: int, failed: int, pending: int = 0) -> WebhookEndpoint:
    endpoint = services.endpoint_create(name=f"endpoint {n}", url=f"https://hooks{n}.example.com/in")
    event = make_event(n)
    now = timezone.now()
    for status, count in [("succeeded", succeeded), ("failed", failed), ("pending", pending)]:
        for _ in range(count):
            Delivery.objects.create(event=event, endpoint=endpoint, status=status, next_attempt_at=now)
    return endpoint


# --- Endpoint changelist ------------------------------------------------------------


def test_endpoint_changelist_shows_success_rate_and_last_delivery(admin):
    busy = endpoint_with_log(1, succeeded=3, failed=1)
    quiet = services.endpoint_create(name="quiet", url="https://quiet.example.com/in")
    # Test sends and deliveries older than a day do not count in the 24 h rate.
    test_event = make_event(is_test=True)
    Delivery.objects.create(event=test_event, endpoint=quiet, is_test=True, status="succeeded")
    old = Delivery.objects.create(event=make_event(), endpoint=quiet, status="failed")
    old_ok = Delivery.objects.create(event=make_event(), endpoint=busy, status="succeeded")
    Delivery.objects.filter(pk__in=[old.pk, old_ok.pk]).update(created_at=timezone.now() - timedelta(days=2))

    response = admin.get(ENDPOINTS)

    assert response.status_code == 200
    page = response.content.decode()
    assert "success (24 h)" in page.lower() and "last delivery" in page.lower()
    assert "75% of 4" in page
    assert re.search(r'field-last_delivery"><span class="ok-badge ok-badge-failed">failed</span> \d{4}-\d\d-\d\d', page)
    rows = {endpoint.name: endpoint.health for endpoint in response.context["cl"].result_list}
    assert (rows["endpoint 1"].succeeded, rows["endpoint 1"].finished) == (3, 4)
    assert rows["quiet"].finished == 0 and rows["quiet"].succeeded == 0  # only a test and an old one
    assert rows["quiet"].last_status == "failed"  # the old real one: the newer test is not "last delivery"
    assert "all events" in page


def test_pending_deliveries_do_not_lower_the_success_rate(admin):
    endpoint_with_log(2, succeeded=1, failed=0, pending=5)
    page = admin.get(ENDPOINTS).content.decode()
    assert "100% of 1" in page


def test_endpoint_changelist_query_count_does_not_grow_with_endpoints(admin):
    for n in range(2):
        endpoint_with_log(n, succeeded=2, failed=1)
    with CaptureQueriesContext(connection) as few:
        assert admin.get(ENDPOINTS).status_code == 200
    for n in range(2, 12):
        endpoint_with_log(n, succeeded=1, failed=2)
    with CaptureQueriesContext(connection) as many:
        response = admin.get(ENDPOINTS)
    assert response.status_code == 200
    assert response.content.decode().count("% of 3") == 12
    assert len(many) == len(few), [q["sql"] for q in many.captured_queries]


# --- Add, change, actions ----------------------------------------------------------------


def add_form(**fields) -> dict:
    return {
        "name": "ITSM",
        "url": "https://hooks.example.com/in",
        "event_types": ["incident.triggered", "incident.resolved"],
        "is_active": "on",
        "description": "",
        "secret": "",
        **fields,
    }


def test_add_creates_through_the_service_and_shows_the_secret_once(admin):
    response = admin.post(f"{ENDPOINTS}add/", add_form())

    assert response.status_code == 200  # the answer itself shows the secret: no redirect
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.name == "ITSM"
    assert endpoint.secret.startswith("whsec_")
    assert endpoint.event_types == ["incident.resolved", "incident.triggered"]  # normalized by the service
    page = response.content.decode()
    assert page.count(endpoint.secret) == 1 and "not shown again" in page
    assert 'id="copy-secret"' in page
    assert "no-store" in response["Cache-Control"]
    assert not [m for m in messages_of(response) if endpoint.secret in m]  # not kept in a cookie or session

    change_page = admin.get(f"{ENDPOINTS}{endpoint.pk}/change/")
    assert change_page.status_code == 200
    assert endpoint.secret not in change_page.content.decode()
    assert endpoint.secret not in admin.get(ENDPOINTS).content.decode()


def test_add_with_a_typed_secret_keeps_it(admin):
    admin.post(f"{ENDPOINTS}add/", add_form(secret="typed-in-admin-12345"))
    assert WebhookEndpoint.objects.get().secret == "typed-in-admin-12345"


@pytest.mark.parametrize(
    "fields, field",
    [({"url": "ftp://files.example.com/"}, "url"), ({"secret": "short"}, "secret"), ({"name": ""}, "name")],
)
def test_add_with_bad_input_shows_the_form_again(admin, fields, field):
    response = admin.post(f"{ENDPOINTS}add/", add_form(**fields))
    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    assert not WebhookEndpoint.objects.exists()


def test_change_updates_through_the_service(admin):
    endpoint = services.endpoint_create(name="old", url="https://hooks.example.com/in")
    data = add_form(name="new", event_types=["incident.escalated"])
    del data["secret"], data["is_active"]

    response = admin.post(f"{ENDPOINTS}{endpoint.pk}/change/", data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    row = WebhookEndpoint.objects.get(pk=endpoint.pk)
    assert row.name == "new" and row.event_types == ["incident.escalated"]
    assert not row.is_active and row.disabled_reason  # unchecked box: disabled by hand
    assert row.secret == endpoint.secret


def test_send_test_action_reports_the_receivers_status(admin, receiver):
    receiver.script("/ok", [Reply(status=200, body=b"pong")])
    receiver.script("/down", [Reply(status=500, body=b"oops")])
    ok = services.endpoint_create(name="Good", url=receiver.url("/ok"))
    down = services.endpoint_create(name="Bad", url=receiver.url("/down"))

    response = admin.post(ENDPOINTS, {"action": "send_test", "_selected_action": [ok.pk, down.pk]}, follow=True)

    assert response.status_code == 200
    messages = messages_of(response)
    (good,) = [m for m in messages if m.startswith("Good:")]
    (bad,) = [m for m in messages if m.startswith("Bad:")]
    assert "HTTP 200" in good and "pong" in good
    assert "failed: HTTP 500" in bad and "oops" in bad
    receiver.wait_for(1, "/ok")
    receiver.wait_for(1, "/down")
    assert Delivery.objects.filter(is_test=True).count() == 2


def test_rotate_secret_action_shows_the_new_secret(admin):
    endpoint = services.endpoint_create(name="rot", url="https://hooks.example.com/in")
    response = admin.post(ENDPOINTS, {"action": "rotate_secret", "_selected_action": [endpoint.pk]}, follow=True)
    row = WebhookEndpoint.objects.get(pk=endpoint.pk)
    assert row.secret != endpoint.secret and row.previous_secret == endpoint.secret
    assert any(row.secret in m for m in messages_of(response))


# --- Deliveries ------------------------------------------------------------------------


@pytest.fixture
def attempted(receiver, system_actor):
    receiver.script("/d", [Reply(status=502, body=b"bad gateway <b>html</b>")])
    endpoint = services.endpoint_create(name="d", url=receiver.url("/d"))
    incident, _ = incident_services.incident_create(title="Disk <full>", idempotency_key="adm", actor=system_actor)
    delivery = Delivery.objects.get(endpoint=endpoint)
    services.delivery_attempt(delivery_id=delivery.id)
    return delivery, incident


def test_delivery_changelist_renders(admin, attempted):
    delivery, _ = attempted
    response = admin.get(DELIVERIES)
    assert response.status_code == 200
    page = response.content.decode()
    assert delivery.id in page and "incident.triggered" in page
    filtered = admin.get(DELIVERIES, {"status__exact": "succeeded"})
    assert delivery.id not in filtered.content.decode()


def test_delivery_change_page_shows_payload_and_attempts(admin, attempted):
    delivery, incident = attempted
    response = admin.get(f"{DELIVERIES}{delivery.pk}/change/")
    assert response.status_code == 200
    page = response.content.decode()
    assert html.escape(delivery.event.payload) in page  # the exact body, escaped
    assert "Disk &lt;full&gt;" in page and "Disk <full>" not in page
    assert incident.id in page
    (inline,) = response.context["inline_admin_formsets"]
    assert [form.original.number for form in inline] == [1]
    assert "502" in page and "bad gateway &lt;b&gt;html&lt;/b&gt;" in page
    assert admin.get(f"{DELIVERIES}add/").status_code == 403


def test_redeliver_action_creates_new_deliveries(admin, receiver, system_actor):
    endpoint = services.endpoint_create(name="r", url=receiver.url("/r"))
    for key in ["a", "b"]:
        incident_services.incident_create(title="x", idempotency_key=key, actor=system_actor)
    originals = list(Delivery.objects.filter(endpoint=endpoint))
    assert len(originals) == 2

    response = admin.post(
        DELIVERIES, {"action": "redeliver", "_selected_action": [d.pk for d in originals]}, follow=True
    )

    assert response.status_code == 200
    assert any("2" in m and "redeliver" in m.lower() for m in messages_of(response))
    redelivered = Delivery.objects.filter(origin=Delivery.Origin.REDELIVER)
    assert redelivered.count() == 2
    assert sorted(redelivered.values_list("event_id", flat=True)) == sorted(d.event_id for d in originals)
    assert all(d.status == Delivery.Status.PENDING for d in redelivered)
