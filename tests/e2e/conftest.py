"""Browser tests: Debian's Chromium driven by Playwright against pytest-django's live server.

Skipped, with the reason, only when /usr/bin/chromium is missing (`make browser` installs it).
Every page opened through the `page` fixture records console errors and uncaught exceptions
(a CSP violation is a console error), so a test can assert there are none.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.demo_pages import demo, demo_with_data  # noqa: F401 - fixtures of the e2e tests

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="session")
def browser() -> Iterator:
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium (make browser)")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop; Django refuses ORM calls from inside one unless
    # told that this thread is safe (the live server has its own thread).
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser) -> Iterator:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    page = context.new_page()
    page.console_errors = []  # type: ignore[attr-defined]

    def on_console(message) -> None:
        if message.type == "error":
            where = message.location or {}
            page.console_errors.append(  # type: ignore[attr-defined]
                f"{message.text} (at {where.get('url')}:{where.get('lineNumber')})"
            )

    page.on("console", on_console)
    page.on("pageerror", lambda error: page.console_errors.append(str(error)))  # type: ignore[attr-defined]
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.fixture
def site_url(live_server) -> str:
    """The live server's URL. On SQLite every request thread of the live server shares the
    test's one in-memory connection, which can't serve two requests at once (the browser sends
    several: uploads in parallel, chart data): there, requests are served one at a time. On
    PostgreSQL each thread has its own connection and nothing changes."""
    from django.db import connections

    if any(c.vendor == "sqlite" and c.is_in_memory_db() for c in connections.all()):
        httpd = live_server.thread.httpd
        app = httpd.get_app()
        if not getattr(app, "one_at_a_time", False):
            lock = threading.Lock()

            def one_at_a_time(environ, start_response):
                with lock:
                    return app(environ, start_response)

            one_at_a_time.one_at_a_time = True  # type: ignore[attr-defined]
            httpd.set_app(one_at_a_time)
    return live_server.url


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def sign_in():
    """Sign in through the real form: sign_in(page, live_server.url, email, password)."""

    def sign_in(page, base_url: str, email: str, password: str) -> None:
        page.goto(f"{base_url}/accounts/login/")
        page.fill("input[name=username]", email)
        page.fill("input[name=password]", password)
        page.click("main button[type=submit]")
        page.wait_for_url(lambda url: "/accounts/login/" not in url)

    return sign_in


@pytest.fixture
def sandbox(settings, tmp_path, live_server) -> Iterator[None]:
    """The four emulators, fresh, with the live server as the portal's address (Spark delivers
    webhooks to PUBLIC_BASE_URL + the receiver's path); waits for Spark's deliveries after."""
    from integrations.clients import forget_clients
    from integrations.sandbox import registry

    settings.DATA_DIR = tmp_path
    settings.PUBLIC_BASE_URL = live_server.url
    registry.reset_all()
    forget_clients()
    yield
    registry.emulator("spark").wait_for_deliveries(timeout_s=10)
    registry.reset_all()
    forget_clients()
