"""The review UI in a real Chromium against a real uvicorn server on 127.0.0.1: stored XSS is
inert and shown as typed, hidden characters are shown as badges, and a draft edited and
approved in the browser is sent once, with the edited text, to the sandbox platform."""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot import dispatch, review
from bot.dispatch import SandboxAdapter
from crawlers.models import Account, AuditEvent, Draft, Post, utcnow
from crawlers.sandbox.server import make_server
from crawlers.sandbox.world import build_world
from tests.conftest import free_port
from tests.web.browser import chromium, log_in_page, serve
from tests.web.conftest import PASSWORD, fresh_draft, web_settings

XSS = [
    "<script>window.__pwned=1</script>",
    '<img src=x onerror="window.__pwned=1">',
    '<a href="javascript:window.__pwned=1">x</a>',
    '<svg onload="window.__pwned=1">',
    '"><script>window.__pwned=1</script>',
    "'><img src=x onerror=window.__pwned=1>",
    "</textarea><script>window.__pwned=1</script>",
    "{{ 7*7 }}",
    "{% raw %}{{ 7*7 }}{% endraw %}",
    '<iframe srcdoc="<script>parent.__pwned=1</script>"></iframe>',
    "<style>body{display:none}</style>",
    "</code></blockquote></div><script>window.__pwned=1</script>",
]
#: elements none of our pages has, so any of them came from a payload
FOREIGN = "img, svg, iframe, style, object, embed, video, audio, math, base, meta[http-equiv], [onerror], [onload], a[href^='javascript']"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context()
    context.set_default_timeout(15000)
    pg = context.new_page()
    pg.dialogs = []  # type: ignore[attr-defined]
    pg.csp_errors = []  # type: ignore[attr-defined]
    pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.dismiss()))  # type: ignore[attr-defined]
    pg.on(
        "console",
        lambda m: (
            pg.csp_errors.append(m.text)  # type: ignore[attr-defined]
            if "Content Security Policy" in m.text
            else None
        ),
    )
    yield pg
    context.close()


def _plant(db: Session) -> list[int]:
    """Drafts, posts, account names, evidence and audit events carrying every payload."""
    ids = []
    for i, payload in enumerate(XSS):
        uid, pid = f"x{i}", f"xp{i}"
        db.add(Account(platform="weibo", platform_id=uid, name=payload))
        db.add(Post(platform="weibo", platform_id=pid, author_id=uid, text=payload,
                    text_plain=payload))  # fmt: skip
        d = fresh_draft(db, account=uid, text=payload)
        d.target_post = pid
        d.campaign = f"c{i}"
        d.evidence = {
            "rule": {"name": "reply_to_question", "why": payload},
            "account": {"platform": "weibo", "id": uid, "name": payload},
            "influence": {"score": 0.5, "rank": 1, "explanation": payload, "parts": {payload: 1}},
            "post": {"id": pid, "kind": "post", "text": payload, "labels": {"intents": [payload]}},
            "matched": {"interests": [payload]},
            payload: payload,  # an unknown key
        }
        db.add(d)
        db.commit()
        assert d.id is not None
        ids.append(d.id)
    # dispatch outcomes carrying payloads too (set as dispatch would leave them)
    for k, status in zip(range(8, 12), ("sent", "failed", "reconcile", "approved"), strict=True):
        d = db.get(Draft, ids[k])
        assert d is not None
        d.status, d.platform_ref, d.dispatch_error = status, XSS[k], XSS[9]
        db.add(d)
    db.commit()
    # and one draft whose every field holds every payload at once
    every = "\n".join(XSS)
    db.add(Account(platform="weibo", platform_id="xall", name=every))
    db.add(Post(platform="weibo", platform_id="xpall", author_id="xall", text=every,
                text_plain=every))  # fmt: skip
    d = fresh_draft(db, account="xall", text="\n" + every)
    d.target_post = "xpall"
    d.evidence = {"rule": {"name": every, "why": every}, "post": {"text": every}, every: every}
    db.add(d)
    db.commit()
    ids.append(d.id)
    review.reject(db, ids[0], XSS[1], reason=XSS[2])
    review.suppress(db, "weibo", "x3", XSS[0], XSS[6])
    db.add(AuditEvent(at=utcnow(), actor=XSS[7], action=XSS[4], draft_id=ids[5],
                      before_hash=XSS[8], detail={XSS[9]: XSS[10]}))  # fmt: skip
    db.commit()
    return ids


