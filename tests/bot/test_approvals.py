"""Multi-step approval (``[bot] approvals_required``): a draft is approved only once that many
different reviewers approved the same text; until then dispatch never sees it."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from bot import dispatch, review
from bot.dispatch import SandboxAdapter
from crawlers.config import BotSettings, default_settings
from crawlers.errors import ReviewError
from crawlers.models import AuditEvent, Draft, WebUser
from crawlers.sandbox.server import SandboxServer, make_server
from crawlers.sandbox.world import build_world
from crawlers.store import make_engine, migrate
from tests.bot.test_cli import _run, _settings_file
from tests.bot.test_dispatch import actions
from tests.bot.test_review import events, make_draft
from tests.bot.world import T0
from tests.web.conftest import PASSWORD_HASH, csrf_of, fresh_draft, log_in, make_client

TWO = BotSettings(reviewers=["alice", "bob", "carol"], approvals_required=2)


def trail(session: Session, draft_id: int | None) -> list[str]:
    return [e.action for e in events(session, draft_id)]


def test_two_reviewers_approve_the_same_text(session: Session) -> None:
    d = make_draft(session, text="谢谢分享，冷萃确实更顺口")
    h = d.content_hash
    review.approve(session, d.id, "alice", expected_hash=h, now=T0, settings=TWO)
    assert (d.status, d.approved_hash) == ("pending", None)
    assert review.approvers(d) == ["alice"] and d.approvals[0]["hash"] == h
    assert review.progress(d, 2) == "approval 1 of 2 (alice)"
    [step] = events(session, d.id)
    assert (step.action, step.actor, step.after_hash) == ("approval_step", "alice", h)
    assert step.detail == {"from": "pending", "hash": h, "step": 1, "of": 2}
    review.approve(session, d.id, "bob", expected_hash=h[:12], now=T0, settings=TWO)
    assert (d.status, d.approved_hash, d.reviewed_by) == ("approved", h, "bob")
    assert review.progress(d, 2) == "approval 2 of 2 (alice, bob)"
    last = events(session, d.id)[-1]
    assert last.action == "approved" and last.detail["approvers"] == ["alice", "bob"]


def test_a_reviewer_approves_once(session: Session) -> None:
    d = make_draft(session)
    review.approve(session, d.id, "alice", now=T0, settings=TWO)
    with pytest.raises(ReviewError, match="alice already approved this text"):
        review.approve(session, d.id, "alice", now=T0, settings=TWO)
    session.rollback()
    assert d.status == "pending" and trail(session, d.id) == ["approval_step"]
    # three required: two steps by two people are still not enough
    three = BotSettings(reviewers=["alice", "bob", "carol"], approvals_required=3)
    review.approve(session, d.id, "bob", now=T0, settings=three)
    assert d.status == "pending" and review.progress(d, 3) == "approval 2 of 3 (alice, bob)"
    review.approve(session, d.id, "carol", now=T0, settings=three)
    assert d.status == "approved"


def test_an_edit_clears_the_steps_and_its_author_cannot_approve(session: Session) -> None:
    d = make_draft(session)
    review.approve(session, d.id, "alice", now=T0, settings=TWO)
    review.edit(session, d.id, "改过的回复，谢谢你", "bob", now=T0, settings=TWO)
    assert d.status == "edited" and d.approvals == [] and review.approvers(d) == []
    assert events(session, d.id)[-1].detail["cleared_approvals"] == ["alice"]
    with pytest.raises(ReviewError, match="last edited by bob"):
        review.approve(session, d.id, "bob", now=T0, settings=TWO)
    session.rollback()
    # alice approves again (the new text), carol completes it: bob's text, two others' approval
    review.approve(session, d.id, "alice", now=T0, settings=TWO)
    assert d.status == "edited" and d.reviewed_by == "bob"
    with pytest.raises(ReviewError, match="last edited by bob"):
        review.approve(session, d.id, "bob", now=T0, settings=TWO)
    session.rollback()
    review.approve(session, d.id, "carol", now=T0, settings=TWO)
    assert d.status == "approved" and d.approved_hash == d.content_hash


def test_a_stale_hash_is_refused_at_every_step(session: Session) -> None:
    d = make_draft(session)
    seen = d.content_hash
    review.approve(session, d.id, "alice", expected_hash=seen, now=T0, settings=TWO)
    review.edit(session, d.id, "换一种说法的回复", "carol", now=T0, settings=TWO)
    with pytest.raises(ReviewError, match="changed since you read it"):
        review.approve(session, d.id, "bob", expected_hash=seen, now=T0, settings=TWO)
    session.rollback()
    assert d.status == "edited" and d.approved_hash is None and d.approvals == []


def test_the_text_checks_run_at_every_step(session: Session) -> None:
    first = make_draft(session, account="u1", text="谢谢分享，冷萃确实更顺口呢")
    review.approve(session, first.id, "alice", now=T0, settings=BotSettings())
    twin = make_draft(session, account="u2", text="谢谢分享，冷萃确实更顺口呢")
    with pytest.raises(ReviewError, match="like draft"):
        review.approve(session, twin.id, "alice", now=T0, settings=TWO)
    session.rollback()
    assert twin.approvals == [] and trail(session, twin.id) == []


def test_a_reject_after_one_step_ends_it(session: Session) -> None:
    d = make_draft(session)
    review.approve(session, d.id, "alice", now=T0, settings=TWO)
    review.reject(session, d.id, "bob", reason="off-brand", now=T0, settings=TWO)
    assert d.status == "rejected" and d.approved_hash is None
    with pytest.raises(ReviewError, match="cannot become approved"):
        review.approve(session, d.id, "carol", now=T0, settings=TWO)
    session.rollback()
    assert trail(session, d.id) == ["approval_step", "rejected"]


def test_one_approval_required_is_the_single_step_approval(session: Session) -> None:
    d = make_draft(session)
    one = BotSettings(reviewers=["alice", "bob"])
    assert one.approvals_required == 1
    review.approve(session, d.id, "alice", expected_hash=d.content_hash, now=T0, settings=one)
    assert (d.status, d.approved_hash, d.approvals) == ("approved", d.content_hash, [])
    [e] = events(session, d.id)
    assert e.action == "approved" and e.detail == {"from": "pending"}


def test_too_few_reviewers_is_a_config_error() -> None:
    with pytest.raises(ValidationError, match=r"approvals_required = 2 .*\[bot\] reviewers"):
        BotSettings(reviewers=["alice"], approvals_required=2)
    with pytest.raises(ValidationError, match="approvals_required"):
        BotSettings(approvals_required=2)
    with pytest.raises(ValidationError, match="approvals_required"):
        BotSettings(reviewers=["a", "b", "c", "d"], approvals_required=4)
    with pytest.raises(ValidationError, match="2 distinct names"):
        BotSettings(reviewers=["alice", "alice"], approvals_required=2)


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    server = make_server("127.0.0.1", 0, build_world(3, 40))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def test_dispatch_never_sends_a_half_approved_draft(
    session: Session, sandbox: SandboxServer
) -> None:
    half = make_draft(session, account="u1", text="第一条：谢谢分享你的冷萃经验")
    full = make_draft(session, account="u2", text="第二条：手冲可以试试中浅烘焙")
    review.approve(session, half.id, "alice", now=T0, settings=TWO)
    review.approve(session, full.id, "alice", now=T0, settings=TWO)
    adapters = {"weibo": SandboxAdapter(sandbox.base_url, 2.0)}
    cfg = default_settings(dispatch={"timeout_seconds": 2.0}, bot=TWO.model_dump())
    assert dispatch.run(session, cfg, adapters, now=T0).sent == 0
    assert actions(sandbox) == []
    review.approve(session, full.id, "bob", now=T0, settings=TWO)
    assert dispatch.run(session, cfg, adapters, now=T0).sent == 1
    (act,) = actions(sandbox)
    assert act["key"] == full.approved_hash and act["target_account"] == "u2"
    session.refresh(half)
    assert half.status == "pending" and half.approved_hash is None


def test_the_cli_prints_the_steps(tmp_path: Path) -> None:
    path = _settings_file(tmp_path)
    body = path.read_text(encoding="utf-8")
    body = re.sub(r"^reviewers = \[\]", 'reviewers = ["alice", "bob"]', body, count=1, flags=re.M)
    body = re.sub(r"^approvals_required = 1", "approvals_required = 2", body, count=1, flags=re.M)
    path.write_text(body, encoding="utf-8")
    from tests.bot.test_cli import _seed_draft

    digest = _seed_draft(path)
    code, out = _run(path, "review", "approve", "1", "--hash", digest[:8], "--as", "alice")
    assert code == 0 and "approval 1 of 2 (alice)" in out, out
    code, out = _run(path, "review", "show", "1")
    assert code == 0 and "approvals: approval 1 of 2 (alice)" in out, out
    code, out = _run(path, "review", "list")
    assert code == 0 and "[approval 1 of 2 (alice)]" in out, out
    code, out = _run(path, "review", "approve", "1", "--hash", digest[:8], "--as", "alice")
    assert code != 0 and "already approved" in out
    code, out = _run(path, "review", "approve", "1", "--hash", digest[:8], "--as", "bob")
    assert code == 0 and "approved draft #1" in out and "approval 2 of 2 (alice, bob)" in out


@pytest.fixture
def web_engine(tmp_path: Path) -> Iterator[Engine]:
    eng = make_engine(f"sqlite:///{tmp_path / 'web.db'}")
    migrate(eng)
    with Session(eng) as s:
        for name in ("alice", "bob"):
            s.add(WebUser(name=name, password_hash=PASSWORD_HASH))
        s.commit()
    yield eng
    eng.dispose()


def test_two_step_approval_on_the_web(tmp_path: Path, web_engine: Engine) -> None:
    cfg = default_settings(
        base_dir=tmp_path,
        store={"url": f"sqlite:///{tmp_path / 'web.db'}"},
        bot={"reviewers": ["alice", "bob"], "approvals_required": 2},
    )
    with Session(web_engine) as db:
        d = fresh_draft(db, text="谢谢分享，冷萃确实更顺口")
        draft_id, h = d.id, d.content_hash
    client = make_client(cfg, web_engine)
    log_in(client, "alice")
    page = client.get(f"/drafts/{draft_id}")
    assert "0 of 2 approvals" in page.text and "Add my approval" in page.text
    resp = client.post(
        f"/drafts/{draft_id}/approve", data={"csrf": csrf_of(page.text), "seen_hash": h}
    )
    assert resp.status_code == 303 and "done=approval_step" in resp.headers["location"]
    page = client.get(f"/drafts/{draft_id}")
    assert "1 of 2 approvals: <span" in page.text and "alice</span>" in page.text
    assert re.search(r"<button[^>]*disabled>You approved this text", page.text)
    queue = client.get("/")
    assert "1 of 2 approvals" in queue.text
    assert re.search(rf'value="{draft_id}:{h}"[^>]*disabled', queue.text)
    # alice's bulk approve of her own step again is refused; the draft stays pending
    client.post("/bulk", data={"csrf": csrf_of(queue.text), "action": "approve",
                               "pick": f"{draft_id}:{h}"})  # fmt: skip
    with Session(web_engine) as db:
        assert db.get(Draft, draft_id).status == "pending"  # type: ignore[union-attr]
    # bob, on a fresh login, adds the second step through bulk approve: approved
    bob = make_client(cfg, web_engine)
    log_in(bob, "bob")
    queue = bob.get("/")
    assert re.search(rf'value="{draft_id}:{h}" aria-label="pick draft {draft_id}">', queue.text)
    resp = bob.post("/bulk", data={"csrf": csrf_of(queue.text), "action": "approve",
                                   "pick": f"{draft_id}:{h}"})  # fmt: skip
    assert resp.status_code == 303
    with Session(web_engine) as db:
        d = db.get(Draft, draft_id)
        assert d is not None and (d.status, d.approved_hash) == ("approved", h)
        kinds = [
            e.action for e in db.exec(select(AuditEvent).where(AuditEvent.draft_id == draft_id))
        ]
        assert kinds == ["approval_step", "approved"]
