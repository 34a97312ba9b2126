"""A real uvicorn server of the review UI on 127.0.0.1 and a real Chromium (Playwright).

Chromium is Debian's (``/usr/bin/chromium``, apt package ``chromium``); Playwright never
downloads a browser here. Without it the browser tests skip, unless
``TINGFENG_REQUIRE_BROWSER=1`` (CI sets it), when they fail.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from crawlers.config import Settings

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str | None:
    for candidate in (
        "/usr/bin/chromium",
        shutil.which("chromium"),
        shutil.which("chromium-browser"),
    ):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def need_browser() -> str:
    """The Chromium binary; skips (or fails under TINGFENG_REQUIRE_BROWSER=1) when absent."""
    path = chromium_path()
    problem = ""
    if path is None:
        problem = "chromium is not installed (apt-get install chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            problem = "playwright is not installed (pip install -e '.[test]')"
    if problem:
        if os.environ.get("TINGFENG_REQUIRE_BROWSER"):
            pytest.fail(f"TINGFENG_REQUIRE_BROWSER is set but {problem}")
        pytest.skip(problem)
    assert path is not None
    return path


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium browser (Playwright, sync API)."""
    from playwright.sync_api import sync_playwright

    path = need_browser()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def serve(settings: Settings, engine: Engine, port: int) -> Iterator[str]:
    """The review UI served by uvicorn on 127.0.0.1:``port`` in a thread; yields its URL."""
    import uvicorn

    from bot.web import create_app

    config = uvicorn.Config(
        create_app(settings, engine), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the review UI did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def log_in_page(page: Any, base: str, name: str, password: str) -> None:
    page.goto(base + "/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(base + "/")