#: one round trip per page: what the checks need, read in the page
_READ = """([foreign, wanted]) => ({
  pwned: typeof window.__pwned,
  foreign: document.querySelectorAll(foreign).length,
  scripts: Array.from(document.scripts).map(e => e.getAttribute('src')),
  texts: Object.fromEntries(wanted.map(sel =>
    [sel, Array.from(document.querySelectorAll(sel)).map(e => 'value' in e && e.tagName === 'TEXTAREA' ? e.value : e.innerText)])),
})"""


def _inert(page: Any, where: str, *wanted: str) -> dict[str, list[str]]:
    """Check that nothing of a payload ran or became an element; the texts of ``wanted``."""
    got = page.evaluate(_READ, [FOREIGN, list(wanted)])
    assert page.dialogs == [], where
    assert got["pwned"] == "undefined", where
    assert got["foreign"] == 0, where
    assert got["scripts"] == ["/static/app.js"], where
    # our own pages never violate the CSP (no inline script or style of ours)
    assert page.csp_errors == [], where
    return dict(got["texts"])


def test_stored_xss_is_inert_and_shown_as_typed(
    tmp_path: Path, web_engine: Engine, db: Session, page: Any
) -> None:
    ids = _plant(db)
    with serve(web_settings(tmp_path), web_engine, free_port()) as base:
        log_in_page(page, base, "alice", PASSWORD)
        page.goto(base + "/?status=all")
        texts = _inert(page, "queue", ".draft-row .draft-text", ".draft-row .name")
        # shown literally: the queue's cells hold each payload exactly as typed
        cells = texts[".draft-row .draft-text"]
        every = "\n".join(XSS)
        assert sorted(cells) == sorted([*XSS, "\n" + every])
        assert sorted(texts[".draft-row .name"]) == sorted([*XSS, every])
        assert "{{ 7*7 }}" in cells and "49" not in cells
        # the draft page: text, post, evidence and the edit box, each as typed
        every = "\n".join(XSS)
        sel = (".draft-text.big", ".target-post", ".evidence .why", "#edit-text", ".rest dd")
        for i, text, editable in ((ids[-1], "\n" + every, True), (ids[6], XSS[6], True),
                                  (ids[8], XSS[8], False)):  # fmt: skip
            page.goto(f"{base}/drafts/{i}")
            got = _inert(page, f"/drafts/{i}", *sel)
            assert got[".draft-text.big"] == [text]
            assert got[".target-post"] == got[".evidence .why"] == [text.strip()]
            assert text.strip() in got[".rest dd"]
            assert got["#edit-text"] == ([text] if editable else [])
        page.goto(base + "/dispatch")
        refs = _inert(page, "dispatch", ".dispatch-row .platform-ref")
        assert sorted(refs[".dispatch-row .platform-ref"]) == sorted(XSS[8:12])
        page.goto(base + "/suppressions")
        sup = _inert(page, "suppressions", "table.suppressions")["table.suppressions"][0]
        assert XSS[6] in sup and XSS[0] in sup
        page.goto(base + "/audit")
        audit = _inert(page, "audit", "table.audit")["table.audit"][0]
        for payload in (XSS[1], XSS[2], XSS[0], XSS[6], XSS[7], XSS[4], XSS[9], XSS[10]):
            assert payload in audit
        # the hand-off, reconcile and outcomes pages: two hand-offs (one closing the text box,
        # one starting with a newline), the draft in reconcile, and an outcome row
        for k, status in ((6, "handoff"), (-1, "handoff"), (8, "sent")):
            d = db.get(Draft, ids[k])
            assert d is not None
            d.status, d.sent_at, d.rule, d.template = status, utcnow(), XSS[1], XSS[0]
            db.add(d)
        db.commit()
        page.goto(base + "/handoff")
        got = _inert(page, "handoff", "textarea.handoff-text", ".handoff .name", "a.open-link")
        assert got["textarea.handoff-text"] == [XSS[6], "\n" + every]
        assert got[".handoff .name"] == [XSS[6], every]
        assert got["a.open-link"][0] == "https://m.weibo.cn/detail/xp6"
        page.goto(base + "/reconcile")
        got = _inert(page, "reconcile", ".reconcile .dispatch-error", ".reconcile .draft-text")
        assert got == {".reconcile .dispatch-error": [XSS[9]], ".reconcile .draft-text": [XSS[10]]}
        page.goto(base + "/outcomes")
        got = _inert(page, "outcomes", ".outcome-row code", ".outcome-row .example")
        assert got == {".outcome-row code": [XSS[0]], ".outcome-row .example": [XSS[8]]}


