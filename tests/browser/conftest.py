"""Browser fixtures: Playwright drives Debian's Chromium (never a downloaded browser) against the session's stack.

The stack is the session `stack` fixture of tests/conftest.py (the real runner in memory). The demo workspace is
seeded into it once; live-update tests run the stream pump in the background while they need it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.pages import CHROMIUM_FLAGS, Demo, chromium_path

REPO_ROOT = Path(__file__).resolve().parents[2]
DIST = REPO_ROOT / "frontend" / "dist"


@pytest.fixture(scope="session")
def built_frontend() -> Path:
    missing = [name for name in ("index.html", "simulator/index.html", "widget.js") if not (DIST / name).is_file()]
    if missing:
        pytest.fail(f"the frontend is not built ({', '.join(missing)} missing): run `make frontend` first")
    return DIST


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=20_000)  # two shared cores: the stream and Chromium compete for them

    executable = chromium_path()
    if not os.access(executable, os.X_OK):
        pytest.fail(f"no Chromium at {executable}: `make test` installs Debian's chromium package")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS, headless=True)
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def demo(stack: Any, built_frontend: Path) -> Demo:
    """The demo workspace (every demo channel on its fake provider) and an admin key for it."""
    from chalicelib.auth.keys import create_api_key
    from chalicelib.local import demo as demo_seed
    from chalicelib.services.deps import deps

    d = deps()
    demo_seed.seed(d, stack.fakes)
    key = create_api_key(demo_seed.WORKSPACE, "admin", name="browser tests", now=d.now())
    return Demo(stack=stack, key=key, telegram=demo_seed.TELEGRAM_CHANNEL)


@pytest.fixture
def live(stack: Any) -> Iterator[Any]:
    """The stream pump runs in the background (as in `make run`) for the length of one test."""
    stack.pump.start()
    yield stack
    stack.pump.stop()
    stack.pump.drain(timeout=30)


@pytest.fixture
def page(browser: Any, demo: Demo) -> Iterator[Any]:
    """A fresh browser context (empty localStorage) in English; dialogs and page errors are recorded."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US")
    opened = context.new_page()
    opened.dialogs = []
    opened.errors = []
    opened.on("dialog", lambda dialog: (opened.dialogs.append(dialog.message), dialog.dismiss()))
    opened.on("pageerror", lambda error: opened.errors.append(str(error)))
    opened.set_default_timeout(10_000)
    yield opened
    context.close()
    assert opened.errors == [], f"the page threw: {opened.errors}"
