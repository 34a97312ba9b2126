"""Follow drafts chosen on a real interaction graph: reach-maximising picks and look-alikes.

The store is filled the way the crawler fills it (interactions, posts, labels), ranked by the
real stage (``graph.score``), then drafted."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlmodel import Session, col, select

from bot import drafts, review
from crawlers.config import Settings, default_settings
from crawlers.models import Draft, Interaction
from graph import score
from tests.bot.world import CAMPAIGN, T0, add_account, add_post


def shared_audience_world(session: Session) -> None:
    """a1 and a2 post about coffee to the same eight fans; b1 to six fans of its own."""
    for uid in ("a1", "a2", "b1"):
        add_account(session, uid, f"博主{uid}")
        add_post(session, f"p-{uid}", uid, "今天的手冲咖啡", interests=["coffee"])
    rows = [(f"f{i}", a) for i in range(8) for a in ("a1", "a2")]
    rows += [(f"g{i}", "b1") for i in range(6)]
    for i, (src, dst) in enumerate(rows):
        session.add(Interaction(platform="weibo", kind="repost", src_id=src, dst_id=dst,
                                post_id=f"r{i}", created_at=T0 - timedelta(days=1)))  # fmt: skip
    session.commit()


def settings_for(**bot: object) -> Settings:
    camp = {**CAMPAIGN, "seed_accounts": ["a1"]}
    return default_settings(campaigns={"cafe": camp}, bot={"reply_to_questions": False,
                                                           "repost_top_k": 0, **bot})  # fmt: skip


def follows(session: Session, rule: str = "follow_top_influence") -> list[Draft]:
    stmt = select(Draft).where(Draft.kind == "follow", Draft.rule == rule)
    return list(session.exec(stmt.order_by(col(Draft.id))).all())


def test_rank_picks_the_two_top_ranked_who_share_one_audience(session: Session) -> None:
    shared_audience_world(session)
    settings = settings_for(follow_top_k=2, follow_pick="rank", lookalike_top_k=0)
    score.run(session, settings, T0)
    drafts.run(session, settings, now=T0)
    assert sorted(d.target_account for d in follows(session)) == ["a1", "a2"]


def test_reach_picks_audiences_that_do_not_overlap(session: Session) -> None:
    shared_audience_world(session)
    settings = settings_for(follow_top_k=2, lookalike_top_k=0)
    score.run(session, settings, T0)
    # a1 and a2 outrank b1 (8 engagers each against 6) ...
    top = [s.account_id for s in score.latest_scores(session, "weibo", 3, interest="coffee")]
    assert top[2] == "b1"
    drafts.run(session, settings, now=T0)
    picked = follows(session)
    # ... but following both reaches the same eight fans: b1 and one of them reach more
    assert sorted(d.target_account for d in picked)[1] == "b1"
    assert {d.target_account for d in picked} & {"a1", "a2"}
    reach = picked[0].evidence["reach"]
    assert reach["order"] == 1 and reach["adds"] > 0 and reach["already_engaged"] == 0
    assert "pick 1 for reach: adds ~" in picked[0].evidence["rule"]["why"]
    why = " | ".join(d.evidence["rule"]["why"] for d in picked)
    assert "rank 3 of 3 in coffee; 1 post about coffee; pick 1 for reach" in why
    assert re.search(r"rank [12] of 3 in coffee; 1 post about coffee; pick 2 for reach", why)
    assert picked[0].evidence["interest_influence"]["coffee"]["rank"] == 3
    # re-running drafts nothing: both places are held
    assert drafts.run(session, settings, now=T0 + timedelta(hours=1)) == 0


def test_a_rejected_follow_frees_its_place_and_engaged_users_count_first(
    session: Session,
) -> None:
    shared_audience_world(session)
    settings = settings_for(follow_top_k=2, lookalike_top_k=0)
    score.run(session, settings, T0)
    drafts.run(session, settings, now=T0)
    b1 = next(d for d in follows(session) if d.target_account == "b1")
    review.reject(session, b1.id, "alice", "not our style", now=T0)
    assert drafts.run(session, settings, now=T0 + timedelta(hours=1)) == 1
    new = follows(session)[-1]
    # the one of a1/a2 still queued covers the shared fans: the other adds little, but it is
    # the only candidate left (b1 was rejected)
    assert new.target_account in ("a1", "a2") and new.evidence["reach"]["already_engaged"] == 1


def test_suppressed_users_are_never_picked(session: Session) -> None:
    shared_audience_world(session)
    settings = settings_for(follow_top_k=2, lookalike_top_k=0)
    review.suppress(session, "weibo", "b1", "alice", "asked us to stop")
    score.run(session, settings, T0)
    drafts.run(session, settings, now=T0)
    assert sorted(d.target_account for d in follows(session)) == ["a1", "a2"]


def test_lookalikes_of_the_seed_account(session: Session) -> None:
    shared_audience_world(session)
    settings = settings_for(follow_top_k=0, lookalike_top_k=1)
    score.run(session, settings, T0)
    assert drafts.run(session, settings, now=T0) == 1
    (draft,) = follows(session, "follow_lookalike")
    # a2 shares all of a1's fans and posts about coffee too
    assert draft.target_account == "a2"
    ev = draft.evidence["lookalike"]
    assert ev["seeds"] == ["博主a1"] and ev["ppr"] == 1.0 and ev["similarity"] == 1.0
    assert draft.evidence["rule"]["why"].startswith("looks like 博主a1: graph closeness 1.00")
    assert drafts.run(session, settings, now=T0) == 0


def test_follow_and_lookalike_rules_never_race_for_one_user(session: Session) -> None:
    shared_audience_world(session)
    # one more fan makes a2 the top-ranked: the follow rule picks a2, and a2 is also the user
    # most like the seed a1
    session.add(Interaction(platform="weibo", kind="repost", src_id="f9", dst_id="a2",
                            post_id="extra", created_at=T0 - timedelta(days=1)))  # fmt: skip
    session.commit()
    settings = settings_for(follow_top_k=1, follow_pick="rank", lookalike_top_k=2)
    score.run(session, settings, T0)
    assert score.latest_scores(session, "weibo", 1, interest="coffee")[0].account_id == "a2"
    first = drafts.run(session, settings, now=T0)
    targets = [d.target_account for d in follows(session) + follows(session, "follow_lookalike")]
    assert first == 3 and len(set(targets)) == 3 and "a2" in targets
    # nothing left over for a second run: each rule got all its places the first time
    assert drafts.run(session, settings, now=T0 + timedelta(hours=1)) == 0
