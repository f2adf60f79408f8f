"""What an operator reads in the admin is true (issue 15): links open the rows they
count, a failing endpoint says so, times carry seconds and the zone, read-only pages
offer no Save, redeliveries link to what they repeat, and the site has its own name
and icon. The browser checks of the same pages are in tests/browser."""

import html
import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.admin.utils import quote
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from incidents import services as incident_services
from webhooks import formats, selectors
from webhooks.actions import delivery_redeliver, endpoint_send_test
from webhooks.endpoints import endpoint_create, endpoint_update
from webhooks.formats.common import OptionsError
from webhooks.models import Delivery, DeliveryAttempt, Event, WebhookEndpoint
from webhooks.tests.support import delivery_attempt

pytestmark = pytest.mark.django_db

ENDPOINTS = "/admin/webhooks/webhookendpoint/"
DELIVERIES = "/admin/webhooks/delivery/"
# What every time in the admin looks like: seconds and the zone.
TIME = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC"


@pytest.fixture
def admin(client, django_user_model):
    user = django_user_model.objects.create_superuser("root", "root@example.com", None)
    client.force_login(user)
    return client


def text_of(response) -> str:
    """The page as a reader sees it: tags dropped, entities decoded, spaces collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())


def listed(admin, url: str) -> set[str]:
    response = admin.get(url)
    assert response.status_code == 200, url
    return {row.pk for row in response.context["cl"].result_list}


def link(page: str, element_id: str) -> str:
    match = re.search(rf'<a href="([^"]+)"[^>]*id="{element_id}"', page) or re.search(
        rf'id="{element_id}"[^>]*href="([^"]+)"', page
    )
    assert match, element_id
    return html.unescape(match.group(1))


def delivery(endpoint, status="pending", *, is_test=False, age=timedelta(0), **fields) -> Delivery:
    event = Event.objects.create(type="incident.triggered", payload="{}", is_test=is_test)
    row = Delivery.objects.create(event=event, endpoint=endpoint, status=status, is_test=is_test, **fields)
    if age:
        Delivery.objects.filter(pk=row.pk).update(created_at=timezone.now() - age)
    return row


# --- 1 and 5: a figure and its link select the same rows ---------------------------------


def test_each_figure_links_to_exactly_the_rows_it_counts(admin):
    endpoint = endpoint_create(name="counted", url="https://hooks.example.com/in")
    other = endpoint_create(name="other", url="https://other.example.com/in")
    pending = {delivery(endpoint, next_attempt_at=timezone.now()).pk for _ in range(4)}
    failed_24h = {delivery(endpoint, "failed").pk for _ in range(2)}
    delivery(endpoint, "failed", is_test=True)  # a failed Send Test: not in the figure, not in its list
    delivery(endpoint, "failed", age=timedelta(days=2))  # failed before the window
    delivery(other, "failed")
    delivery(other, "pending")

    page = admin.get(f"{ENDPOINTS}{quote(endpoint.pk)}/change/").content.decode()
    health = selectors.endpoints_health(endpoint_ids=[endpoint.pk])[endpoint.pk]
    assert (health.pending, health.failed_24h) == (4, 2)

    assert listed(admin, link(page, "pending-link")) == pending
    assert listed(admin, link(page, "failed-24h-link")) == failed_24h
    row = admin.get(ENDPOINTS).content.decode()
    pending_link, failed_link = re.findall(
        r'field-pending_failed"><a href="([^"]+)">4</a> / <a href="([^"]+)">2<', row
    )[0]
    assert listed(admin, html.unescape(pending_link)) == pending
    assert listed(admin, html.unescape(failed_link)) == failed_24h
    # The Deliveries button: every delivery of this endpoint (the id is not mangled to whk_5F…).
    everything = listed(admin, re.search(r'<li><a href="([^"]+)">Deliveries</a>', page).group(1).replace("&amp;", "&"))
    assert everything == set(Delivery.objects.filter(endpoint=endpoint).values_list("pk", flat=True))
    assert len(everything) == 8


def test_replay_lands_on_the_replayed_deliveries(admin, system_actor):
    endpoint = endpoint_create(name="rep", url="https://hooks.example.com/in")
    for key in ["r1", "r2", "r3"]:
        incident_services.incident_create(title="x", idempotency_key=key, actor=system_actor)
    since = timezone.localtime(timezone.now() - timedelta(hours=1))

    response = admin.post(f"{ENDPOINTS}{quote(endpoint.pk)}/replay/", {"since": f"{since:%Y-%m-%dT%H:%M}"})

    query = parse_qs(urlsplit(response["Location"]).query)
    assert query["endpoint__id__exact"] == [endpoint.pk]
    replayed = set(Delivery.objects.filter(origin=Delivery.Origin.REPLAY).values_list("pk", flat=True))
    assert len(replayed) == 3 and listed(admin, response["Location"]) == replayed


# --- 2: a failing endpoint says so, with its last error and next retry ------------------------


def failing_endpoint(minutes: int = 21) -> WebhookEndpoint:
    endpoint = endpoint_create(name="dead", url="https://dead.example.com/in")
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=timezone.now() - timedelta(minutes=minutes))
    now = timezone.now()
    delivery(endpoint, "failed", attempt_count=4, last_error="ConnectionError: old error", age=timedelta(hours=1))
    delivery(
        endpoint, attempt_count=2, last_error="ConnectionError: Connection refused.",
        next_attempt_at=now + timedelta(minutes=4, seconds=30),
    )  # fmt: skip
    delivery(endpoint, next_attempt_at=now + timedelta(minutes=9))  # not attempted yet
    return WebhookEndpoint.objects.get(pk=endpoint.pk)


def state_of(admin, endpoint) -> str:
    cell = admin.get(ENDPOINTS, {"q": endpoint.name}).content.decode().split('class="field-state"')[1]
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", cell.split("</td>")[0].split(">", 1)[1])).split())


def test_a_failing_endpoint_shows_failing_since_its_last_error_and_next_retry(admin):
    endpoint = failing_endpoint()
    healthy = endpoint_create(name="fine", url="https://fine.example.com/in")

    listing = admin.get(ENDPOINTS, {"q": endpoint.name})
    row = text_of(listing)
    state_cell = listing.content.decode().split('class="field-state"')[1].split("</td>")[0]
    page = admin.get(f"{ENDPOINTS}{quote(endpoint.pk)}/change/")
    panel = text_of(page)

    since = timezone.localtime(endpoint.failing_since)
    assert f"failing since {since:%Y-%m-%d %H:%M:%S} UTC (21 min ago)" in row
    assert "ConnectionError: Connection refused." in row and "next retry in 4 min" in row
    assert "ok-badge-failing" in state_cell and "ok-badge-active" not in state_cell  # not a green "active"
    assert f"State failing since {since:%Y-%m-%d %H:%M:%S} UTC (21 min ago)" in panel
    assert "Last error: ConnectionError: Connection refused." in panel
    assert re.search(rf"Next attempt {TIME} \(in 4 min\)", panel)
    assert "Pending 2 (1 retrying)" in panel
    assert 'class="ok-badge ok-badge-failing"' in page.content.decode()
    assert state_of(admin, healthy) == "active"
    # The switch is apart: disabled by hand, it says disabled (not failing).
    endpoint_update(endpoint=endpoint, is_active=False)
    assert state_of(admin, endpoint) == "disabled Disabled by hand."


def test_endpoint_health_knows_the_retries_the_next_attempt_and_the_last_error():
    endpoint = failing_endpoint()
    health = selectors.endpoints_health(endpoint_ids=[endpoint.pk])[endpoint.pk]
    assert (health.pending, health.retrying) == (2, 1)
    assert health.next_attempt_at == Delivery.objects.get(attempt_count=2).next_attempt_at
    assert health.last_error == "ConnectionError: Connection refused."
    assert health.failing_since == endpoint.failing_since
    (listed_health,) = selectors.endpoint_health_list(now=timezone.now())
    assert listed_health.last_error == health.last_error


# --- 8: times with seconds and the zone; "in 4 min"; retrying ------------------------------------


def test_times_have_seconds_and_the_zone_and_retrying_deliveries_say_so(admin, receiver, system_actor):
    receiver.script("/r", [503])
    endpoint = endpoint_create(name="r", url=receiver.url("/r"))
    incident, _ = incident_services.incident_create(title="T", idempotency_key="t", actor=system_actor)
    retrying = Delivery.objects.get(endpoint=endpoint)
    delivery_attempt(delivery_id=retrying.pk)
    retrying.refresh_from_db()
    assert retrying.status == Delivery.Status.PENDING and retrying.attempt_count == 1

    page = admin.get(f"{DELIVERIES}{quote(retrying.pk)}/change/")
    shown = text_of(page)
    assert 'class="ok-badge ok-badge-retrying"' in page.content.decode()
    assert re.search(rf"Next attempt: {TIME} \(in (59 s|1 min)\)", shown), shown
    assert re.search(rf"Created: {TIME}", shown)
    attempt_row = page.content.decode().split('class="field-started"')[1][:200]
    assert re.search(TIME, attempt_row)
    for english in ["a.m.", "p.m.", "midnight", "noon"]:
        assert english not in shown

    listing = admin.get(DELIVERIES).content.decode()
    assert re.search(r'ok-badge-retrying">retrying</span><br><small>next in (59 s|1 min)</small>', listing)
    timeline = admin.get(f"/admin/incidents/incident/{quote(incident.pk)}/change/")
    timeline_text = text_of(timeline)
    assert re.search(rf"{TIME} Triggered", timeline_text)
    assert "retrying" in timeline_text and re.search(r"1 attempt\(s\), next in (59 s|1 min)", timeline_text)


# --- 9: read-only pages, captions, redeliveries, format options, the site ---------------------------


def test_a_delivery_page_is_read_only_with_meaningful_captions(admin, receiver):
    receiver.script("/d", [502])
    endpoint = endpoint_create(name="d", url=receiver.url("/d"))
    attempt = endpoint_send_test(endpoint=endpoint)

    page = admin.get(f"{DELIVERIES}{quote(attempt.delivery_id)}/change/")

    content = page.content.decode()
    assert "<h1>View delivery</h1>" in content and "Change delivery" not in content
    assert 'name="_save"' not in content and 'name="_continue"' not in content
    assert "Attempt 1: failed, HTTP 502" in content
    assert f"{attempt.delivery_id} #1" not in content
    assert admin.post(f"{DELIVERIES}{quote(attempt.delivery_id)}/change/", {}).status_code == 403
    assert 'id="redeliver-button"' in content  # the one change allowed


def test_a_redelivery_links_to_the_delivery_it_repeats_and_back(admin, system_actor):
    endpoint = endpoint_create(name="r", url="https://hooks.example.com/in")
    incident_services.incident_create(title="T", idempotency_key="t", actor=system_actor)
    original = Delivery.objects.get(endpoint=endpoint)

    response = admin.post(f"{DELIVERIES}{quote(original.pk)}/redeliver/")
    redelivery = Delivery.objects.get(origin=Delivery.Origin.REDELIVER)

    assert redelivery.redelivery_of_id == original.pk
    page = admin.get(response["Location"]).content.decode()
    assert f'href="{DELIVERIES}{quote(original.pk)}/change/" id="redelivery-of">{original.pk}</a>' in page
    back = text_of(admin.get(f"{DELIVERIES}{quote(original.pk)}/change/"))
    assert f"redelivered as {redelivery.pk}" in back
    # The action does the same; pruning the original leaves the redelivery, unlinked.
    again = delivery_redeliver(delivery=redelivery)
    assert again.redelivery_of_id == redelivery.pk
    Delivery.objects.filter(pk=original.pk).delete()
    assert Delivery.objects.get(pk=redelivery.pk).redelivery_of_id is None


def test_incidents_are_read_only_and_cannot_be_deleted(admin, system_actor):
    incident, _ = incident_services.incident_create(title="Keep me", idempotency_key="k", actor=system_actor)
    url = f"/admin/incidents/incident/{quote(incident.pk)}/"

    page = admin.get(f"{url}change/").content.decode()
    changelist = admin.get("/admin/incidents/incident/")

    assert "<h1>View incident</h1>" in page and 'name="_save"' not in page
    assert f'href="{url}delete/"' not in page
    assert "delete_selected" not in changelist.content.decode()
    assert admin.get(f"{url}delete/").status_code == 403
    assert admin.post(f"{url}delete/", {"post": "yes"}).status_code == 403
    bulk = admin.post("/admin/incidents/incident/", {"action": "delete_selected", "_selected_action": [incident.pk]})
    assert bulk.status_code in (200, 302)
    assert incident_services.Incident.objects.filter(pk=incident.pk).exists()
    assert 'id="acknowledge-button"' in page  # changes go through the lifecycle buttons


def test_the_format_options_hint_names_what_each_format_takes(admin):
    page = admin.get(f"{ENDPOINTS}add/").content.decode()
    for name in formats.NAMES:
        assert f'<li data-format="{name}">' in page
    assert "chat_id (required), message_thread_id, disable_notification" in html.unescape(page)
    assert '{"chat_id": "-1001234567890"}' in html.unescape(page)


@pytest.mark.parametrize("name", formats.NAMES)
def test_the_hint_agrees_with_what_the_format_accepts(name):
    """The options the admin names are exactly those validate_options knows, its example passes."""
    options = formats.option_names(name)
    formats.validate_options(name, {option: value for option, value in formats.options_example(name).items()})
    with pytest.raises(OptionsError) as unknown:
        formats.validate_options(name, {"no_such_option": 1})
    known = ", ".join(sorted(option for option, _ in options)) or "none"
    assert f"known: {known})" in str(unknown.value.errors["no_such_option"])
    required = [option for option, is_required in options if is_required]
    if required:
        with pytest.raises(OptionsError) as missing:
            formats.validate_options(name, {})
        assert sorted(missing.value.errors) == sorted(required)
    else:
        formats.validate_options(name, {})


def test_the_site_is_called_opsknight_and_has_an_icon(admin, client):
    index = admin.get("/admin/").content.decode()
    assert '<a href="/admin/">OpsKnight</a>' in index and "Django administration" not in index

    icon = client.get("/favicon.ico")

    assert icon.status_code == 200 and icon["Content-Type"] == "image/vnd.microsoft.icon"
    body = icon.content
    assert body[:4] == b"\x00\x00\x01\x00"  # an ICO with one image
    assert body[22:30] == b"\x89PNG\r\n\x1a\n"  # a PNG inside, as browsers take it
    assert "max-age" in icon["Cache-Control"]


def test_the_add_page_offers_one_save_that_leads_to_the_secret(admin):
    page = admin.get(f"{ENDPOINTS}add/").content.decode()
    assert 'name="_save"' in page
    assert 'name="_addanother"' not in page and 'name="_continue"' not in page


def test_the_attempt_caption_is_readable():
    endpoint = endpoint_create(name="c", url="https://hooks.example.com/in")
    row = delivery(endpoint)
    attempt = DeliveryAttempt(delivery=row, number=2, outcome="failed", response_status=None)
    assert str(attempt) == "Attempt 2: failed, no answer"


def test_the_last_errors_cost_one_query_however_many_endpoints_fail():
    def queries(count: int) -> int:
        ids = [failing_endpoint().pk for _ in range(count)]
        with CaptureQueriesContext(connection) as captured:
            health = selectors.endpoints_health(endpoint_ids=ids)
        assert all(h.last_error == "ConnectionError: Connection refused." for h in health.values())
        return len(captured)

    assert queries(1) == queries(10) <= 4
