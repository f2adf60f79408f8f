"""Browser tests: Playwright (Python) driving Debian's Chromium (/usr/bin/chromium, no
browser download) against pytest-django's live server, with the real Celery cluster and
receiver of tests/e2e. Screenshots go to test-artifacts/browser/; with
UPDATE_DOCS_SCREENSHOTS=1 they are also copied to docs/img/ for docs/admin.md."""

import os
import shutil
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.db import connections
from playwright.sync_api import expect

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
DOCS_IMG = ROOT / "docs" / "img"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
# No network of its own: no updates, no sync, no QUIC probing; loopback only.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
# The size issue 15 was found at: every page must read well here, without sideways scrolling.
VIEWPORT = {"width": 1440, "height": 900}


PASSWORD = "browser-test-password-1"


def log_in(page, base_url: str, *, sidebar: bool = False) -> None:
    """A superuser, logged in. The navigation sidebar is remembered by the browser: closed,
    the lists get the whole width in the screenshots; open (the default a new operator
    sees), the lists must still fit."""
    get_user_model().objects.create_superuser("oncall", "oncall@example.com", PASSWORD)
    page.goto(f"{base_url}/admin/")
    page.fill("#id_username", "oncall")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    expect(page.locator("#user-tools")).to_contain_text("oncall")
    page.evaluate(f"localStorage.setItem('django.admin.navSidebarIsOpen', '{str(sidebar).lower()}')")


@pytest.fixture
def browser_page(e2e, live_server, tmp_path, monkeypatch):
    """A fresh Chromium profile and one page, with the live server and the worker sharing
    the test database (e2e: transactional, visible to the worker)."""
    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} is missing: `apt-get install chromium` (make test and .ci/run do it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in this thread; the ORM calls the test
    # makes between browser steps are still plain synchronous code.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport=VIEWPORT,
        )
        context.set_default_timeout(15_000)
        page = context.pages[0] if context.pages else context.new_page()
        try:
            yield page
        finally:
            context.close()
            # ORM calls made while Playwright's loop runs get their own connections (Django
            # keeps them per async context): close them here, or the test database cannot
            # be dropped at the end of the session.
            connections.close_all()


@pytest.fixture
def screenshot():
    """screenshot(page, "name"): saves test-artifacts/browser/name.png (and docs/img/name.png
    with UPDATE_DOCS_SCREENSHOTS=1)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def take(page, name: str, *, full_page: bool = False) -> Path:
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        if os.environ.get("UPDATE_DOCS_SCREENSHOTS"):
            DOCS_IMG.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, DOCS_IMG / f"{name}.png")
        return path

    return take


# How wide a list is against the window: the page, the list's scrolling box, each column.
MEASURE_LIST = """() => {
  const results = document.querySelector('#changelist .results');
  const right = results.getBoundingClientRect().right;
  return {
    pageWidth: document.documentElement.scrollWidth, windowWidth: window.innerWidth,
    listWidth: results.scrollWidth, boxWidth: results.clientWidth,
    columns: [...document.querySelectorAll('#result_list thead th')].map(th => ({
      name: th.innerText.trim() || th.className, right: th.getBoundingClientRect().right, boxRight: right,
    })),
  };
}"""


def assert_list_fits(page, *, key_columns: list[str]) -> None:
    """No sideways scrolling, of the page or of the list, and every column (the key ones
    named) inside the window."""
    size = page.evaluate(MEASURE_LIST)
    assert size["pageWidth"] <= size["windowWidth"], size
    assert size["listWidth"] <= size["boxWidth"], size
    names = [column["name"].lower() for column in size["columns"]]
    for key in key_columns:
        assert any(key in name for name in names), (key, names)
    for column in size["columns"]:
        assert column["right"] <= min(column["boxRight"] + 1, size["windowWidth"]), (column, size)
