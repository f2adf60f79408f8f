"""The webhooks admin, as a superuser: endpoint list columns and their query count, the
add form (secret shown once), Send Test, rotation, and the delivery log with Redeliver."""

import html
import re
from datetime import timedelta

import pytest
from django.contrib.admin.utils import quote
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from incidents import services as incident_services
from tests.support.receiver import Reply
from webhooks.actions import endpoint_send_test
from webhooks.endpoints import endpoint_create, endpoint_rotate_secret, endpoint_update
from webhooks.models import Delivery, Event, WebhookEndpoint
from webhooks.tests.support import delivery_attempt

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
    endpoint = endpoint_create(name=f"endpoint {n}", url=f"https://hooks{n}.example.com/in")
    now = timezone.now()
    for status, count in [("succeeded", succeeded), ("failed", failed), ("pending", pending)]:
        for _ in range(count):
            # One event per delivery: an event's message goes to an endpoint once.
            Delivery.objects.create(event=make_event(n), endpoint=endpoint, status=status, next_attempt_at=now)
    return endpoint


# --- Endpoint changelist ------------------------------------------------------------


def test_endpoint_changelist_shows_success_rate_and_last_delivery(admin):
    busy = endpoint_with_log(1, succeeded=3, failed=1)
    quiet = endpoint_create(name="quiet", url="https://quiet.example.com/in")
    # Test sends and deliveries older than a day do not count in the 24 h rate.
    test_event = make_event(is_test=True)
    Delivery.objects.create(event=test_event, endpoint=quiet, is_test=True, status="succeeded")
    old = Delivery.objects.create(event=make_event(), endpoint=quiet, status="failed")
    old_ok = Delivery.objects.create(event=make_event(), endpoint=busy, status="succeeded")
    Delivery.objects.filter(pk__in=[old.pk, old_ok.pk]).update(created_at=timezone.now() - timedelta(days=2))

    response = admin.get(ENDPOINTS)

    assert response.status_code == 200
    page = response.content.decode()
    assert "success · p50 / p95 (24 h)" in page.lower() and "last delivery" in page.lower()
    assert "75% of 4" in page
    assert re.search(
        r'field-last_delivery"><span class="ok-badge ok-badge-failed">failed</span><br><small>\d{4}-\d\d-\d\d '
        r"\d\d:\d\d:\d\d UTC</small>",
        page,
    )
    rows = {endpoint.name: endpoint.health for endpoint in response.context["cl"].result_list}
    assert (rows["endpoint 1"].succeeded_24h, rows["endpoint 1"].finished_24h) == (3, 4)
    assert rows["quiet"].finished_24h == 0 and rows["quiet"].succeeded_24h == 0  # only a test and an old one
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

    # POST/redirect/GET: the answer to the POST is a redirect, a reload repeats nothing.
    assert response.status_code == 303
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.name == "ITSM"
    assert endpoint.secret.startswith("whsec_")
    assert endpoint.event_types == ["incident.resolved", "incident.triggered"]  # normalized by the service
    assert endpoint.secret not in response["Location"]
    shown = admin.get(response["Location"])
    page = shown.content.decode()
    assert shown.status_code == 200
    assert page.count(endpoint.secret) == 1 and "not shown again" in page
    assert 'id="copy-secret"' in page
    assert "no-store" in shown["Cache-Control"]
    assert not [m for m in messages_of(shown) if endpoint.secret in m]  # never in a message
    session = admin.session.load()
    assert endpoint.secret not in repr(session)  # the session holds a ticket, not the secret
    assert not [value for value in admin.cookies.values() if endpoint.secret in value.value]

    # Reloading the page shows the secret no more, and creates nothing.
    again = admin.get(response["Location"])
    assert again.status_code == 410 and endpoint.secret not in again.content.decode()
    assert 'id="secret-already-shown"' in again.content.decode()
    assert WebhookEndpoint.objects.count() == 1

    change_page = admin.get(f"{ENDPOINTS}{endpoint.pk}/change/")
    assert change_page.status_code == 200
    assert endpoint.secret not in change_page.content.decode()
    assert endpoint.secret not in admin.get(ENDPOINTS).content.decode()