def test_hidden_characters_are_badges_and_flagged(
    tmp_path: Path, web_engine: Engine, db: Session, page: Any
) -> None:
    db.add(Account(platform="weibo", platform_id="u1", name="阿\u200d一"))
    db.add(Post(platform="weibo", platform_id="p-u1-reply", author_id="u1",
                text="好喝\u2066吗\u2069？\ufeff", text_plain="好喝\u2066吗\u2069？\ufeff"))  # fmt: skip
    d = fresh_draft(db, account="u1", text="ok\u202egnp.exe\u200b 谢谢")
    plain = fresh_draft(db, account="u2", text="普通的回复")
    with serve(web_settings(tmp_path), web_engine, free_port()) as base:
        log_in_page(page, base, "alice", PASSWORD)
        row = page.locator(f"#draft-{d.id}")
        assert "has-hidden" in (row.get_attribute("class") or "")
        assert row.locator(".draft-text .hidden-char").all_inner_texts() == ["U+202E", "U+200B"]
        assert row.locator(".flag").inner_text() == "contains hidden characters"
        other = page.locator(f"#draft-{plain.id}")
        assert other.locator(".hidden-char, .flag").count() == 0
        page.goto(f"{base}/drafts/{d.id}")
        badge = page.locator(".draft-text.big .hidden-char").first
        assert badge.get_attribute("title") == "U+202E RIGHT-TO-LEFT OVERRIDE"
        assert page.locator(".target-post .hidden-char").all_inner_texts() == [
            "U+2066", "U+2069", "U+FEFF"
        ]  # fmt: skip
        assert page.locator(".name .hidden-char").all_inner_texts() == ["U+200D"]
        assert page.locator("h2 .flag").count() >= 2
        assert "RIGHT-TO-LEFT OVERRIDE" in page.locator(".msg-error").inner_text()
        # it cannot be approved: the refusal is a message on the page
        page.click("form.approve button")
        assert "hidden characters" in page.locator(".msg-error").first.inner_text()
        _inert(page, "hidden")
    db.refresh(d)
    assert d.status == "pending"


