"""Fixtures for the app tests: the app on a free loopback port, a client, a browser."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # before gradio is imported anywhere

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # app.py lives at the project root

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]


def _free_port() -> int:
    """A TCP port nothing listens on at the moment, on the loopback interface."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def free_port() -> int:
    """A free loopback port, for a server a test starts itself."""
    return _free_port()


@pytest.fixture(scope="session")
def classifier():
    """The bundled model, loaded once."""
    from digitrec import load_model

    return load_model()


@pytest.fixture(scope="session")
def corrections_dir(tmp_path_factory):
    """Where the session's app stores corrections."""
    return tmp_path_factory.mktemp("corrections")


@pytest.fixture(scope="session")
def app_url(classifier, corrections_dir):
    """URL of the app serving the bundled model, launched once for the session."""
    from app import PAGE_CSS, build_app
    from digitrec.settings import Settings

    demo = build_app(classifier, Settings(corrections_dir=corrections_dir))
    _, url, _ = demo.launch(  # with the page's CSS, as app.launch serves it (Gradio 6 takes it here)
        prevent_thread_lock=True, server_name="127.0.0.1", server_port=_free_port(), quiet=True, css=PAGE_CSS,
    )
    yield url
    demo.close()


@pytest.fixture(scope="session")
def client(app_url):
    """A gradio_client connected to the app."""
    from gradio_client import Client

    return Client(app_url, verbose=False)


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium driven by Playwright; skipped when /usr/bin/chromium is absent."""
    if not CHROMIUM.exists():
        pytest.skip(f"browser tests need Chromium at {CHROMIUM}, which is absent")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    """A fresh page, desktop-sized."""
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()
