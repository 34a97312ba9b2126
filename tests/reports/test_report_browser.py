"""The report in a real headless Chromium: it opens from a file:// URL, a full-page screenshot
is taken, and Chinese text is drawn with a CJK font, not as tofu boxes.

Skips only when /usr/bin/chromium (or playwright) is missing and TINGFENG_REQUIRE_BROWSER is
unset; CI sets it.
"""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session

from crawlers.store import make_engine, migrate
from reports import render_report
from tests.reports.store import SINCE, UNTIL, fill, report_settings

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
CJK_FAMILIES = ("CJK", "Source Han", "PingFang", "YaHei", "WenQuanYi", "Hei", "Song", "Ming")


def _browser_or_skip() -> Any:
    missing = None
    if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        missing = f"no Chromium at {CHROMIUM}"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing = "the playwright package is not installed"
    if missing:
        if os.environ.get("TINGFENG_REQUIRE_BROWSER"):
            pytest.fail(f"{missing} and TINGFENG_REQUIRE_BROWSER is set")
        pytest.skip(missing)
    return sync_playwright


def _used_fonts(page: Any, selector: str) -> dict[str, int]:
    """The fonts Chromium really drew the node's text with, and how many glyphs each."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument")["root"]["nodeId"]
    node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
    fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
    return {f["familyName"]: int(f["glyphCount"]) for f in fonts}


def test_report_renders_chinese_in_chromium(tmp_path: Path) -> None:
    sync_playwright = _browser_or_skip()
    engine = make_engine("sqlite://")
    migrate(engine)
    with Session(engine) as session:
        fill(session)
        html = render_report(session, report_settings(), "c", SINCE, UNTIL,
                             now=datetime(2026, 11, 1, tzinfo=UTC))  # fmt: skip
    engine.dispose()
    path = tmp_path / "report.html"
    path.write_text(html, encoding="utf-8")
    shot = tmp_path / "report.png"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.goto(path.as_uri())
            page.screenshot(path=str(shot), full_page=True)
            title = page.title()
            # the heading "拾光咖啡 舆情报告" is drawn with a CJK-capable font
            fonts = _used_fonts(page, "header.top h1")
            # tofu check by pixels: two different characters must not draw the same box, while
            # two code points no font has (the control) draw the same .notdef box
            page.evaluate(
                """() => {
                  for (const [id, ch] of [['g1', '舆'], ['g2', '情'], ['n1', '\\u{10FFFC}'],
                                          ['n2', '\\u{10FFFD}']]) {
                    const s = document.createElement('span');
                    s.id = id; s.textContent = ch;
                    s.style.cssText = 'font-size:48px;display:inline-block;line-height:1;';
                    document.body.prepend(s);
                  }
                }"""
            )
            g1, g2 = (page.locator(f"#{i}").screenshot() for i in ("g1", "g2"))
            n1, n2 = (page.locator(f"#{i}").screenshot() for i in ("n1", "n2"))
            svg_text = page.locator("svg.chart text").first.evaluate(
                "e => getComputedStyle(e).fontFamily"
            )
        finally:
            browser.close()
    assert title.startswith("拾光咖啡 舆情报告")
    assert shot.stat().st_size > 10_000 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    cjk = {name: n for name, n in fonts.items() if any(k in name for k in CJK_FAMILIES)}
    assert cjk and sum(cjk.values()) >= 6, f"heading drawn with {fonts}: no CJK font (tofu)"
    assert n1 == n2, "the control: two missing code points should draw the same box"
    assert g1 != g2, "舆 and 情 drew the same image: tofu"
    assert "Noto Sans CJK SC" in svg_text
