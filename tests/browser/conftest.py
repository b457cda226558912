"""Fixtures for tests that drive Debian's Chromium through Playwright against `live_server`.

No browser is ever downloaded: we launch the system `chromium`. Where it is missing the
browser tests skip, unless PIXDASH_REQUIRE_BROWSER=1 (set it in CI) turns that into a
failure, so a broken image cannot silently drop the only end-to-end coverage we have.
"""

import os
import shutil
import threading
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connections
from django.test import Client
from playwright.sync_api import sync_playwright

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
DESKTOP = {"width": 1280, "height": 860}


def _unavailable(reason: str) -> None:
    if os.environ.get("PIXDASH_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason}, and PIXDASH_REQUIRE_BROWSER=1 requires the browser tests")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = shutil.which("chromium")
    if path is None:
        _unavailable("Debian's chromium is not installed (apt-get install chromium)")
    return path


@pytest.fixture(scope="module")
def browser(chromium_path):
    # Playwright's sync API drives the browser from an asyncio event loop that it registers
    # as the running loop of the main thread until sync_playwright() exits. Django's
    # async-safety guard sees that loop and would raise SynchronousOnlyOperation on every
    # ORM call made in the main thread meanwhile: the test's own checks between browser
    # steps and the database flush after each test. Those are still plain blocking calls:
    # nothing runs on the loop concurrently with them, and the live server answers requests
    # in its own threads, so the guard can safely be off.
    #
    # It is off only while the browser is up (module scope, restored on exit), not set
    # process-wide: the tests/e2e processes inherit os.environ, and the real ASGI server
    # must keep the guard that catches ORM calls from async code.
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = playwright.chromium.launch(
            executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser) -> Iterator[Callable]:
    """Open a page in a fresh browser context (its own cookies, so its own session).

    Uncaught JavaScript errors on any page fail the test at teardown.
    """
    contexts, errors = [], []

    def open_page(**context_options):
        context = browser.new_context(**{"viewport": DESKTOP, **context_options})
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(f"{page.url}: {error}"))
        return page

    yield open_page
    for context in contexts:
        context.close()
    assert not errors, "JavaScript errors on the page:\n" + "\n".join(errors)


@pytest.fixture
def page(new_page):
    return new_page()


@pytest.fixture
def log_in(live_server) -> Callable:
    """Hand a page's browser a session cookie for ``user`` (the login form has its own
    browser tests), then open ``path``."""

    def log_in(page, user, path: str = "/"):
        client = Client()
        client.force_login(user)
        cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
        page.context.add_cookies(
            [{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}]
        )
        page.goto(f"{live_server.url}{path}")
        return page

    return log_in


def _in_a_thread(work: Callable):
    """Run ``work`` on a fresh thread: Playwright's loop is the main thread's running loop,
    and the pipeline's async steps (async_to_sync) refuse to run under one."""
    result: list = []

    def run():
        try:
            result.append(work())
        finally:
            # The thread's own database connection goes back (to PostgreSQL's pool).
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    assert result, "the work raised; see the thread's traceback above"
    return result[0]


@pytest.fixture
def make_images(transactional_db) -> Callable:
    """Run a job through the real pipeline, as if from the browser, and return its
    images. Models render offline here (demo mode): small sizes keep it fast."""
    from asgiref.sync import async_to_sync

    from generator import jobs
    from generator.models import Source

    def make(
        user,
        team,
        *,
        prompt="A lighthouse at dusk",
        n=1,
        size="256x256",
        model="local-preview",
        **spec,
    ):
        def work():
            submission = jobs.submit(
                team=team,
                spec=jobs.GenerationSpec(model=model, prompt=prompt, n=n, size=size, **spec),
                source=Source.UI,
                is_async=False,
                user=user,
            )
            async_to_sync(jobs.run_now)(submission)
            generation = submission.generation
            return list(generation.outputs.order_by("index"))

        return _in_a_thread(work)

    return make


@pytest.fixture
def dana(transactional_db):
    """A designer with 50 credits in her own team, as after signing up and topping up."""
    from billing import ledger
    from pixdash.accounts.teams import sign_up
    from tests.conftest import PASSWORD

    user = sign_up(email="dana@example.test", password=PASSWORD, name="Dana")
    ledger.credit(team=user.current_team, amount=Decimal("50"), reason="browser test")
    return user


@pytest.fixture
def screenshot() -> Callable:
    """Save a full-page screenshot to test-artifacts/screenshots/<name>.png for review."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def save(page, name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return save
