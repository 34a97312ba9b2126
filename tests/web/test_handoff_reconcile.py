"""The hand-off, reconcile and outcomes pages over HTTP: every action needs a login, the CSRF
token and a same-origin request, is refused to non-reviewers, and goes through
``bot.handoff`` / ``bot.reconcile`` with the logged-in user as the actor."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot import dispatch, review
from bot.dispatch import HANDOFF, SandboxAdapter
from bot.web import render
from crawlers.config import default_settings
from crawlers.models import AuditEvent, Draft, Interaction, Post, utcnow
from crawlers.sandbox.server import SandboxServer, make_server
from crawlers.sandbox.world import build_world
from tests.web.conftest import csrf_of, fresh_draft, log_in, make_client, token, web_settings

TEXT = "谢谢分享，冷萃确实更顺口，下次试试你说的比例"
URL = "https://weibo.com/1001/NabcDEF12"


def handed_off(db: Session, tmp_path: Path, account: str = "1001", text: str = TEXT) -> Draft:
    """A Weibo reply approved by bob and moved to ``handoff`` by dispatch."""
    d = fresh_draft(db, account=account, text=text)
    review.approve(db, int(d.id or 0), "bob", expected_hash=d.content_hash)
    out = dispatch.run(db, web_settings(tmp_path), {"weibo": HANDOFF})
    assert out.handoff == 1
    db.refresh(d)
    assert d.status == "handoff"
    return d


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    box = make_server("127.0.0.1", 0, build_world(3, 40))
    threading.Thread(target=box.serve_forever, daemon=True).start()
    yield box
    box.shutdown()
    box.server_close()


def lost(db: Session, tmp_path: Path, box: SandboxServer, account: str, text: str) -> Draft:
    """A draft the sandbox did, whose answer never came: dispatch leaves it in ``reconcile``."""
    d = fresh_draft(db, account=account, text=text)
    review.approve(db, int(d.id or 0), "bob", expected_hash=d.content_hash)
    box.action_fault = "lost"
    routes = {"weibo": SandboxAdapter(box.base_url, 0.3)}
    assert dispatch.run(db, web_settings(tmp_path), routes).reconcile == 1
    box.action_fault = ""
    db.refresh(d)
    assert d.status == "reconcile"
    return d


def trail(db: Session, draft_id: int | None) -> list[tuple[str, str]]:
    stmt = select(AuditEvent).where(AuditEvent.draft_id == draft_id).order_by(col(AuditEvent.id))
    return [(e.action, e.actor) for e in db.exec(stmt)]


def test_new_pages_need_a_login_and_posts_a_token(
    client: TestClient, db: Session, tmp_path: Path
) -> None:
    d = handed_off(db, tmp_path)
    posts = [f"/handoff/{d.id}/confirm", f"/handoff/{d.id}/skip", "/reconcile/1/sent",
             "/reconcile/1/not-sent", "/reconcile/check"]  # fmt: skip
    for path in ("/handoff", "/reconcile", "/outcomes"):
        resp = client.get(path)
        assert resp.status_code == 303 and resp.headers["location"] == "/login", path
    data = {"seen_hash": d.content_hash, "ref": URL, "why": "gone"}
    for path in posts:
        assert client.post(path, data={**data, "csrf": "x"}).status_code == 403, path
    log_in(client)
    good = token(client, "/handoff")
    for path in posts:
        # no token, a wrong one, or another site's page: refused before anything happens
        assert client.post(path, data=data).status_code == 403, path
        assert client.post(path, data={**data, "csrf": good[:-2] + "xx"}).status_code == 403
        resp = client.post(
            path, data={**data, "csrf": good}, headers={"Sec-Fetch-Site": "cross-site"}
        )
        assert resp.status_code == 403, path
        resp = client.post(
            path, data={**data, "csrf": good}, headers={"Origin": "https://evil.example"}
        )
        assert resp.status_code == 403, path
    db.refresh(d)
    assert d.status == "handoff" and trail(db, d.id)[-1] == ("handoff", "tingfeng")
    for path in ("/handoff", "/reconcile", "/outcomes"):
        assert client.get(path).status_code == 200, path


def test_handoff_page_shows_link_text_hash_and_confirm_records_who(
    client: TestClient, db: Session, tmp_path: Path
) -> None:
    d = handed_off(db, tmp_path, text="第一行\n<b>第二行</b> & 「冷萃」")
    log_in(client, "carol")
    page = client.get("/handoff").text
    assert (
        '<a href="/handoff" id="nav-handoff">Hand-off <span class="count waiting">1</span>' in page
    )
    assert 'href="https://m.weibo.cn/detail/p-1001-reply"' in page
    assert 'href="https://weibo.com/1001/p-1001-reply"' in page
    # the exact text, escaped, in a read-only box (the newline after <textarea> is the parser's)
    assert ">\n第一行\n&lt;b&gt;第二行&lt;/b&gt; &amp; 「冷萃」</textarea>" in page
    assert "readonly" in page and d.content_hash in page
    assert f'name="seen_hash" value="{d.content_hash}"' in page
    csrf = csrf_of(page)
    # an empty ref is refused with a message, and nothing moves
    resp = client.post(
        f"/handoff/{d.id}/confirm", data={"csrf": csrf, "seen_hash": d.content_hash, "ref": " "}
    )
    assert resp.status_code == 409 and "say where it was posted" in resp.text
    resp = client.post(
        f"/handoff/{d.id}/confirm", data={"csrf": csrf, "seen_hash": d.content_hash, "ref": URL}
    )
    assert resp.status_code == 303 and resp.headers["location"] == "/handoff"
    after = client.get("/handoff").text
    assert "recorded as posted" in after and "Nothing to post by hand" in after
    assert '<span class="count">0</span>' in after
    db.refresh(d)
    assert (d.status, d.platform_ref) == ("sent", URL)
    assert trail(db, d.id)[-1] == ("sent", "carol")
    # again: it is no longer handed off
    resp = client.post(
        f"/handoff/{d.id}/confirm", data={"csrf": csrf, "seen_hash": d.content_hash, "ref": URL}
    )
    assert resp.status_code == 409 and "not handed off" in resp.text


def test_handoff_confirm_refuses_a_stale_hash(
    client: TestClient, db: Session, tmp_path: Path
) -> None:
    d = fresh_draft(db, account="1001", text="谢谢分享，冷萃确实更顺口")
    first = d.content_hash  # the text alice read before bob's edit
    review.edit(db, int(d.id or 0), TEXT, "bob")
    review.approve(db, int(d.id or 0), "alice", expected_hash=d.content_hash)
    assert dispatch.run(db, web_settings(tmp_path), {"weibo": HANDOFF}).handoff == 1
    log_in(client)
    csrf = token(client, "/handoff")
    resp = client.post(
        f"/handoff/{d.id}/confirm", data={"csrf": csrf, "seen_hash": first, "ref": URL}
    )
    assert resp.status_code == 409 and "not the text you were shown" in resp.text
    assert URL in resp.text  # what was typed is kept in the form
    resp = client.post(f"/handoff/{d.id}/confirm", data={"csrf": csrf, "ref": URL})
    assert resp.status_code == 400
    db.refresh(d)
    assert d.status == "handoff" and d.platform_ref is None


def test_handoff_skip_and_reviewers_only(tmp_path: Path, web_engine: Engine, db: Session) -> None:
    d = handed_off(db, tmp_path)
    client = make_client(web_settings(tmp_path, reviewers=["alice", "bob"]), web_engine)
    log_in(client, "carol")
    page = client.get("/handoff").text
    assert "read only" in page and "I posted it" not in page and TEXT in page
    csrf = csrf_of(page)
    data = {"csrf": csrf, "seen_hash": d.content_hash, "ref": URL, "why": "gone"}
    for path in (f"/handoff/{d.id}/confirm", f"/handoff/{d.id}/skip"):
        resp = client.post(path, data=data)
        assert resp.status_code == 403 and "is not a reviewer" in resp.text, path
    db.refresh(d)
    assert d.status == "handoff"
    log_in(client, "alice")
    csrf = token(client, "/handoff")
    resp = client.post(f"/handoff/{d.id}/skip", data={"csrf": csrf, "why": ""})
    assert resp.status_code == 409 and "say why" in resp.text
    resp = client.post(f"/handoff/{d.id}/skip", data={"csrf": csrf, "why": "the post is gone"})
    assert resp.status_code == 303
    db.refresh(d)
    assert d.status == "failed" and d.dispatch_error == "skipped by alice: the post is gone"
    assert trail(db, d.id)[-1] == ("failed", "alice")


def test_handoff_links_only_from_ids_of_a_trusted_shape(db: Session) -> None:
    d = fresh_draft(db, account="1001")
    assert render.handoff_links(d)[0] == "https://m.weibo.cn/detail/p-1001-reply"
    d.target_post = '"><script>alert(1)</script>'
    assert render.handoff_links(d) == []
    d.target_post = "../../evil.example"
    assert render.handoff_links(d) == []
    d.kind, d.target_post, d.target_account = "follow", None, "javascript:alert(1)"
    assert render.handoff_links(d) == []
    d.kind, d.target_account = "group_post", "咖啡"
    (link, _) = render.handoff_links(d)
    assert link.startswith("https://m.weibo.cn/p/index?containerid=100808")


def test_reconcile_resolve_sent_and_not_sent(
    client: TestClient, db: Session, tmp_path: Path, sandbox: SandboxServer
) -> None:
    a = lost(db, tmp_path, sandbox, "u1", "谢谢分享，冷萃确实更顺口")
    b = lost(db, tmp_path, sandbox, "u2", "手冲可以试试中浅烘的豆子")
    log_in(client, "carol")
    page = client.get("/reconcile").text
    assert '<span class="count waiting">2</span>' in page
    assert page.count('class="reconcile"') == 2 and "no answer from the sandbox" in page
    assert "sending" in page  # the history
    csrf = csrf_of(page)
    resp = client.post(f"/reconcile/{a.id}/sent", data={"csrf": csrf, "ref": "a1"})
    assert resp.status_code == 303
    resp = client.post(f"/reconcile/{b.id}/not-sent", data={"csrf": csrf, "why": "not there"})
    assert resp.status_code == 303
    page = client.get("/reconcile").text
    assert "recorded as sent" in page and "approved again" in page
    assert "Nothing to reconcile" in page
    db.refresh(a)
    db.refresh(b)
    assert (a.status, a.platform_ref) == ("sent", "a1")
    assert (b.status, b.approved_hash) == ("approved", b.content_hash)
    assert trail(db, a.id)[-1] == ("sent", "carol") and trail(db, b.id)[-1] == ("approved", "carol")
    # a draft that is not in reconcile: a message, not a 500
    client.post(f"/reconcile/{a.id}/not-sent", data={"csrf": csrf})
    assert "only drafts with an unknown outcome" in client.get("/reconcile").text
    db.refresh(a)
    assert a.status == "sent"


def test_reconcile_reviewers_only_and_check_with_the_sandbox(
    tmp_path: Path, web_engine: Engine, db: Session, sandbox: SandboxServer
) -> None:
    d = lost(db, tmp_path, sandbox, "u1", "谢谢分享，冷萃确实更顺口")
    settings = web_settings(tmp_path, reviewers=["alice"])
    settings.dispatch.weibo = "sandbox"
    settings.dispatch.timeout_seconds = 5.0
    settings.sandbox.port = sandbox.server_address[1]
    client = make_client(settings, web_engine)
    log_in(client, "carol")
    page = client.get("/reconcile").text
    assert "read only" in page and 'action="/reconcile/' not in page
    csrf = csrf_of(page)
    for path in (f"/reconcile/{d.id}/sent", f"/reconcile/{d.id}/not-sent", "/reconcile/check"):
        assert client.post(path, data={"csrf": csrf, "ref": "a1"}).status_code == 303
        assert "is not a reviewer" in client.get("/reconcile").text, path
    db.refresh(d)
    assert d.status == "reconcile" and sandbox.hits["/api/actions"] == 1
    log_in(client, "alice")
    page = client.get("/reconcile").text
    assert "can be asked" in page
    resp = client.post("/reconcile/check", data={"csrf": csrf_of(page)})
    assert resp.status_code == 303
    assert "Checked with the platforms: sent 1," in client.get("/reconcile").text
    db.refresh(d)
    assert (d.status, d.platform_ref) == ("sent", "a1")
    assert len(sandbox.actions) == 1  # the same key: the first action, nothing new
    assert trail(db, d.id)[-1] == ("sent", "tingfeng")


def test_outcomes_table(tmp_path: Path, web_engine: Engine, db: Session) -> None:
    brand = "8000000001"
    now = utcnow()
    for i in range(2):
        d = fresh_draft(db, kind="follow", account=f"f{i}")
        d.status, d.sent_at, d.rule = "sent", now - timedelta(days=2), "follow_top"
        db.add(d)
    db.add(Interaction(platform="weibo", kind="follow", src_id="f0", dst_id=brand,
                       first_seen=now - timedelta(days=1)))  # fmt: skip
    r = fresh_draft(db, account="u1", text="「冷萃」同问！你平时喝哪家的咖啡？")
    r.status, r.sent_at, r.platform_ref = "sent", now - timedelta(days=2), "c1"
    r.rule, r.template = "reply_question", "reply_question#1:8fa0319e"
    db.add(r)
    db.add(Post(platform="weibo", platform_id="c1", author_id=brand, kind="comment",
                parent_id="p-u1-reply", text=r.text, likes_count=3))  # fmt: skip
    db.commit()
    settings = default_settings(
        base_dir=tmp_path,
        store={"url": f"sqlite:///{tmp_path / 'web.db'}"},
        campaigns={"cafe": {"brand": "拾光咖啡", "own_accounts": [brand]}},
    )
    client = make_client(settings, web_engine)
    log_in(client)
    page = client.get("/outcomes").text
    assert page.count('class="outcome-row too-few"') == 2
    assert '50% <span class="ci">[9–91%]</span>' in page and "1/2" in page
    assert "reply_question#1:8fa0319e" in page and "3.0" in page
    assert "n &lt; 10: too few to tell" in page
    assert "No sent drafts yet" in client.get("/outcomes?campaign=other").text
    assert "is not a date" in client.get("/outcomes?since=yesterday").text
    assert (
        "No sent drafts yet"
        in client.get("/outcomes?since=" + (now + timedelta(days=1)).date().isoformat()).text
    )
