"""Dispatch to Mastodon over real HTTP (tests/mastodon_server.py's write side): the exact
approved text with the approved hash as Idempotency-Key, each failure in its state, one status
per draft whatever the workers do."""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import Session, select

from bot import dispatch, review
from bot.adapters.mastodon import MastodonAdapter, status_text
from bot.dispatch import Unavailable
from crawlers.config import default_settings
from crawlers.models import Draft, content_hash
from crawlers.store import make_engine, migrate
from tests.bot.world import T0
from tests.mastodon_server import MastodonReplay

TOKEN = "tok-SECRET-4242"


@pytest.fixture
def server() -> Iterator[MastodonReplay]:
    with MastodonReplay() as s:
        s.hang_s = 3.0
        yield s


def settings(**cfg: object):  # type: ignore[no-untyped-def]
    return default_settings(dispatch={"timeout_seconds": 2.0, **cfg})


def approved(
    session: Session, kind: str, account: str, post: str | None = None, text: str = ""
) -> Draft:
    """An approved Mastodon draft (``account`` is the hashtag of a group post)."""
    d = Draft(
        campaign="cafe", kind=kind, platform="mastodon", target_account=account,
        target_post=post, text=text, content_hash=content_hash(kind, "mastodon", account, post,
        text), dedup_key=f"cafe:{kind}:mastodon:{account}:{post or ''}", created_at=T0,
        updated_at=T0, expires_at=None,
    )  # fmt: skip
    session.add(d)
    session.commit()
    return review.approve(session, int(d.id or 0), "alice", now=T0)


def adapters(server: MastodonReplay, timeout: float = 2.0, **kw: str) -> dict:  # type: ignore[type-arg]
    return {"mastodon": MastodonAdapter(server.base_url, TOKEN, timeout, **kw)}


def test_each_kind_is_sent_with_the_approved_text_and_key(
    session: Session, server: MastodonReplay
) -> None:
    reply = approved(session, "reply", "201", "9001", "冷萃确实更顺口，谢谢分享！")
    repost = approved(session, "repost", "202", "9002", "说得太好了，拾光咖啡也很认同")
    follow = approved(session, "follow", "203")
    group = approved(session, "group_post", "coffee", None, "周末手冲小聚，欢迎来玩")
    out = dispatch.run(session, settings(), adapters(server), now=T0)
    assert (out.sent, out.failed, out.reconcile) == (4, 0, 0)
    for d in (reply, repost, follow, group):
        session.refresh(d)
        assert d.status == "sent"
    first, second, third = server.statuses
    assert (first["in_reply_to_id"], first["visibility"]) == ("9001", "public")
    assert (
        first["content"] == "<p>冷萃确实更顺口，谢谢分享！</p>"
        and reply.platform_ref == first["id"]
    )
    # repost-with-comment, "reply" mode: the approved text as a reply to the post
    assert second["in_reply_to_id"] == "9002" and repost.platform_ref == second["id"]
    # a group post: Mastodon has no groups, so the text carries the group's hashtag
    assert third["in_reply_to_id"] is None and third["content"].endswith("<p>#coffee</p>")
    assert server.follows == ["203"] and follow.platform_ref == "follow:203"
    posts = server.posts
    assert [h.idempotency_key for h in posts] == [
        d.approved_hash for d in (reply, repost, follow, group)
    ]
    assert {h.authorization for h in posts} == {f"Bearer {TOKEN}"}


def test_quote_mode_and_visibility(session: Session, server: MastodonReplay) -> None:
    d = approved(session, "repost", "202", "9002", "这篇值得一读")
    out = dispatch.run(
        session, settings(), adapters(server, repost="quote", visibility="unlisted"), now=T0
    )
    assert out.sent == 1
    (status,) = server.statuses
    assert status["quote"]["quoted_status"]["id"] == "9002" and status["in_reply_to_id"] is None
    assert status["visibility"] == "unlisted"
    session.refresh(d)
    assert d.platform_ref == status["id"]


def test_group_post_text_keeps_a_hashtag_it_already_has() -> None:
    d = Draft(kind="group_post", platform="mastodon", target_account="Coffee", text="一起 #coffee 吧",
              campaign="c", content_hash="h", dedup_key="k")  # fmt: skip
    assert status_text(d) == "一起 #coffee 吧"


