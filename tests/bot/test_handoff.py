"""Weibo hand-off: approved Weibo drafts go to a person (``handoff``), counted against the caps;
the person confirms (sent, with where) or skips (failed). Plus: no follow/unfollow churn."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlmodel import Session, col, select

from bot import dispatch, drafts, handoff, review
from bot.cli import cli
from bot.dispatch import HANDOFF
from bot.guardrails import recent_follows
from crawlers.config import default_settings
from crawlers.errors import ReviewError
from crawlers.models import AuditEvent, Draft, content_hash
from crawlers.store import make_engine, migrate
from tests.bot.test_review import make_draft
from tests.bot.world import T0, bot_settings, build_world


def approved(session: Session, kind: str, account: str, text: str = "") -> Draft:
    d = make_draft(session, kind=kind, account=account, text=text)
    return review.approve(session, int(d.id or 0), "alice", now=T0)


def trail(session: Session, draft_id: int | None) -> list[tuple[str, str]]:
    stmt = select(AuditEvent).where(AuditEvent.draft_id == draft_id).order_by(col(AuditEvent.id))
    return [(e.action, e.actor) for e in session.exec(stmt)]


def test_weibo_drafts_are_handed_off_within_the_caps(session: Session) -> None:
    first = approved(session, "reply", "1001", "谢谢分享，冷萃确实更顺口")
    approved(session, "repost", "1002", "说得太好了，拾光咖啡也很认同")
    cfg = default_settings(dispatch={"comment_per_hour": 1})
    out = dispatch.run(session, cfg, {"weibo": HANDOFF}, now=T0)
    assert out.handoff == 1 and out.held["comment cap per hour"] == 1 and out.sent == 0
    assert "handed off 1" in str(out)
    session.refresh(first)
    assert first.status == "handoff" and first.sent_at is not None
    assert [d.id for d in handoff.pending(session)] == [first.id]
    assert trail(session, first.id) == [("approved", "alice"), ("handoff", "tingfeng")]
    # a hand-off cannot be edited or rejected any more: only confirmed or skipped
    with pytest.raises(ReviewError, match="cannot become"):
        review.edit(session, int(first.id or 0), "改一下", "bob", now=T0)


def test_confirm_and_skip(session: Session) -> None:
    reply = approved(session, "reply", "1001", "谢谢分享，冷萃确实更顺口")
    follow = approved(session, "follow", "1003")
    dispatch.run(session, default_settings(), {"weibo": HANDOFF}, now=T0)
    assert handoff.links(reply) == ["https://m.weibo.cn/detail/p-1001-reply",
                                    "https://weibo.com/1001/p-1001-reply"]  # fmt: skip
    assert handoff.links(follow)[0] == "https://weibo.com/u/1003"
    with pytest.raises(ReviewError, match="--ref"):
        handoff.confirm(session, int(reply.id or 0), "carol", "  ")
    with pytest.raises(ReviewError, match="not the text you were shown"):
        handoff.confirm(session, int(reply.id or 0), "carol", "x", expected_hash="00000000")
    url = "https://weibo.com/1001/NabcDEF12"
    done = handoff.confirm(session, int(reply.id or 0), "carol", url, now=T0)
    assert done.status == "sent" and done.platform_ref == url
    assert trail(session, reply.id)[-1] == ("sent", "carol")
    with pytest.raises(ReviewError, match="not handed off"):
        handoff.confirm(session, int(reply.id or 0), "carol", url)
    with pytest.raises(ReviewError, match="why"):
        handoff.skip(session, int(follow.id or 0), "carol", "")
    skipped = handoff.skip(session, int(follow.id or 0), "carol", "account deleted", now=T0)
    assert skipped.status == "failed" and "account deleted" in skipped.dispatch_error
    assert handoff.pending(session) == []


def test_confirm_refuses_a_text_changed_behind_the_approval(session: Session) -> None:
    d = approved(session, "reply", "1001", "谢谢分享，冷萃确实更顺口")
    dispatch.run(session, default_settings(), {"weibo": HANDOFF}, now=T0)
    d.text = "被悄悄改过的文字"  # a write that bypassed review.edit
    session.add(d)
    session.commit()
    with pytest.raises(ReviewError, match="no longer matches its approval"):
        handoff.confirm(session, int(d.id or 0), "carol", "https://weibo.com/1001/x")
    session.refresh(d)
    assert d.status == "handoff"


def test_configured_default_hands_weibo_off(session: Session) -> None:
    approved(session, "reply", "1001", "谢谢分享，冷萃确实更顺口")
    out = dispatch.run_configured(session, default_settings(), now=T0)  # default: handoff
    assert out.handoff == 1 and out.sent == 0


def test_handoff_commands(tmp_path: Path) -> None:
    from tests.bot.test_cli import _settings_file

    path = _settings_file(tmp_path)
    text = path.read_text(encoding="utf-8").replace('weibo = "sandbox"', 'weibo = "handoff"')
    path.write_text(text, encoding="utf-8")
    engine = make_engine(f"sqlite:///{tmp_path / 'cli.db'}")
    migrate(engine)
    with Session(engine) as s:
        reply = approved(s, "reply", "1001", "谢谢分享\n冷萃确实更顺口")
        follow = approved(s, "follow", "1003")
        ids, digest = (reply.id, follow.id), reply.approved_hash
    engine.dispose()
    run = CliRunner().invoke
    out = run(cli, ["--settings", str(path), "dispatch"])
    assert out.exit_code == 0 and "handed off 2" in out.output, out.output
    out = run(cli, ["--settings", str(path), "handoff", "list"])
    assert out.exit_code == 0, out.output
    assert "https://m.weibo.cn/detail/p-1001-reply" in out.output
    assert "    谢谢分享\n    冷萃确实更顺口\n" in out.output and f"hash: {digest}" in out.output
    assert "https://weibo.com/u/1003" in out.output
    done = ["--settings", str(path), "handoff", "done", str(ids[0]), "--ref", "Nabc", "--as", "dan"]
    out = run(cli, done)
    assert out.exit_code == 0 and "sent" in out.output, out.output
    out = run(cli, ["--settings", str(path), "handoff", "skip", str(ids[1]), "--why", "gone"])
    assert out.exit_code == 0, out.output
    out = run(cli, ["--settings", str(path), "handoff", "done", str(ids[1]), "--ref", "x"])
    assert out.exit_code == 5 and "not handed off" in out.output
    out = run(cli, ["--settings", str(path), "handoff", "list"])
    assert "nothing handed off" in out.output


# --- no follow/unfollow churn ------------------------------------------------------------------


def _followed(session: Session, account: str, campaign: str, days_ago: float) -> Draft:
    digest = content_hash("follow", "weibo", account, None, "")
    d = Draft(campaign=campaign, kind="follow", platform="weibo", target_account=account,
              content_hash=digest, approved_hash=digest, status="sent",
              dedup_key=f"{campaign}:follow:weibo:{account}:", sent_at=T0 - timedelta(days=days_ago))  # fmt: skip
    session.add(d)
    session.commit()
    return d


def test_a_recent_follow_is_never_drafted_or_sent_again(session: Session) -> None:
    build_world(session)
    _followed(session, "u1", "other", days_ago=10)  # another campaign, same platform account
    _followed(session, "u2", "other", days_ago=100)  # long ago: may be proposed again
    assert recent_follows(session, T0 - timedelta(days=90)) == {("weibo", "u1")}
    drafts.run(session, bot_settings(follow_top_k=3, reply_to_questions=False), now=T0)
    cafe = {d.target_account for d in session.exec(select(Draft).where(
        Draft.campaign == "cafe", Draft.kind == "follow"))}  # fmt: skip
    assert "u1" not in cafe and "u2" in cafe
    # and at dispatch: a follow approved anyway (drafted before) is held, never sent
    again = session.exec(select(Draft).where(Draft.campaign == "cafe", Draft.kind == "follow",
                                             Draft.target_account == "u2")).one()  # fmt: skip
    review.approve(session, int(again.id or 0), "alice", now=T0)
    late = _followed(session, "u2", "third", days_ago=5)
    out = dispatch.run(session, default_settings(), {"weibo": HANDOFF}, now=T0)
    assert out.held["refollow"] == 1 and out.handoff == 0
    # a hand-off confirmed counts as followed too
    late.status = "handoff"
    session.add(late)
    session.commit()
    assert ("weibo", "u2") in recent_follows(session, T0 - timedelta(days=90))


def test_suppressing_an_account_withdraws_its_hand_offs(session: Session) -> None:
    d = approved(session, "reply", "1001", "谢谢分享，冷萃确实更顺口")
    dispatch.run(session, default_settings(), {"weibo": HANDOFF}, now=T0)
    review.suppress(session, "weibo", "1001", "alice", "asked us to stop", now=T0)
    session.refresh(d)
    assert d.status == "rejected" and handoff.pending(session) == []