def test_a_secret_ticket_is_for_its_session_and_its_secret_only(admin, client, django_user_model):
    response = admin.post(f"{ENDPOINTS}add/", add_form())
    endpoint = WebhookEndpoint.objects.get()
    other = django_user_model.objects.create_superuser("other", "other@example.com", None)
    client.force_login(other)
    # Another session (another browser, a copied link) cannot redeem it.
    assert client.get(response["Location"]).status_code == 410
    # Rotated in between: the ticket was for the old secret, which is not shown.
    endpoint_rotate_secret(endpoint=endpoint)
    rotated = admin.get(response["Location"])
    assert rotated.status_code == 410
    assert WebhookEndpoint.objects.get().secret not in rotated.content.decode()
    assert admin.get(f"{ENDPOINTS}secret/made-up-token/").status_code == 410


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
    endpoint = endpoint_create(name="old", url="https://hooks.example.com/in")
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
    ok = endpoint_create(name="Good", url=receiver.url("/ok"))
    down = endpoint_create(name="Bad", url=receiver.url("/down"))

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


def test_rotate_secret_action_asks_first_then_shows_each_new_secret_once(admin):
    first = endpoint_create(name="rot1", url="https://hooks.example.com/in")
    second = endpoint_create(name="rot2", url="https://hooks2.example.com/in")
    selected = {"action": "rotate_secret", "_selected_action": [first.pk, second.pk]}

    asked = admin.post(ENDPOINTS, selected)

    assert asked.status_code == 200 and 'id="rotation-effects"' in asked.content.decode()
    assert [e.secret for e in WebhookEndpoint.objects.order_by("name")] == [first.secret, second.secret]

    response = admin.post(ENDPOINTS, {**selected, "confirmed": "yes"})

    assert response.status_code == 303
    page = admin.get(response["Location"]).content.decode()
    for endpoint in (first, second):
        row = WebhookEndpoint.objects.get(pk=endpoint.pk)
        assert row.secret != endpoint.secret and row.previous_secret == endpoint.secret
        assert page.count(row.secret) == 1
        assert endpoint.secret not in page
    assert page.count('class="button ok-copy"') == 2
    assert not messages_of(response)  # no secret kept in a message
    assert admin.get(response["Location"]).status_code == 410  # once


# --- Deliveries ------------------------------------------------------------------------


@pytest.fixture
def attempted(receiver, system_actor):
    receiver.script("/d", [Reply(status=502, body=b"bad gateway <b>html</b>")])
    endpoint = endpoint_create(name="d", url=receiver.url("/d"))
    incident, _ = incident_services.incident_create(title="Disk <full>", idempotency_key="adm", actor=system_actor)
    delivery = Delivery.objects.get(endpoint=endpoint)
    delivery_attempt(delivery_id=delivery.id)
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
    endpoint = endpoint_create(name="r", url=receiver.url("/r"))
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


# --- The endpoint change page: health, chart, Send Test, rotation, replay --------------------


def change_url(endpoint) -> str:
    return f"{ENDPOINTS}{quote(endpoint.pk)}/change/"


def test_change_page_shows_health_and_the_chart(admin):
    endpoint = endpoint_with_log(1, succeeded=3, failed=1, pending=2)
    endpoint_update(endpoint=endpoint, is_active=False)

    response = admin.get(change_url(endpoint))

    assert response.status_code == 200
    page = response.content.decode()
    health = response.context["health"]
    assert (health.succeeded_24h, health.failed_24h, health.pending) == (3, 1, 2)
    assert "75% of 4" in page
    assert "Disabled by hand." in page
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="deliveries-chart"' in page
    assert page.count('class="bar-succeeded"') == 1
    assert 'id="send-test"' in page and 'name="event_type"' in page
    for event_type in ["incident.triggered", "incident.reopened"]:
        assert f'<option value="{event_type}"' in page
    assert endpoint.secret not in page