def test_a_retry_with_the_same_key_creates_nothing_new(
    session: Session, server: MastodonReplay
) -> None:
    d = approved(session, "reply", "201", "9001", "谢谢分享")
    adapter = adapters(server)["mastodon"]
    assert adapter.send(d, "key-1") == adapter.send(d, "key-1")
    assert len(server.statuses) == 1 and len(server.posts) == 2
    adapter.send(d, "key-2")  # another key is another status, as on Mastodon
    assert len(server.statuses) == 2


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_each_fault_lands_in_its_state(session: Session, server: MastodonReplay) -> None:
    drafts = [approved(session, "reply", f"30{i}", f"80{i}", f"第{i}条回复：谢谢{i * 11}") for i in range(6)]  # fmt: skip
    fast = adapters(server, timeout=0.5)

    def one(fault: str, routes: dict = fast) -> dispatch.Summary:  # type: ignore[type-arg]
        server.fault = fault
        return dispatch.run(session, settings(), routes, now=T0, limit=1)

    # 422: refused for good, with Mastodon's error
    assert one("reject").failed == 1
    session.refresh(drafts[0])
    assert drafts[0].status == "failed" and "Text character limit" in drafts[0].dispatch_error
    # 503: nothing was created; it and the platform's other drafts wait for the next run
    out = one("busy")
    assert out.held[dispatch.BUSY] == 5 and out.sent == 0
    session.refresh(drafts[1])
    assert drafts[1].status == "approved" and "HTTP 503" in drafts[1].dispatch_error
    assert drafts[1].approved_hash == drafts[1].content_hash  # still bound: the same key later
    # no connection at all: nothing went out either
    refused = {"mastodon": MastodonAdapter(f"http://127.0.0.1:{_closed_port()}", TOKEN, 0.5)}
    assert one("", refused).held[dispatch.BUSY] == 5
    # a bad token: nothing happened; the draft waits (the token is fixed, not the draft)
    no_token = {"mastodon": MastodonAdapter(server.base_url, "", 0.5)}
    assert one("", no_token).held[dispatch.BUSY] == 5
    # 500: the server may have made it before failing -> reconcile
    assert one("error").reconcile == 1
    # hang past the client's timeout, and a dropped connection: created, answer lost
    assert one("hang").reconcile == 1
    assert one("drop").reconcile == 1
    for d in drafts:
        session.refresh(d)
    assert [d.status for d in drafts] == ["failed", "reconcile", "reconcile", "reconcile",
                                          "approved", "approved"]  # fmt: skip
    assert len(server.statuses) == 2  # hang and drop created theirs; 500/503/422 nothing
    # the next run sends the rest; unknown outcomes are never retried blindly
    server.fault = ""
    out = dispatch.run(session, settings(), fast, now=T0)
    assert (out.sent, out.reconcile) == (2, 0) and len(server.statuses) == 4


def test_the_token_is_never_logged_or_stored(
    session: Session, server: MastodonReplay, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for i, fault in enumerate(["", "reject", "error", "busy"]):
        approved(session, "reply", f"40{i}", f"70{i}", f"回复{i}：很有启发{i * 3}")
        server.fault = fault
        dispatch.run(session, settings(), adapters(server, timeout=0.5), now=T0, limit=1)
    assert TOKEN not in caplog.text
    assert TOKEN not in repr(adapters(server)["mastodon"])
    rows = session.exec(select(Draft.dispatch_error)).all()
    assert not any(TOKEN in (e or "") for e in rows)


def test_two_workers_and_a_double_click_make_one_status_each(
    tmp_path: Path, server: MastodonReplay
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    migrate(engine)
    with Session(engine) as s:
        ids = [approved(s, "reply", f"50{i}", f"60{i}", f"回复{i}：写得真好{i * 5}").id for i in range(5)]  # fmt: skip
        with pytest.raises(Exception, match="cannot become approved"):
            review.approve(s, int(ids[0] or 0), "alice", now=T0)  # the double-click
    routes = adapters(server)
    barrier = threading.Barrier(2)
    results: list[dispatch.Summary] = []

    def worker() -> None:
        with Session(engine) as s:
            barrier.wait()
            results.append(dispatch.run(s, settings(), routes, now=T0))

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r.sent for r in results) == 5
    assert len(server.statuses) == 5 and len(server.posts) == 5
    assert len({h.idempotency_key for h in server.posts}) == 5
    engine.dispose()


def test_run_configured_uses_the_token_from_the_environment(
    session: Session, server: MastodonReplay, monkeypatch: pytest.MonkeyPatch
) -> None:
    approved(session, "reply", "201", "9001", "谢谢分享，学到了")
    cfg = default_settings(mastodon={"base_url": server.base_url}, dispatch={"timeout_seconds": 2})
    monkeypatch.delenv("TINGFENG_MASTODON_TOKEN", raising=False)
    out = dispatch.run_configured(session, cfg, now=T0)
    assert out.sent == 0 and sum(out.held.values()) == 1
    assert isinstance(dispatch.build_adapters(cfg)["mastodon"], Unavailable)
    assert server.posts == []
    monkeypatch.setenv("TINGFENG_MASTODON_TOKEN", TOKEN)
    cfg = default_settings(mastodon={"base_url": server.base_url}, dispatch={"timeout_seconds": 2})
    assert dispatch.run_configured(session, cfg, now=T0).sent == 1
    assert server.posts[0].authorization == f"Bearer {TOKEN}"
    # mastodon = "off": nothing is dispatched there
    off = default_settings(dispatch={"mastodon": "off"})
    assert "mastodon" not in dispatch.build_adapters(off)
