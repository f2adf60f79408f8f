"""An operator's round trip in a real browser: log in, create an endpoint and see its
secret once, Send Test and see the receiver's answer inline, declare an incident, follow
its delivery (a failed attempt, then the retry that succeeded), redeliver it, and
acknowledge the incident with its button. Screenshots of each page are kept."""

import re

import pytest
from django.contrib.admin.utils import quote
from django.contrib.auth import get_user_model
from playwright.sync_api import expect
from standardwebhooks import Webhook

from incidents.models import Incident
from tests.support.receiver import Reply
from tests.support.waiting import wait_until
from webhooks.endpoints import endpoint_create
from webhooks.models import Delivery, WebhookEndpoint

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

PASSWORD = "browser-test-password-1"


def log_in(page, base_url: str) -> None:
    get_user_model().objects.create_superuser("oncall", "oncall@example.com", PASSWORD)
    page.goto(f"{base_url}/admin/")
    page.fill("#id_username", "oncall")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    expect(page.locator("#user-tools")).to_contain_text("oncall")
    # Collapsed (remembered by the browser): the lists get the whole width in the screenshots.
    page.evaluate("localStorage.setItem('django.admin.navSidebarIsOpen', 'false')")


def test_operator_round_trip(browser_page, live_server, receiver, screenshot):
    page, base = browser_page, live_server.url
    # The first real attempt fails, its retry (1 s later in tests) succeeds.
    receiver.script("/itsm", [Reply(status=200, body=b'{"received": "test"}'), Reply(status=503, body=b"busy")])
    log_in(page, base)

    # --- Create an endpoint: the secret is shown once, with a copy button ----------------
    page.goto(f"{base}/admin/webhooks/webhookendpoint/add/")
    page.fill("#id_name", "ITSM bridge")
    page.fill("#id_url", receiver.url("/itsm"))
    for event_type in ["incident.triggered", "incident.acknowledged", "incident.resolved"]:
        page.check(f"input[name=event_types][value='{event_type}']")
    page.fill("#id_headers", "X-Team: sre\nAuthorization: Bearer itsm-token-123")
    page.click("input[name=_save]")

    secret = page.locator("#endpoint-secret").inner_text().strip()
    endpoint = WebhookEndpoint.objects.get(name="ITSM bridge")
    assert secret.startswith("whsec_") and secret == endpoint.secret
    assert endpoint.headers == {"X-Team": "sre", "Authorization": "Bearer itsm-token-123"}
    expect(page.locator("#copy-secret")).to_be_visible()
    page.click("#copy-secret")
    expect(page.locator(".ok-copy-status")).not_to_be_empty()
    screenshot(page, "endpoint-secret-once")
    page.click("#continue")
    expect(page.locator("#send-test")).to_be_visible()
    assert secret not in page.content()
    assert "itsm-token-123" not in page.content()  # the credential header shows redacted

    # --- Send Test with a chosen event type: the receiver's answer inline ---------------
    page.select_option("#id_test_event_type", "incident.resolved")
    page.click("#send-test-button")
    outcome = page.locator("#test-outcome")
    expect(outcome).to_contain_text("HTTP 200")
    expect(outcome).to_contain_text("incident.resolved")
    expect(outcome).to_contain_text('{"received": "test"}')
    (test_request,) = receiver.wait_for(1, "/itsm")
    assert test_request.header("X-OpsKnight-Event") == "incident.resolved"
    assert test_request.header("X-Team") == "sre"
    assert test_request.header("Authorization") == "Bearer itsm-token-123"
    Webhook(secret).verify(test_request.body, test_request.headers)

    # A second receiver that is down: its delivery fails every attempt (retries 1, 2, 3 s).
    receiver.script("/chat", [500] * 4)
    chat = endpoint_create(name="Chat bot", url=receiver.url("/chat"), event_types=["incident.triggered"])

    # --- Declare an incident in the admin: the worker delivers it ----------------------
    page.goto(f"{base}/admin/incidents/incident/add/")
    page.fill("#id_title", "Checkout API 5xx above 5%")
    page.select_option("#id_severity", "critical")
    page.click("input[name=_save]")
    incident = wait_until(lambda: Incident.objects.filter(title="Checkout API 5xx above 5%").first())
    delivery = Delivery.objects.get(endpoint=endpoint, event__incident=incident)
    wait_until(lambda: Delivery.objects.get(pk=delivery.pk).status == Delivery.Status.SUCCEEDED)
    wait_until(lambda: Delivery.objects.get(endpoint=chat).status == Delivery.Status.FAILED)
    assert len(receiver.received("/chat")) == 4
    triggered = receiver.wait_for(3, "/itsm")[1:]
    assert [r.header("X-OpsKnight-Event") for r in triggered] == ["incident.triggered"] * 2

    # --- The incident page: its timeline shows the delivery ----------------------------
    page.goto(f"{base}/admin/incidents/incident/{incident.pk}/change/")
    timeline_link = page.get_by_role("link", name="ITSM bridge")
    expect(timeline_link).to_be_visible()

    # --- The delivery: the request and both attempts -----------------------------------
    timeline_link.click()
    expect(page.locator("h1, #content h2").first).to_be_visible()
    body = page.content()
    assert delivery.id in body and "X-OpsKnight-Signature" in body
    assert "[redacted]" in body and "itsm-token-123" not in body
    attempts = page.locator(".inline-related tbody tr.form-row, .inline-related tbody tr:has(td)")
    expect(page.locator("text=HTTP 503")).to_be_visible()
    expect(page.locator("text=HTTP 200")).to_be_visible()
    assert attempts.count() >= 2
    screenshot(page, "delivery-detail", full_page=True)

    # --- Redeliver it: a new delivery of the same event, sent by the worker -----------
    page.click("#redeliver-button")
    expect(page.locator(".messagelist")).to_contain_text("Queued dlv_")
    redelivery = Delivery.objects.get(origin=Delivery.Origin.REDELIVER)
    assert redelivery.event_id == delivery.event_id and page.url.endswith(f"/{quote(redelivery.pk)}/change/")
    wait_until(lambda: Delivery.objects.get(pk=redelivery.pk).status == Delivery.Status.SUCCEEDED)
    again = receiver.wait_for(4, "/itsm")[3]
    assert again.header("webhook-id") == delivery.event_id
    assert again.header("X-OpsKnight-Delivery") == redelivery.pk

    # --- Lifecycle button on the incident page -----------------------------------------
    page.goto(f"{base}/admin/incidents/incident/{incident.pk}/change/")
    expect(page.locator("#escalate-button")).to_be_visible()
    expect(page.locator("#reopen-button")).to_have_count(0)  # not allowed from triggered
    page.click("#acknowledge-button")
    expect(page.locator(".messagelist")).to_contain_text("Applied acknowledge")
    assert Incident.objects.get(pk=incident.pk).status == Incident.Status.ACKNOWLEDGED
    wait_until(lambda: len(receiver.received("/itsm")) >= 5)
    wait_until(lambda: not Delivery.objects.filter(endpoint=endpoint, status=Delivery.Status.PENDING).exists())
    page.reload()
    expect(page.get_by_role("link", name="ITSM bridge")).to_have_count(3)  # triggered, its redelivery, ack
    expect(page.locator("#resolve-button")).to_be_visible()
    screenshot(page, "incident-timeline", full_page=True)

    # --- Lists and the endpoint page with health, chart and a Send Test outcome -------
    page.goto(f"{base}/admin/webhooks/delivery/")
    expect(page.locator("#result_list")).to_contain_text(redelivery.pk)
    page.fill("#searchbar", incident.pk)
    page.press("#searchbar", "Enter")
    expect(page.locator("#result_list tbody tr")).to_have_count(4)  # ITSM: 2 and a redelivery; chat: 1
    page.goto(f"{base}/admin/webhooks/delivery/")
    page.set_viewport_size({"width": 1440, "height": 800})  # every column of the list in view
    screenshot(page, "deliveries-list")
    page.set_viewport_size({"width": 1280, "height": 800})

    page.goto(f"{base}/admin/webhooks/webhookendpoint/")
    row = page.locator("#result_list tbody tr", has_text="ITSM bridge")
    expect(row).to_contain_text("100% of 3")
    expect(page.locator("#result_list tbody tr", has_text="Chat bot")).to_contain_text("0% of 1")
    expect(row.locator(".field-duration_24h")).to_contain_text(re.compile(r"\d+ ms / \d+ ms"))
    screenshot(page, "endpoints-list")

    page.click("text=ITSM bridge")
    expect(page.locator("#health")).to_contain_text("100% of 3")
    assert page.locator("#health svg.deliveries-chart rect.bar-succeeded").count() >= 1
    page.select_option("#id_test_event_type", "incident.triggered")
    page.click("#send-test-button")
    expect(page.locator("#test-outcome")).to_contain_text("HTTP 200")
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "endpoint-change", full_page=True)
