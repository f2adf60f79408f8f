"""An operator's round trip in a real browser at 1440 × 900: log in, create an endpoint and
see its secret once (a reload neither shows it again nor creates a second endpoint),
Send Test and see the receiver's answer inline, declare an incident, follow its delivery
(a failed attempt, then the retry that succeeded), redeliver it, acknowledge the incident
with its button, and rotate the secret after a confirmation (a reload does not rotate
again). Screenshots of each page are kept."""

import re

import pytest
from django.contrib.admin.utils import quote
from playwright.sync_api import expect
from standardwebhooks import Webhook

from incidents.models import Incident
from tests.browser.conftest import assert_list_fits, log_in
from tests.support.receiver import Reply
from tests.support.waiting import wait_until
from webhooks.endpoints import endpoint_create
from webhooks.models import Delivery, WebhookEndpoint

pytestmark = [pytest.mark.browser, pytest.mark.e2e]


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
    # A reload (POST/redirect/GET: it is a GET) creates no second endpoint and shows no secret.
    page.reload()
    expect(page.locator("#secret-already-shown")).to_be_visible()
    assert secret not in page.content()
    assert WebhookEndpoint.objects.count() == 1
    page.goto(f"{base}/admin/webhooks/webhookendpoint/{quote(endpoint.pk)}/change/")
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
    expect(page.locator(".field-result", has_text="HTTP 503")).to_be_visible()
    expect(page.locator(".field-result", has_text="HTTP 200")).to_be_visible()
    expect(page.locator(".inline-related")).to_contain_text("Attempt 1: failed, HTTP 503")  # a caption, not "dlv_…#1"
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
    assert_list_fits(page, key_columns=["attempts", "last http", "created"])
    screenshot(page, "deliveries-list")

    page.goto(f"{base}/admin/webhooks/webhookendpoint/")
    row = page.locator("#result_list tbody tr", has_text="ITSM bridge")
    expect(row).to_contain_text("100% of 3")
    chat_row = page.locator("#result_list tbody tr", has_text="Chat bot")
    expect(chat_row).to_contain_text("0% of 1")
    expect(chat_row.locator(".field-state")).to_contain_text(re.compile(r"failing since .* UTC"))
    expect(chat_row.locator(".field-state")).to_contain_text("HTTP 500")
    expect(row.locator(".field-health_24h")).to_contain_text(re.compile(r"\d+ ms / \d+ ms"))
    assert_list_fits(page, key_columns=["pending / failed"])
    screenshot(page, "endpoints-list")

    page.click("text=ITSM bridge")
    expect(page.locator("#health")).to_contain_text("100% of 3")
    assert page.locator("#health svg.deliveries-chart rect.bar-succeeded").count() >= 1
    page.select_option("#id_test_event_type", "incident.triggered")
    page.click("#send-test-button")
    expect(page.locator("#test-outcome")).to_contain_text("HTTP 200")
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "endpoint-change", full_page=True)

    # --- Rotate the secret: a question first, the new secret once, a reload rotates nothing
    page.click("#rotate-secret-button")
    expect(page.locator("#rotation-effects")).to_contain_text("X-OpsKnight-Signature switches to the new secret")
    expect(page.locator("#rotation-effects")).to_contain_text("webhook-signature carries both")
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).secret == secret  # only asked so far
    screenshot(page, "endpoint-rotate")
    page.click("#confirm-rotate")
    rotated = page.locator("#endpoint-secret").inner_text().strip()
    stored = WebhookEndpoint.objects.get(pk=endpoint.pk)
    assert rotated != secret and (stored.secret, stored.previous_secret) == (rotated, secret)
    page.reload()
    expect(page.locator("#secret-already-shown")).to_be_visible()
    assert rotated not in page.content()
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).secret == rotated  # not rotated again
