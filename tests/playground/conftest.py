"""A playground server on 127.0.0.1 (a free port) in a thread, and headless Chromium.

Playwright's own browser download does not work on these machines: Debian's ``chromium``
is launched by path.  Outside CI a missing chromium or playwright skips the browser tests;
under CI (CHAINRULE_CI=1, set by .ci/run) it fails them."""

import os
import shutil
import socket
import threading
import time

import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

from chainrule.playground.app import server

IN_CI = os.environ.get("CHAINRULE_CI") == "1"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def playground():
    """The server's address; it is shut down after the tests (bounded waits)."""
    port = free_port()
    running = server("127.0.0.1", port)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not running.started:
        assert time.monotonic() < deadline, "the playground server did not start in 15 s"
        assert thread.is_alive(), "the playground server stopped while starting"
        time.sleep(0.05)
    yield f"127.0.0.1:{port}"
    running.should_exit = True
    thread.join(timeout=10)
    assert not thread.is_alive(), "the playground server did not stop in 10 s"


def _missing(what: str):
    if IN_CI:
        pytest.fail(f"{what} is missing under CI (CHAINRULE_CI=1)")
    pytest.skip(f"{what} is not installed")


@pytest.fixture(scope="session")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("the playwright package")
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        _missing("chromium (apt-get install chromium)")
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def page(browser, playground, tmp_path):
    """A fresh tab on the playground; console errors and page errors collected in
    ``page.errors``; screenshots go to tmp_path."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    tab.errors = []
    tab.on("console", lambda m: tab.errors.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda e: tab.errors.append(str(e)))
    tab.goto(f"http://{playground}/")
    tab.wait_for_function("document.querySelector('#steps') && window.__ready === true")
    yield tab
    context.close()