def test_send_test_button_sends_the_chosen_event_and_shows_the_outcome_inline(admin, receiver):
    receiver.script("/t", [Reply(status=202, body=b"<b>accepted</b>")])
    endpoint = endpoint_create(name="T", url=receiver.url("/t"))

    response = admin.post(f"{ENDPOINTS}{quote(endpoint.pk)}/send-test/", {"event_type": "incident.escalated"})

    test_delivery = Delivery.objects.get(endpoint=endpoint, is_test=True)
    assert response.status_code == 302
    assert response["Location"] == f"{change_url(endpoint)}?test_delivery={test_delivery.pk}#send-test"
    (request,) = receiver.wait_for(1, "/t")
    assert request.header("X-OpsKnight-Event") == "incident.escalated"
    page = admin.get(response["Location"]).content.decode()
    outcome = page[page.index('id="test-outcome"') :]
    assert "HTTP 202" in outcome and "incident.escalated" in outcome
    assert "&lt;b&gt;accepted&lt;/b&gt;" in outcome and "<b>accepted</b>" not in outcome
    assert '<option value="incident.escalated" selected>' in page
    history = admin.get(f"{ENDPOINTS}{quote(endpoint.pk)}/history/").content.decode()
    assert "Send Test (incident.escalated): HTTP 202" in history


def test_send_test_button_shows_a_connection_error(admin):
    from tests.support.receiver import free_port

    endpoint = endpoint_create(name="closed", url=f"http://127.0.0.1:{free_port()}/x")
    response = admin.post(f"{ENDPOINTS}{quote(endpoint.pk)}/send-test/", {"event_type": "incident.triggered"})
    page = admin.get(response["Location"]).content.decode()
    outcome = page[page.index('id="test-outcome"') :]
    assert "no answer" in outcome and "Connection refused." in outcome and "ok-badge-failed" in outcome


def test_send_test_button_refuses_an_unknown_event_type_and_get(admin):
    endpoint = endpoint_create(name="T", url="https://hooks.example.com/in")
    url = f"{ENDPOINTS}{quote(endpoint.pk)}/send-test/"
    response = admin.post(url, {"event_type": "incident.exploded"}, follow=True)
    assert any("Unknown event type" in m for m in messages_of(response))
    assert admin.get(url).status_code == 405
    assert not Delivery.objects.exists()
    assert admin.post(f"{ENDPOINTS}whk_missing/send-test/").status_code == 404


def test_a_test_delivery_of_another_endpoint_is_not_shown(admin, receiver):
    mine = endpoint_create(name="mine", url=receiver.url("/m"))
    other = endpoint_create(name="other", url=receiver.url("/o"))
    attempt = endpoint_send_test(endpoint=other)
    response = admin.get(change_url(mine), {"test_delivery": attempt.delivery_id})
    assert response.context["test_attempt"] is None
    assert 'id="test-outcome"' not in response.content.decode()


def test_rotate_button_asks_first_says_what_changes_then_shows_the_new_secret_once(admin, settings):
    settings.WEBHOOK_SECRET_ROTATION_OVERLAP = 6 * 3600
    endpoint = endpoint_create(name="rot", url="https://hooks.example.com/in")
    url = f"{ENDPOINTS}{quote(endpoint.pk)}/rotate-secret/"
    assert f'href="{url}"' in admin.get(change_url(endpoint)).content.decode()  # a link to the question

    asked = admin.get(url)

    assert asked.status_code == 200
    question = " ".join(html.unescape(re.sub(r"<[^>]+>", "", asked.content.decode())).split())
    assert "X-OpsKnight-Signature switches to the new secret at once" in question
    assert "webhook-signature carries both" in question and "for 6 h" in question
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).secret == endpoint.secret  # nothing rotated yet

    response = admin.post(url)

    row = WebhookEndpoint.objects.get(pk=endpoint.pk)
    assert response.status_code == 303
    assert row.secret != endpoint.secret and row.previous_secret == endpoint.secret
    page = admin.get(response["Location"]).content.decode()
    assert page.count(row.secret) == 1 and 'id="copy-secret"' in page
    assert endpoint.secret not in page
    assert row.secret not in admin.get(change_url(endpoint)).content.decode()
    # Reloading the secret's page rotates nothing and shows nothing.
    assert admin.get(response["Location"]).status_code == 410
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).secret == row.secret