def _actions(base_url: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(base_url + "/_sandbox/actions", timeout=5) as resp:
        return list(json.loads(resp.read())["actions"])


def test_edit_approve_dispatch_end_to_end(
    tmp_path: Path, web_engine: Engine, db: Session, page: Any
) -> None:
    settings = web_settings(tmp_path, reviewers=["alice", "bob"])
    settings.dispatch.timeout_seconds = 5.0
    db.add(Account(platform="weibo", platform_id="u1", name="阿一"))
    d = fresh_draft(db, account="u1", text="你好阿一～关于手冲的问题，我们整理了一些经验。")
    other = fresh_draft(db, account="u2", text="另一条，不批准")
    new_text = "你好阿一！手冲豆子可以先试试中烘的埃塞俄比亚，有问题随时问我们。"
    sandbox = make_server("127.0.0.1", 0, build_world(3, 40))
    threading.Thread(target=sandbox.serve_forever, daemon=True).start()
    try:
        with serve(settings, web_engine, free_port()) as base:
            # alice edits the text
            log_in_page(page, base, "alice", PASSWORD)
            page.click(f"#draft-{d.id} a[href='/drafts/{d.id}']")
            page.fill("#edit-text", new_text)
            page.click("form.edit button")
            assert "Saved the new text" in page.locator(".msg-ok").inner_text()
            assert page.locator(".draft-text.big").inner_text() == new_text
            # ...and may not approve her own edit
            page.click("form.approve button")
            assert "nobody approves their own text" in page.locator(".msg-error").inner_text()
            page.click("form.logout button")
            page.wait_for_url(base + "/login")
            # bob approves exactly the text he sees
            log_in_page(page, base, "bob", PASSWORD)
            page.goto(f"{base}/drafts/{d.id}")
            page.click("form.approve button")
            assert "Approved." in page.locator(".msg-ok").inner_text()
            db.refresh(d)
            assert (d.status, d.text, d.approved_hash) == ("approved", new_text, d.content_hash)
            summary = dispatch.run(db, settings, {"weibo": SandboxAdapter(sandbox.base_url, 5.0)})
            assert (summary.sent, summary.failed, summary.reconcile) == (1, 0, 0)
            page.goto(base + "/dispatch")
            row = page.locator(f"#dispatch-{d.id}")
            assert row.locator(".status").inner_text() == "sent"
            assert row.locator(".platform-ref").inner_text() == "a1"
            assert row.locator(".draft-text").inner_text() == new_text
            assert page.locator(f"#dispatch-{other.id}").count() == 0
            page.goto(f"{base}/drafts/{d.id}")
            history = page.locator("table.audit").inner_text()
            for step in ("edited", "approved", "sending", "sent"):
                assert step in history
            _inert(page, "e2e")
        (action,) = _actions(sandbox.base_url)
        assert action["text"] == new_text and action["key"] == d.content_hash
    finally:
        sandbox.shutdown()
        sandbox.server_close()


def test_handoff_posted_by_a_person_in_the_browser(
    tmp_path: Path, web_engine: Engine, db: Session, page: Any
) -> None:
    """A Weibo draft approved with ``[dispatch] weibo = "handoff"``: dispatch hands it to a
    person, who copies the exact text from the hand-off page and records where it went."""
    settings = web_settings(tmp_path, reviewers=["alice", "bob"])
    settings.dispatch.weibo = "handoff"
    db.add(Account(platform="weibo", platform_id="1001", name="阿一"))
    text = "你好阿一！手冲豆子可以先试试中烘的埃塞俄比亚，\n有问题随时问我们。"
    d = fresh_draft(db, account="1001", text=text)
    review.approve(db, int(d.id or 0), "bob", expected_hash=d.content_hash, settings=settings.bot)
    assert dispatch.run_configured(db, settings).handoff == 1
    url = "https://weibo.com/1001/NabcDEF12"
    with serve(settings, web_engine, free_port()) as base:
        page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
        log_in_page(page, base, "alice", PASSWORD)
        assert page.locator("#nav-handoff .count").inner_text() == "1"
        page.click("#nav-handoff")
        box = page.locator(f"#handoff-{d.id}")
        assert box.locator("textarea.handoff-text").input_value() == text
        assert box.locator("a.open-link").first.get_attribute("href") == (
            "https://m.weibo.cn/detail/p-1001-reply"
        )
        assert d.content_hash in box.locator(".hash-full").inner_text()
        box.locator("button.copy").click()
        # the clipboard answers asynchronously: wait for the message (inner_text does not)
        from playwright.sync_api import expect

        expect(box.locator(".copied")).to_have_text("Copied.")
        assert page.evaluate("navigator.clipboard.readText()") == text
        box.locator("form.confirm input[name=ref]").fill(url)
        box.locator("form.confirm button").click()
        assert "recorded as posted" in page.locator(".msg-ok").inner_text()
        assert page.locator("#nav-handoff .count").inner_text() == "0"
        db.refresh(d)
        assert (d.status, d.platform_ref) == ("sent", url)
        page.goto(base + "/audit")
        newest = page.locator("table.audit tbody tr").first.inner_text()
        assert "alice" in newest and "sent" in newest and url in newest
        _inert(page, "handoff e2e")
