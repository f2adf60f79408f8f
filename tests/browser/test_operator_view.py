"""What a new operator reads at 1440 × 900 with the navigation sidebar open (issue 15), with a
healthy receiver, one answering 500 and one that refuses connections: the three lists fit
without sideways scrolling, the failing endpoints say so (since when, the last error), a
figure's link lists the rows it counts, long header values wrap, the event types sit in
columns, the format options hint follows the chosen format, read-only pages offer no Save
or Delete, and the site has its name and icon."""

import re

import pytest
from django.contrib.admin.utils import quote
from playwright.sync_api import expect

from incidents import services as incident_services
from incidents.actors import Actor
from tests.browser.conftest import assert_list_fits, log_in
from tests.support.receiver import free_port
from tests.support.waiting import wait_until
from webhooks.actions import endpoint_send_test
from webhooks.endpoints import endpoint_create
from webhooks.models import Delivery, WebhookEndpoint

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

LONG_VALUE = "00-" + "4bf92f3577b34da6a3ce929d0e0e4736" * 12 + "-00f067aa0ba902b7-01"


def rows(page) -> int:
    return page.locator("#result_list tbody tr").count()


def test_what_an_operator_reads_at_1440(browser_page, live_server, receiver, screenshot):
    page, base = browser_page, live_server.url
    receiver.script("/status", [500] * 20)
    ok = endpoint_create(name="ITSM bridge", url=receiver.url("/itsm"), headers={"X-Trace-Context": LONG_VALUE})
    broken = endpoint_create(name="Status page", url=receiver.url("/status"))
    dead = endpoint_create(name="Dead receiver", url=f"http://127.0.0.1:{free_port()}/hooks/opsknight")
    actor = Actor.system("monitoring")
    for n in range(3):
        incident_services.incident_create(
            title=f"Checkout API 5xx above 5% in eu-west-{n} for the last ten minutes", severity="critical",
            idempotency_key=f"view-{n}", actor=actor,
        )  # fmt: skip
    endpoint_send_test(endpoint=broken)  # a failed Send Test: no figure counts it
    # Three attempts fail in a row for the broken and the dead receiver (retries after 1, 2, 3 s).
    wait_until(
        lambda: Delivery.objects.filter(endpoint__in=[broken, dead], status="failed", is_test=False).count() == 6
    )
    wait_until(lambda: Delivery.objects.filter(endpoint=ok, status="succeeded").count() == 3)
    log_in(page, base, sidebar=True)

    # --- 4: the lists fit, the sidebar open -----------------------------------------------
    page.goto(f"{base}/admin/webhooks/webhookendpoint/")
    expect(page.locator("#nav-sidebar")).to_be_visible()
    assert_list_fits(page, key_columns=["pending / failed", "state", "last delivery"])
    # --- 2: the failing endpoints say so; the healthy one does not ------------------------
    dead_state = page.locator("#result_list tbody tr", has_text="Dead receiver").locator(".field-state")
    expect(dead_state).to_contain_text(re.compile(r"failing since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC"))
    expect(dead_state).to_contain_text("Connection refused")
    broken_row = page.locator("#result_list tbody tr", has_text="Status page")
    expect(broken_row.locator(".field-state")).to_contain_text("HTTP 500")
    expect(page.locator("#result_list tbody tr", has_text="ITSM bridge").locator(".field-state")).to_have_text("active")
    screenshot(page, "endpoints-failing")

    # --- 5: a figure and its link: the same rows (the failed Send Test in neither) ---------
    failed_figure = broken_row.locator(".field-pending_failed a").nth(1)
    expect(failed_figure).to_have_text("3")
    failed_figure.click()
    expect(page.locator("#result_list tbody tr")).to_have_count(3)
    assert_list_fits(page, key_columns=["attempts", "last http", "created"])
    page.goto(f"{base}/admin/webhooks/webhookendpoint/{quote(dead.pk)}/change/")
    expect(page.locator("#endpoint-state")).to_contain_text("failing since")
    expect(page.locator("#last-error")).to_contain_text("Connection refused")
    screenshot(page, "endpoint-failing")
    count = int(page.locator("#failed-24h-link").inner_text())
    page.click("#failed-24h-link")
    # Waits for the list (a bare count right after the click could still read the old page).
    expect(page.locator("#result_list tbody tr")).to_have_count(count)
    assert count == rows(page) == 3
    # --- 1: the Deliveries button of an endpoint lists its deliveries ----------------------
    page.goto(f"{base}/admin/webhooks/webhookendpoint/{quote(broken.pk)}/change/")
    page.locator(".object-tools").get_by_role("link", name="Deliveries").click()
    expect(page.locator("#result_list tbody tr")).to_have_count(4)  # three real, one Send Test

    page.goto(f"{base}/admin/incidents/incident/")
    assert_list_fits(page, key_columns=["reference", "title", "status", "declared"])
    expect(page.locator("select[name=action] option[value=delete_selected]")).to_have_count(0)

    # --- 9: a read-only delivery page; a long header value wraps in its table -------------
    delivery = Delivery.objects.filter(endpoint=ok).first()
    page.goto(f"{base}/admin/webhooks/delivery/{quote(delivery.pk)}/change/")
    expect(page.locator("h1")).to_have_text("View delivery")
    expect(page.locator("input[name=_save]")).to_have_count(0)
    expect(page.locator(".ok-headers").first).to_contain_text(LONG_VALUE[:40])
    fits = page.evaluate(
        """() => [...document.querySelectorAll('.ok-headers')].every(t => t.getBoundingClientRect().right
             <= t.closest('.readonly, td').getBoundingClientRect().right + 1)
           && document.documentElement.scrollWidth <= innerWidth"""
    )
    assert fits
    page.goto(f"{base}/admin/incidents/incident/{quote(delivery.event.incident_id)}/change/")
    expect(page.locator("h1")).to_have_text("View incident")
    expect(page.locator("a.deletelink")).to_have_count(0)
    expect(page.locator("input[name=_save]")).to_have_count(0)

    # --- 9: event types in columns; the options hint of the chosen format ------------------
    page.goto(f"{base}/admin/webhooks/webhookendpoint/add/")
    lefts = page.evaluate(
        "() => [...document.querySelectorAll('input[name=event_types]')]"
        ".map(box => Math.round(box.getBoundingClientRect().left))"
    )
    assert len(set(lefts)) >= 2, lefts  # side by side, not one narrow column
    assert page.evaluate("document.documentElement.scrollWidth <= innerWidth")
    expect(page.locator(".ok-format-options li[data-format=opsknight]")).to_be_visible()
    page.select_option("#id_format", "telegram")
    expect(page.locator(".ok-format-options li[data-format=telegram]")).to_contain_text("chat_id (required)")
    expect(page.locator(".ok-format-options li[data-format=opsknight]")).to_be_hidden()
    screenshot(page, "endpoint-add", full_page=True)

    # --- 9: the site's name and icon -------------------------------------------------------
    expect(page.locator("#site-name")).to_have_text("OpsKnight")
    icon = page.request.get(f"{base}/favicon.ico")
    assert icon.status == 200 and icon.headers["content-type"] == "image/vnd.microsoft.icon"
    assert WebhookEndpoint.objects.count() == 3  # nothing here created or changed an endpoint
