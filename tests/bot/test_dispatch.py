"""Dispatch to the sandbox platform over real HTTP: exactly once, bound to the approval, within
the caps, and an unknown outcome is never retried."""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from bot import dispatch, review
from bot.dispatch import SandboxAdapter
from crawlers.config import default_settings
from crawlers.models import AuditEvent, Draft
from crawlers.sandbox.server import SandboxServer, make_server
from crawlers.sandbox.world import build_world
from crawlers.store import make_engine, migrate
from tests.bot.test_review import make_draft
from tests.bot.world import T0


@pytest.fixture(scope="module")
def world():  # type: ignore[no-untyped-def]
    return build_world(3, 40)


@pytest.fixture
def sandbox(world) -> Iterator[SandboxServer]:  # type: ignore[no-untyped-def]
    server = make_server("127.0.0.1", 0, world)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def actions(server: SandboxServer) -> list[dict]:
    with urllib.request.urlopen(server.base_url + "/_sandbox/actions", timeout=5) as resp:
        return json.loads(resp.read())["actions"]


def settings(**dispatch_cfg: object):  # type: ignore[no-untyped-def]
    return default_settings(dispatch={"timeout_seconds": 2.0, **dispatch_cfg})


def approved(session: Session, n: int, kind: str = "reply") -> list[Draft]:
    out = []
    for i in range(n):
        d = make_draft(
            session, kind=kind, account=f"u{i}", text=f"第{i}条：谢谢分享你的冷萃经验{i * 7}"
        )
        review.approve(session, d.id, "alice", now=T0)
        out.append(d)
    return out


def test_approved_drafts_are_sent_once_with_the_approved_text(
    session: Session, sandbox: SandboxServer
) -> None:
    (d,) = approved(session, 1)
    adapters = {"weibo": SandboxAdapter(sandbox.base_url, 2.0)}
    out = dispatch.run(session, settings(), adapters, now=T0)
    assert (out.sent, out.failed, out.reconcile) == (1, 0, 0)
    session.refresh(d)
    assert d.status == "sent" and d.platform_ref == "a1" and d.reviewed_by == "alice"
    (act,) = actions(sandbox)
    assert act["text"] == d.text and act["key"] == d.approved_hash == d.content_hash
    trail = [e.action for e in session.exec(select(AuditEvent).where(AuditEvent.draft_id == d.id)
                                             .order_by(col(AuditEvent.id)))]  # fmt: skip
    assert trail == ["approved", "sending", "sent"]
    # nothing left to send; a sent draft cannot be edited or rejected any more
    assert dispatch.run(session, settings(), adapters, now=T0).sent == 0
    with pytest.raises(Exception, match="cannot become"):
        review.reject(session, d.id, "bob", now=T0)


def test_two_workers_and_a_double_click_make_one_platform_call(
    tmp_path: Path, sandbox: SandboxServer
) -> None:
    # a file database, as deployed: each worker has its own connection
    engine = make_engine(f"sqlite:///{tmp_path / 'd.db'}")
    migrate(engine)
    with Session(engine) as s:
        drafts_ = approved(s, 6)
        ids = [d.id for d in drafts_]
        # the double-click: approving again is refused, nothing changes
        with pytest.raises(Exception, match="cannot become approved"):
            review.approve(s, ids[0], "alice", now=T0)
    adapters = {"weibo": SandboxAdapter(sandbox.base_url, 2.0)}
    barrier = threading.Barrier(2)
    results = []

    def worker() -> None:
        with Session(engine) as s:
            barrier.wait()
            results.append(dispatch.run(s, settings(), adapters, now=T0))

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r.sent for r in results) == 6
    sent = actions(sandbox)
    assert len(sent) == 6 and len({a["key"] for a in sent}) == 6
    # one call each: the claim, not the platform's idempotency, kept the second worker off
    assert sandbox.hits["/api/actions"] == 6
    engine.dispose()


def test_text_changed_behind_the_approval_is_not_sent(
    session: Session, sandbox: SandboxServer
) -> None:
    (d,) = approved(session, 1)
    d.text = "被悄悄改过的文字"  # a write that bypassed review.edit
    session.add(d)
    session.commit()
    out = dispatch.run(session, settings(), {"weibo": SandboxAdapter(sandbox.base_url)}, now=T0)
    assert out.sent == 0 and out.held["not bound to its approval"] == 1
    assert actions(sandbox) == []


