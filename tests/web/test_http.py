"""The review web UI over HTTP (FastAPI's TestClient): logins, sessions, CSRF, headers, and
every review action going through ``bot.review`` with the logged-in user as the actor."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot import review
from bot.web import auth
from crawlers.models import AuditEvent, Draft, Suppression, WebSession, WebUser
from tests.web.conftest import (
    PASSWORD,
    csrf_of,
    fresh_draft,
    log_in,
    make_client,
    token,
    web_settings,
)

PAGES = [
    "/", "/drafts/1", "/suppressions", "/audit", "/dispatch", "/?status=all&page_no=2",
    "/handoff", "/reconcile", "/outcomes",
]  # fmt: skip
POSTS = [
    "/drafts/1/approve",
    "/drafts/1/edit",
    "/drafts/1/reject",
    "/drafts/1/suppress",
    "/bulk",
    "/suppressions",
    "/handoff/1/confirm",
    "/handoff/1/skip",
    "/reconcile/1/sent",
    "/reconcile/1/not-sent",
    "/reconcile/check",
    "/logout",
]


def test_every_page_needs_a_login(client: TestClient, db: Session) -> None:
    fresh_draft(db)
    for path in PAGES:
        resp = client.get(path)
        assert resp.status_code == 303 and resp.headers["location"] == "/login", path
    for path in POSTS:
        resp = client.post(path, data={"csrf": "x", "seen_hash": "0" * 64})
        assert resp.status_code == 403, path
    assert db.exec(select(AuditEvent)).all() == []
    assert log_in(client).status_code == 303
    for path in PAGES:
        assert client.get(path).status_code == 200, path


def test_security_headers_on_every_response(client: TestClient) -> None:
    for resp in (client.get("/login"), client.get("/"), client.get("/static/app.css")):
        h = resp.headers
        assert h["content-security-policy"] == (
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        )
        assert h["x-content-type-options"] == "nosniff"
        assert h["referrer-policy"] == "no-referrer"
        assert h["x-frame-options"] == "DENY"
    log_in(client)
    for path in PAGES[:1] + PAGES[2:]:
        assert client.get(path).headers["cache-control"] == "no-store", path


def test_passwords_are_hashed_with_scrypt_and_verify(db: Session) -> None:
    user = db.exec(select(WebUser).where(WebUser.name == "alice")).one()
    assert PASSWORD not in user.password_hash and user.password_hash.startswith("scrypt$16384$8$1$")
    assert auth.verify_password(PASSWORD, user.password_hash)
    assert not auth.verify_password(PASSWORD + "!", user.password_hash)
    # a fresh salt each time
    assert auth.hash_password(PASSWORD) != auth.hash_password(PASSWORD)
    with pytest.raises(Exception, match="at least 12"):
        auth.add_user(db, "dave", "short")
    with pytest.raises(Exception, match="exists already"):
        auth.add_user(db, "alice", PASSWORD)


def test_login_cookie_flags_and_logout(client: TestClient, db: Session) -> None:
    resp = log_in(client)
    assert resp.status_code == 303 and resp.headers["location"] == "/"
    cookie = resp.headers["set-cookie"].lower()
    for flag in ("httponly", "samesite=strict", "secure", "path=/", "max-age=43200"):
        assert flag in cookie, flag
    # the cookie holds a random token; the store only its hash
    raw = client.cookies.get("tingfeng_session")
    assert raw and db.exec(select(WebSession)).one().token_hash != raw
    assert "alice" in client.get("/").text
    client.post("/logout", data={"csrf": token(client)})
    assert db.exec(select(WebSession)).all() == []
    client.cookies.set("tingfeng_session", raw, domain="testserver")  # a copy kept by a thief
    assert client.get("/").status_code == 303


def test_wrong_password_is_refused_and_throttled(client: TestClient) -> None:
    for _ in range(auth.MAX_FAILURES):
        resp = log_in(client, "alice", "wrong password!")
        assert resp.status_code == 401 and "Wrong name or password" in resp.text
        assert "tingfeng_session" not in client.cookies
    # the sixth try waits, even with the right password
    resp = log_in(client, "alice", PASSWORD)
    assert resp.status_code == 429 and "Too many failed logins" in resp.text
    assert client.get("/").status_code == 303
    # an unknown name gets the same answer as a wrong password
    assert log_in(client, "mallory", PASSWORD).status_code == 401
    # another user is not affected
    assert log_in(client, "bob", PASSWORD).status_code == 303


def test_throttle_window_passes() -> None:
    t = auth.Throttle(max_failures=2, window=timedelta(minutes=15))
    now = review.as_utc(review.utcnow())
    t.failed("Alice", now)
    t.failed("alice", now + timedelta(minutes=1))
    assert t.wait("alice", now + timedelta(minutes=2)) == timedelta(minutes=13)
    assert t.wait("alice", now + timedelta(minutes=16)) is None


def test_disabled_user_cannot_log_in_and_loses_sessions(client: TestClient, db: Session) -> None:
    log_in(client, "bob")
    assert client.get("/").status_code == 200
    auth.disable_user(db, "bob")
    assert client.get("/").status_code == 303
    assert log_in(client, "bob").status_code == 401


def test_session_expires(tmp_path: Path, web_engine: Engine, db: Session) -> None:
    settings = web_settings(tmp_path)
    client = make_client(settings, web_engine)
    log_in(client)
    assert client.get("/").status_code == 200
    row = db.exec(select(WebSession)).one()
    row.expires_at = review.utcnow() - timedelta(seconds=1)
    db.add(row)
    db.commit()
    assert client.get("/").status_code == 303


def test_session_lifetime_follows_the_setting(tmp_path: Path, web_engine: Engine) -> None:
    settings = web_settings(tmp_path)
    settings.web.session_hours = 0.5
    client = make_client(settings, web_engine)
    assert "max-age=1800" in log_in(client).headers["set-cookie"].lower()
    with Session(web_engine) as s:
        row = s.exec(select(WebSession)).one()
        left = review.as_utc(row.expires_at) - review.as_utc(row.created_at)
    assert left == timedelta(minutes=30)


def test_csrf_token_missing_or_wrong_is_403(
    tmp_path: Path, client: TestClient, web_engine: Engine, db: Session
) -> None:
    d = fresh_draft(db)
    log_in(client)
    good = token(client)
    for data in ({}, {"csrf": ""}, {"csrf": good[:-2] + "xx"}):
        resp = client.post(f"/drafts/{d.id}/approve", data={**data, "seen_hash": d.content_hash})
        assert resp.status_code == 403
    # the token of another session does not work either
    other = make_client(web_settings(tmp_path), web_engine)
    log_in(other, "bob")
    resp = client.post(
        f"/drafts/{d.id}/approve", data={"csrf": token(other), "seen_hash": d.content_hash}
    )
    assert resp.status_code == 403
    db.refresh(d)
    assert d.status == "pending"
    # the login form has its own token
    assert client.post("/login", data={"name": "alice", "password": PASSWORD}).status_code == 403


def test_cross_origin_post_is_refused(client: TestClient, db: Session) -> None:
    d = fresh_draft(db)
    log_in(client)
    data = {"csrf": token(client), "seen_hash": d.content_hash}
    for headers in (
        {"Origin": "https://evil.example"},
        {"Referer": "https://evil.example/page"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
    ):
        resp = client.post(f"/drafts/{d.id}/approve", data=data, headers=headers)
        assert resp.status_code == 403, headers
    db.refresh(d)
    assert d.status == "pending"
    resp = client.post(
        f"/drafts/{d.id}/approve",
        data=data,
        headers={"Origin": "https://testserver", "Sec-Fetch-Site": "same-origin"},
    )
    assert resp.status_code == 303
    db.refresh(d)
    assert (d.status, d.reviewed_by) == ("approved", "alice")


def test_approve_binds_the_hash_seen_and_stale_is_refused(client: TestClient, db: Session) -> None:
    d = fresh_draft(db, text="谢谢分享，冷萃真的不错")
    seen = d.content_hash
    log_in(client)
    csrf = token(client, f"/drafts/{d.id}")
    # someone else edits the text while alice reads the old one
    review.edit(db, d.id, "谢谢分享，我们也爱冷萃", "bob")
    resp = client.post(f"/drafts/{d.id}/approve", data={"csrf": csrf, "seen_hash": seen})
    assert resp.status_code == 409
    assert "changed since you read it" in resp.text
    db.refresh(d)
    assert d.status == "edited" and d.approved_hash is None
    resp = client.post(f"/drafts/{d.id}/approve", data={"csrf": csrf, "seen_hash": d.content_hash})
    assert resp.status_code == 303 and resp.headers["location"].endswith("done=approved")
    db.refresh(d)
    assert (d.status, d.approved_hash, d.reviewed_by) == ("approved", d.content_hash, "alice")
    assert "Approved." in client.get(resp.headers["location"]).text


def test_non_reviewer_cannot_approve_edit_reject_or_suppress(
    tmp_path: Path, web_engine: Engine, db: Session
) -> None:
    d = fresh_draft(db)
    client = make_client(web_settings(tmp_path, reviewers=["alice", "bob"]), web_engine)
    log_in(client, "carol")
    page = client.get(f"/drafts/{d.id}")
    assert "read only" in page.text and "Approve this text" not in page.text
    csrf = csrf_of(page.text)
    for path, data in (
        ("approve", {"seen_hash": d.content_hash}),
        ("edit", {"text": "新的文字"}),
        ("reject", {"reason": "no"}),
        ("suppress", {"reason": "no"}),
    ):
        resp = client.post(f"/drafts/{d.id}/{path}", data={"csrf": csrf, **data})
        assert resp.status_code in (403, 409), path
        assert "is not a reviewer" in resp.text, path
    client.post("/suppressions", data={"csrf": csrf, "account_id": "u9", "reason": "x"})
    db.refresh(d)
    assert d.status == "pending" and db.exec(select(AuditEvent)).all() == []
    assert db.exec(select(Suppression)).all() == []
    # a reviewer may; and nobody approves their own edit
    log_in(client, "alice")
    csrf = token(client)
    resp = client.post(f"/drafts/{d.id}/edit", data={"csrf": csrf, "text": "谢谢，我们也这么觉得"})
    assert resp.status_code == 303
    db.refresh(d)
    resp = client.post(f"/drafts/{d.id}/approve", data={"csrf": csrf, "seen_hash": d.content_hash})
    assert resp.status_code == 409 and "nobody approves their own text" in resp.text


def test_edit_reject_suppress_and_the_audit_log(client: TestClient, db: Session) -> None:
    d1 = fresh_draft(db, account="u1", text="第一条")
    d2 = fresh_draft(db, account="u2", text="第二条")
    log_in(client)
    csrf = token(client)
    # an edit with a sensitive word is refused with the reason, and the text kept in the form
    resp = client.post(f"/drafts/{d1.id}/edit", data={"csrf": csrf, "text": "加微信领取返现"})
    assert (
        resp.status_code == 409 and "sensitive words" in resp.text and "加微信领取返现" in resp.text
    )
    resp = client.post(f"/drafts/{d1.id}/edit", data={"csrf": csrf, "text": "新的\r\n文字"})
    assert resp.status_code == 303
    db.refresh(d1)
    assert (d1.status, d1.text, d1.reviewed_by) == ("edited", "新的\n文字", "alice")
    resp = client.post(f"/drafts/{d1.id}/reject", data={"csrf": csrf, "reason": "off topic"})
    assert resp.status_code == 303
    resp = client.post(f"/drafts/{d2.id}/suppress", data={"csrf": csrf, "reason": "asked us"})
    assert resp.status_code == 303
    db.refresh(d1)
    db.refresh(d2)
    assert d1.status == "rejected" and d2.status == "rejected"
    sup = db.exec(select(Suppression)).one()
    assert (sup.account_id, sup.added_by, sup.reason) == ("u2", "alice", "asked us")
    # a refused transition is a message, never a 500
    resp = client.post(f"/drafts/{d1.id}/reject", data={"csrf": csrf, "reason": "again"})
    assert resp.status_code == 409 and "cannot become rejected" in resp.text
    audit = client.get("/audit").text
    assert audit.index("suppressed") < audit.index("edited")  # newest first
    assert "off topic" in audit and d1.content_hash[:12] in audit
    assert "asked us" in client.get("/suppressions").text
    client.post("/suppressions", data={"csrf": csrf, "account_id": "u7", "reason": "spam"})
    assert {s.account_id for s in db.exec(select(Suppression))} == {"u2", "u7"}


def test_bulk_approve_carries_each_seen_hash(client: TestClient, db: Session) -> None:
    a = fresh_draft(db, account="u1", text="谢谢你分享的手冲心得")
    b = fresh_draft(db, account="u2", text="这家店的拿铁我们也喜欢")
    c = fresh_draft(db, account="u3", text="冷萃和冰滴有什么不同呢")
    log_in(client)
    csrf = token(client)
    stale = b.content_hash
    review.edit(db, b.id, "这家店的拿铁确实好喝", "bob")
    picks = [f"{a.id}:{a.content_hash}", f"{b.id}:{stale}", f"{c.id}:{c.content_hash}"]
    resp = client.post("/bulk", data={"csrf": csrf, "action": "approve", "pick": picks})
    assert resp.status_code == 303
    page = client.get("/").text
    assert "approved 2 of 3 drafts" in page and "changed since you read it" in page
    db.expire_all()
    statuses = {d.id: d.status for d in db.exec(select(Draft).order_by(col(Draft.id)))}
    assert statuses == {a.id: "approved", b.id: "edited", c.id: "approved"}
    resp = client.post(
        "/bulk", data={"csrf": csrf, "action": "reject", "reason": "dup", "pick": [f"{b.id}:x"]}
    )
    db.refresh(b)
    assert b.status == "rejected"


def test_queue_filters_and_paging(client: TestClient, db: Session) -> None:
    from tests.bot.world import T0

    for i in range(55):
        d = fresh_draft(db, account=f"u{i}", text=f"第{i}条回复")
        d.evidence = {
            "influence": {"score": i / 100, "rank": 55 - i},
            "matched": {"interests": ["coffee"] if i % 2 else ["tea"]},
        }
        d.created_at = T0 + timedelta(minutes=i)
        db.add(d)
    follow = fresh_draft(db, kind="follow", account="f1")
    db.commit()
    log_in(client)
    first = client.get("/").text
    assert "56 in all" in first and "page 1 of 2" in first and "第54条回复" not in first
    assert "第54条回复" in client.get("/?page_no=2").text
    only = client.get("/?interest=coffee&min_score=0.5&kind=reply").text
    assert "2 in all" in only and "第51条回复" in only and "第53条回复" in only
    assert "第50条回复" not in only and "第49条回复" not in only
    assert f"#{follow.id}<" in client.get("/?kind=follow").text
    assert "is not a number" in client.get("/?min_score=abc").text
    assert "No drafts match" in client.get("/?status=sent").text


def test_reveal_escapes_and_names_hidden_characters() -> None:
    from bot.web.render import hidden_in, reveal

    out = str(reveal('<b a="1">\u202eok\u200b&\u2066'))
    assert out.startswith("&lt;b a=&#34;1&#34;&gt;")
    assert '<span class="hidden-char" title="U+202E RIGHT-TO-LEFT OVERRIDE">U+202E</span>' in out
    assert "U+200B</span>&amp;" in out and "U+2066</span>" in out
    assert "\u202e" not in out and "\u200b" not in out
    # textcheck's list, plus other invisible format characters; line breaks and CJK are fine
    assert hidden_in("a\u00adb\u3164c\U000e0041") == [
        "U+00AD SOFT HYPHEN",
        "U+3164 HANGUL FILLER",
        "U+E0041 TAG LATIN CAPITAL LETTER A",
    ]
    assert hidden_in("第一行\r\n第二行\t好") == [] and str(reveal("好")) == "好"