def test_rotate_with_a_chosen_secret_and_a_bad_one(admin):
    endpoint = endpoint_create(name="rot", url="https://hooks.example.com/in")
    url = f"{ENDPOINTS}{quote(endpoint.pk)}/rotate-secret/"

    refused = admin.post(url, {"secret": "short"})
    too_long = admin.post(url, {"secret": "x" * 201})

    assert refused.status_code == 200 and "at least 16 characters" in refused.content.decode()
    assert too_long.status_code == 200 and "at most 200 characters" in too_long.content.decode()
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).secret == endpoint.secret
    chosen = "whsec_" + "A" * 43 + "="
    assert admin.post(url, {"secret": chosen}).status_code == 303
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).secret == chosen


def test_replay_button_queues_the_events_since_the_given_time(admin, system_actor):
    endpoint = endpoint_create(name="rep", url="https://hooks.example.com/in")
    for key in ["r1", "r2"]:
        incident_services.incident_create(title="x", idempotency_key=key, actor=system_actor)
    since = timezone.localtime(timezone.now() - timedelta(hours=1))

    response = admin.post(f"{ENDPOINTS}{quote(endpoint.pk)}/replay/", {"since": f"{since:%Y-%m-%dT%H:%M}"}, follow=True)

    assert response.status_code == 200
    assert Delivery.objects.filter(endpoint=endpoint, origin=Delivery.Origin.REPLAY).count() == 2
    assert any("Queued 2 delivery(ies)" in m for m in messages_of(response))
    assert response.redirect_chain[-1][0].startswith(f"{DELIVERIES}?endpoint__id__exact=")


@pytest.mark.parametrize("since", ["", "yesterday", "2024-13-45T10:00"])
def test_replay_button_with_a_bad_time_says_so_and_queues_nothing(admin, since):
    endpoint = endpoint_create(name="rep", url="https://hooks.example.com/in")
    response = admin.post(f"{ENDPOINTS}{quote(endpoint.pk)}/replay/", {"since": since}, follow=True)
    assert response.status_code == 200
    assert any("Give the date and time" in m for m in messages_of(response))
    assert not Delivery.objects.exists()


# --- Custom headers in the endpoint form ----------------------------------------------------


def test_headers_typed_one_per_line_are_saved_and_credentials_show_redacted(admin):
    admin.post(f"{ENDPOINTS}add/", add_form(headers="Authorization: Bearer t0k3n\r\nX-Team:  sre \r\n\r\n"))
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.headers == {"Authorization": "Bearer t0k3n", "X-Team": "sre"}

    page = admin.get(change_url(endpoint)).content.decode()
    assert "t0k3n" not in page and "Authorization: [redacted]" in page

    data = add_form(headers="Authorization: [redacted]\nX-Team: platform")
    del data["secret"]
    assert admin.post(change_url(endpoint), data).status_code == 302
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).headers == {
        "Authorization": "Bearer t0k3n",
        "X-Team": "platform",
    }


@pytest.mark.parametrize(
    "headers, fragment",
    [
        ("X-OpsKnight-Event: forged", "reserved"),
        ("Content-Type: text/plain", "reserved"),
        ("no colon here", "Line 1"),
        ("Bad Name: x", "not a header name"),
    ],
)
def test_bad_headers_in_the_form_are_refused_with_a_message(admin, headers, fragment):
    response = admin.post(f"{ENDPOINTS}add/", add_form(headers=headers))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["headers"]
    assert any(fragment in error for error in errors), errors
    assert not WebhookEndpoint.objects.exists()


# --- Deliveries: filters, search, the request, Redeliver -------------------------------------