def test_caps_and_cooldown_hold_drafts_back(session: Session, sandbox: SandboxServer) -> None:
    approved(session, 5)
    adapters = {"weibo": SandboxAdapter(sandbox.base_url, 2.0)}
    out = dispatch.run(session, settings(comment_per_hour=3), adapters, now=T0)
    assert out.sent == 3 and out.held["comment cap per hour"] == 2
    # an hour later the window has moved: the rest go
    later = T0 + timedelta(hours=1, minutes=1)
    assert dispatch.run(session, settings(comment_per_hour=3), adapters, now=later).sent == 2
    # a second reply to u0 within the cool-down waits
    again = make_draft(session, kind="repost", account="u0", text="转发一下，冷萃真的值得一试")
    review.approve(session, again.id, "alice", now=later)
    out = dispatch.run(session, settings(), adapters, now=later + timedelta(hours=1))
    assert out.held["target cool-down"] == 1 and out.sent == 0
    assert dispatch.run(session, settings(), adapters, now=later + timedelta(hours=25)).sent == 1
    assert len(actions(sandbox)) == 6


def test_refused_goes_to_failed_and_lost_goes_to_reconcile_never_retried(
    session: Session, sandbox: SandboxServer
) -> None:
    first, second = approved(session, 2)
    adapters = {"weibo": SandboxAdapter(sandbox.base_url, 1.0)}
    sandbox.action_fault = "reject"
    out = dispatch.run(session, settings(), adapters, now=T0, limit=1)
    session.refresh(first)
    assert out.failed == 1 and first.status == "failed" and "HTTP 403" in first.dispatch_error
    sandbox.action_fault = "lost"  # the platform does it, but the answer never comes
    out = dispatch.run(session, settings(), adapters, now=T0)
    session.refresh(second)
    assert out.reconcile == 1 and second.status == "reconcile"
    assert "no answer" in second.dispatch_error
    assert [a["key"] for a in actions(sandbox)] == [second.approved_hash]
    # the next run does not send it again
    sandbox.action_fault = ""
    assert dispatch.run(session, settings(), adapters, now=T0 + timedelta(days=2)).sent == 0
    assert len(actions(sandbox)) == 1


def test_the_sandbox_endpoint_is_idempotent(sandbox: SandboxServer) -> None:
    d = Draft(kind="follow", platform="weibo", target_account="u9", text="", campaign="c",
              content_hash="h", dedup_key="k")  # fmt: skip
    adapter = SandboxAdapter(sandbox.base_url)
    assert adapter.send(d, "key-1") == adapter.send(d, "key-1") == "a1"
    assert len(actions(sandbox)) == 1


def test_dispatch_command_sends_to_the_sandbox(tmp_path: Path, sandbox: SandboxServer) -> None:
    from click.testing import CliRunner

    from bot.cli import cli
    from tests.bot.test_cli import _settings_file

    path = _settings_file(tmp_path)
    path.write_text(
        path.read_text(encoding="utf-8").replace(
            "port = 8765", f"port = {sandbox.server_address[1]}", 1
        ),
        encoding="utf-8",
    )
    engine = make_engine(f"sqlite:///{tmp_path / 'cli.db'}")
    migrate(engine)
    with Session(engine) as s:
        approved(s, 2)
    engine.dispose()
    result = CliRunner().invoke(cli, ["--settings", str(path), "dispatch", "--to", "sandbox"])
    assert result.exit_code == 0, result.output
    assert "sent 2, failed 0, to reconcile 0; waiting: none" in result.output
    assert len(actions(sandbox)) == 2


def test_a_draft_left_sending_by_a_dead_worker_goes_to_reconcile(
    session: Session, sandbox: SandboxServer
) -> None:
    old, fresh = approved(session, 2)
    adapters = {"weibo": SandboxAdapter(sandbox.base_url, 2.0)}
    # both claimed by workers; the first one's worker died 2 minutes ago (kill -9 after claim)
    assert dispatch.claim(session, old, T0)
    assert dispatch.claim(session, fresh, T0 + timedelta(seconds=100))
    out = dispatch.run(session, settings(), adapters, now=T0 + timedelta(seconds=120))
    session.refresh(old)
    session.refresh(fresh)
    assert (old.status, fresh.status) == ("reconcile", "sending")
    assert out.reconcile == 1 and out.sent == 0 and actions(sandbox) == []
    assert "outcome is unknown" in old.dispatch_error
    last = session.exec(select(AuditEvent).where(AuditEvent.draft_id == old.id)
                        .order_by(col(AuditEvent.id).desc())).first()  # fmt: skip
    assert last is not None and last.action == "reconcile" and last.detail["from"] == "sending"
    # a later run leaves both alone: nothing is ever re-sent blindly
    dispatch.run(session, settings(), adapters, now=T0 + timedelta(seconds=130))
    session.refresh(fresh)
    assert fresh.status == "sending" and actions(sandbox) == []
