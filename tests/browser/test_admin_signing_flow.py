"""An operator sets up an endpoint that signs with ed25519, in a real browser: the Signing
select, the public key with its Copy button (on the page after Save and on the endpoint's
page, where copy.js runs), Send Test verified with the public key alone, and Rotate key pair."""

import pytest
from playwright.sync_api import expect

from tests.browser.test_admin_flow import log_in
from tests.support.receiver import Reply
from tests.support.standard_webhooks_v1a import AsymmetricWebhook
from webhooks.models import WebhookEndpoint

pytestmark = [pytest.mark.browser, pytest.mark.e2e]


def test_operator_sets_up_an_ed25519_endpoint(browser_page, live_server, receiver):
    page, base = browser_page, live_server.url
    receiver.script("/pk", [Reply(status=204, body=b"")])
    log_in(page, base)

    page.goto(f"{base}/admin/webhooks/webhookendpoint/add/")
    page.fill("#id_name", "Public-key receiver")
    page.fill("#id_url", receiver.url("/pk"))
    page.select_option("#id_signing", "ed25519")
    page.click("input[name=_save]")

    endpoint = WebhookEndpoint.objects.get(name="Public-key receiver")
    public_key = page.locator("#endpoint-public-key").inner_text().strip()
    assert public_key == endpoint.public_key and public_key.startswith("whpk_")
    assert endpoint.secret == "" and page.locator("#endpoint-secret").count() == 0
    page.click("#copy-public-key")
    expect(page.locator(".ok-copy-status")).not_to_be_empty()
    page.click("#continue")

    # The endpoint's page: the key under the settings, with a working Copy button.
    expect(page.locator("#no-secret")).to_be_visible()
    expect(page.locator("#endpoint-public-key")).to_have_text(public_key)
    page.click("#copy-public-key")
    expect(page.locator(".field-public_key_copy .ok-copy-status")).not_to_be_empty()
    assert "whsk_" not in page.content()

    page.click("#send-test-button")
    expect(page.locator("#test-outcome")).to_contain_text("HTTP 204")
    (request,) = receiver.wait_for(1, "/pk")
    assert request.header("X-OpsKnight-Signature") is None
    assert AsymmetricWebhook(public_key).verify(request.body, request.headers)["incident"]["id"].startswith("inc_TEST")

    page.click("#rotate-key-button")
    endpoint.refresh_from_db()
    expect(page.locator("ul.messagelist")).to_contain_text(endpoint.public_key)
    expect(page.locator("#endpoint-public-key")).to_have_text(endpoint.public_key)
    assert endpoint.previous_public_key == public_key