def test_delivery_list_filters_and_search(admin, attempted, system_actor):
    delivery, incident = attempted
    other_incident, _ = incident_services.incident_create(title="other", idempotency_key="oth", actor=system_actor)
    other = Delivery.objects.get(event__incident=other_incident)

    def listed(**query) -> set[str]:
        response = admin.get(DELIVERIES, query)
        assert response.status_code == 200
        return {row.pk for row in response.context["cl"].result_list}

    assert listed() == {delivery.pk, other.pk}
    assert listed(q=incident.id) == {delivery.pk}
    assert listed(q=delivery.event_id) == {delivery.pk}
    assert listed(q=other.pk) == {other.pk}
    assert listed(status__exact="failed") == set()  # one failed attempt: still pending a retry
    assert listed(status__exact="pending") == {delivery.pk, other.pk}
    assert listed(event__type__exact="incident.resolved") == set()
    assert listed(is_test__exact="0") == {delivery.pk, other.pk}
    midnight = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    today = {"created_at__gte": str(midnight), "created_at__lt": str(midnight + timedelta(days=1))}
    assert listed(**today) == {delivery.pk, other.pk}  # the "Today" date filter
    page = admin.get(DELIVERIES).content.decode()
    assert 'class="ok-badge ok-badge-pending"' in page


def test_delivery_page_shows_the_request_pretty_and_the_attempt(admin, attempted):
    delivery, incident = attempted
    page = admin.get(f"{DELIVERIES}{quote(delivery.pk)}/change/").content.decode()
    assert f"POST {delivery.endpoint.url}" in page
    assert "X-OpsKnight-Signature" in page and "webhook-signature" in page
    assert delivery.endpoint.secret not in page
    assert "\n  &quot;event&quot;: &quot;incident.triggered&quot;,\n" in page  # pretty-printed
    assert "\n  &quot;incident&quot;: {\n    &quot;id&quot;: " in page
    assert "HTTP 502" in page and "ok-badge-failed" in page
    assert 'id="redeliver-button"' in page


def test_redeliver_button_queues_a_new_delivery_and_opens_it(admin, attempted):
    delivery, _ = attempted
    response = admin.post(f"{DELIVERIES}{quote(delivery.pk)}/redeliver/")
    redelivery = Delivery.objects.get(origin=Delivery.Origin.REDELIVER)
    assert redelivery.event_id == delivery.event_id and redelivery.endpoint_id == delivery.endpoint_id
    assert response.status_code == 302 and response["Location"] == f"{DELIVERIES}{quote(redelivery.pk)}/change/"
    assert admin.get(f"{DELIVERIES}{quote(delivery.pk)}/redeliver/").status_code == 405


# --- The incident page: the deliveries each timeline entry caused -----------------------------


def test_incident_timeline_lists_each_entrys_deliveries_in_few_queries(admin, system_actor):
    first = endpoint_create(name="First receiver", url="https://a.example.com/in")
    endpoint_create(name="Second receiver", url="https://b.example.com/in", event_types=["incident.resolved"])
    incident, _ = incident_services.incident_create(title="T", idempotency_key="tl", actor=system_actor)
    url = f"/admin/incidents/incident/{quote(incident.pk)}/change/"
    admin.get(url)  # warms the content type cache
    with CaptureQueriesContext(connection) as few:
        assert admin.get(url).status_code == 200
    for action in [incident_services.ACKNOWLEDGE, incident_services.RESOLVE, incident_services.REOPEN]:
        incident_services.incident_transition(incident=incident, transition=action, actor=system_actor)

    with CaptureQueriesContext(connection) as many:
        response = admin.get(url)

    page = response.content.decode()
    assert page.count(">First receiver</a>") == 4  # every event
    assert page.count(">Second receiver</a>") == 1  # only the resolution
    triggered = Delivery.objects.get(endpoint=first, event__type="incident.triggered")
    assert f'href="{DELIVERIES}{quote(triggered.pk)}/change/"' in page
    assert len(many) == len(few), [q["sql"] for q in many.captured_queries]


def test_moving_the_url_to_another_host_in_the_form_asks_for_the_credential_again(admin):
    admin.post(f"{ENDPOINTS}add/", add_form(headers="Authorization: Bearer t0k3n"))
    endpoint = WebhookEndpoint.objects.get()
    data = add_form(url="https://elsewhere.example/in", headers="Authorization: [redacted]")
    del data["secret"]

    response = admin.post(change_url(endpoint), data)

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["headers"]
    assert any("Authorization" in error and "elsewhere.example" in error for error in errors), errors
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).url == endpoint.url
