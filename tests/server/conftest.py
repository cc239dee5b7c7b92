"""Fixtures of the server tests: one real ``stowflow server start`` per module, one
headless Chromium (Debian's ``chromium``, driven by Playwright) per session, and a capture
of every response the browser received, to grep for planted secrets."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from stowflow.db import dispose_engines
from stowflow.testing.servers.web import StowflowServer, start_stowflow_server

CHROMIUM = os.environ.get("STOWFLOW_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
#: Where screenshots go (the README's two come from here): STOWFLOW_TEST_ARTIFACTS or
#: ``artifacts/`` at the repository root.
ARTIFACTS = Path(os.environ.get("STOWFLOW_TEST_ARTIFACTS",
                                Path(__file__).resolve().parents[2] / "artifacts"))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StowflowServer]:
    """A server over its own STOWFLOW_HOME (SQLite) for the whole module."""
    home = tmp_path_factory.mktemp("server-home")
    started = start_stowflow_server(home)
    yield started
    started.stop()


@pytest.fixture
def on_server(server: StowflowServer, stowflow_home: Path,
              monkeypatch: pytest.MonkeyPatch) -> Iterator[StowflowServer]:
    """Point this test's library calls (blocks, runs...) at the server's database."""
    monkeypatch.setenv("STOWFLOW_HOME", str(server.home))
    dispose_engines()
    yield server
    dispose_engines()


@pytest.fixture
def http(server: StowflowServer) -> Iterator[httpx.Client]:
    """An HTTP client for the module's server (no redirects followed)."""
    with httpx.Client(base_url=server.url, timeout=30) as client:
        yield client


class Capture:
    """Every response body and header the browser received, as text."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def record(self, response: object) -> None:
        """The page's ``response`` handler."""
        self.texts.append(f"{response.url} {response.status} {response.headers}")  # type: ignore[attr-defined]
        with contextlib.suppress(Exception):  # redirects have no body
            self.texts.append(response.body().decode(errors="replace"))  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Headless Chromium from Debian's package (never a downloaded browser)."""
    if not shutil.which(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (the noxfile does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def capture() -> Capture:
    """The module's capture of browser responses."""
    return Capture()


@pytest.fixture
def page(browser: object, capture: Capture) -> Iterator[object]:
    """A fresh browser context and page; every response is captured, dialogs are failures."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})  # type: ignore[attr-defined]
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.on("response", capture.record)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    yield page
    context.close()
    assert not dialogs, f"a page opened a dialog (script ran): {dialogs}"


@pytest.fixture(scope="session")
def screenshot() -> object:
    """Return ``shoot(page, name)``: a full-page screenshot to ARTIFACTS/screenshots/NAME.png."""

    def shoot(page: object, name: str) -> Path:
        path = ARTIFACTS / "screenshots" / f"{name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]
        return path

    return shoot
