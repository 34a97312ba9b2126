"""The drafting stage on hand-built rows (tests/bot/world.py)."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlmodel import Session, col, select

from bot import drafts, review
from bot.guardrails import dedup_key, fit_key, render_template, roundrobin
from crawlers.config import default_settings
from crawlers.models import AuditEvent, Draft, content_hash
from tests.bot.world import T0, add_post, bot_settings, build_world


def _drafts(session: Session, status: str | None = None) -> list[Draft]:
    stmt = select(Draft).order_by(col(Draft.id))
    if status:
        stmt = stmt.where(Draft.status == status)
    return list(session.exec(stmt).all())


def _targets(session: Session, kind: str) -> list[str]:
    return sorted(d.target_post or d.target_account for d in _drafts(session) if d.kind == kind)


def test_each_rule_fires_with_evidence(session: Session) -> None:
    build_world(session)
    assert drafts.run(session, bot_settings(), now=T0) == 7
    assert _targets(session, "follow") == ["u1", "u2", "u3", "u4", "u5"]
    assert _targets(session, "reply") == ["p1"]  # p4 is beauty, p7 a question only in v1
    assert _targets(session, "repost") == ["p2"]  # p3 is below repost_min_sentiment
    follow = next(d for d in _drafts(session) if d.target_account == "u1" and d.kind == "follow")
    assert follow.evidence["influence"]["rank"] == 1  # the latest run, not the older one
    assert follow.evidence["influence"]["explanation"] == "u1 is reposted a lot"
    assert follow.evidence["posts"][0]["text"] == "手冲咖啡用什么豆子好？"
    assert follow.evidence["rule"]["name"] == follow.rule == "follow_top_influence"
    tagged = next(d for d in _drafts(session) if d.target_account == "u5")
    assert tagged.evidence["matched"]["tags"] == ["咖啡"]


def test_reply_and_repost_text_and_bookkeeping(session: Session) -> None:
    build_world(session)
    drafts.run(session, bot_settings(), now=T0)
    reply = next(d for d in _drafts(session) if d.kind == "reply")
    assert reply.text == "你好阿一～关于「手冲咖啡」这个问题，我们整理了一些经验，希望对你有帮助。"
    assert reply.evidence["post"]["labels"]["intents"] == ["question"]
    assert reply.evidence["label_version"] == "v2"
    repost = next(d for d in _drafts(session) if d.kind == "repost")
    assert repost.text == "说得太好了，拾光咖啡也很认同！"
    assert repost.evidence["post"]["labels"]["sentiment_score"] == 0.9
    for d in _drafts(session):
        assert d.status == "pending" and d.created_by == "tingfeng"
        assert d.content_hash == content_hash(
            d.kind, d.platform, d.target_account, d.target_post, d.text
        )
        assert d.dedup_key == dedup_key("cafe", d.kind, "weibo", d.target_account, d.target_post)
        assert review.as_utc(d.expires_at) == T0 + timedelta(hours=72)
    events = session.exec(select(AuditEvent)).all()
    assert sorted(e.draft_id for e in events) == [d.id for d in _drafts(session)]
    assert {(e.action, e.actor) for e in events} == {("drafted", "tingfeng")}


def test_follow_top_k_counts_only_matching_users(session: Session) -> None:
    build_world(session)
    drafts.run(
        session, bot_settings(follow_top_k=2, reply_to_questions=False, repost_top_k=0), now=T0
    )
    assert _targets(session, "follow") == ["u1", "u2"]
    assert _targets(session, "reply") == _targets(session, "repost") == []


def test_follow_needs_a_tag_or_a_share_of_on_interest_posts(session: Session) -> None:
    build_world(session)
    # u1 now mostly posts about beauty: one coffee question in four posts is 25% < 30%
    for i in range(3):
        add_post(session, f"b{i}", "u1", "口红推荐", interests=["beauty"])
    session.commit()
    drafts.run(session, bot_settings(reply_to_questions=False, repost_top_k=0), now=T0)
    assert "u1" not in _targets(session, "follow")
    # u5 has no coffee posts at all but carries the 咖啡 profile tag
    assert "u5" in _targets(session, "follow")


def test_suppressed_accounts_are_never_drafted(session: Session) -> None:
    build_world(session)
    review.suppress(session, "weibo", "u1", "alice", "asked us to stop")
    review.suppress(session, "weibo", "u2", "alice", "competitor")
    drafts.run(session, bot_settings(follow_top_k=3), now=T0)
    assert not [d for d in _drafts(session) if d.target_account in ("u1", "u2")]
    # suppressed users do not take a place in the top k
    assert _targets(session, "follow") == ["u3", "u4", "u5"]


def test_rerun_adds_nothing_and_rejected_stays_rejected(session: Session) -> None:
    build_world(session)
    settings = bot_settings()
    first = drafts.run(session, settings, now=T0)
    reply = next(d for d in _drafts(session) if d.kind == "reply")
    review.reject(session, reply.id, "alice", "off brand", now=T0)
    assert drafts.run(session, settings, now=T0 + timedelta(hours=1)) == 0
    assert len(_drafts(session)) == first


def test_cap_is_shared_round_robin_and_the_rest_waits(session: Session) -> None:
    build_world(session)
    settings = bot_settings(max_drafts_per_run=3)
    assert drafts.run(session, settings, now=T0) == 3
    assert sorted(d.kind for d in _drafts(session)) == ["follow", "reply", "repost"]
    assert drafts.run(session, settings, now=T0) == 3
    assert _targets(session, "follow") == ["u1", "u2", "u3", "u4"]
    assert drafts.run(session, bot_settings(max_drafts_per_run=0), now=T0) == 0


@pytest.mark.parametrize("template", ["{name", "{name.__class__}", "{0}", "}{"])
def test_broken_template_is_logged_and_skipped(
    session: Session, caplog: pytest.LogCaptureFixture, template: str
) -> None:
    build_world(session)
    with caplog.at_level(logging.WARNING, logger="bot.drafts"):
        n = drafts.run(session, bot_settings(reply_templates=[template]), now=T0)
    assert n == 6 and _targets(session, "reply") == []  # follows and the repost still drafted
    assert "template 0" in caplog.text


def test_unknown_placeholder_stays_visible(session: Session) -> None:
    build_world(session)
    drafts.run(session, bot_settings(repost_templates=["{brand}{emoji}"]), now=T0)
    assert [d.text for d in _drafts(session) if d.kind == "repost"] == ["拾光咖啡{emoji}"]


def test_expiry_with_a_frozen_clock(session: Session) -> None:
    build_world(session)
    settings = bot_settings(draft_ttl_hours=24)
    n = drafts.run(session, settings, now=T0)
    assert drafts.run(session, settings, now=T0 + timedelta(hours=23, minutes=59)) == 0
    assert len(_drafts(session, "pending")) == n
    # past the TTL: every open draft expires (and is audited), then the rules propose afresh
    later = T0 + timedelta(hours=25)
    assert drafts.run(session, settings, now=later) == n
    expired = _drafts(session, "expired")
    assert len(expired) == n
    events = session.exec(select(AuditEvent).where(AuditEvent.action == "expired")).all()
    assert sorted(e.draft_id for e in events) == [d.id for d in expired]
    assert all(review.as_utc(e.at) == later for e in events)


def test_empty_database_drafts_nothing(session: Session, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="bot.drafts"):
        assert drafts.run(session, bot_settings(), now=T0) == 0
    assert "nothing to draft" in caplog.text
    assert drafts.run(session, default_settings(), now=T0) == 0  # no campaigns


def test_explicit_label_version(session: Session) -> None:
    build_world(session)
    drafts.run(session, bot_settings(follow_top_k=0, repost_top_k=0), now=T0, label_version="v1")
    assert _targets(session, "reply") == ["p7"]


def test_dedup_key_fits_its_column() -> None:
    long = dedup_key("c" * 64, "reply", "weibo", "9" * 64, "8" * 64)
    assert len(long) == 128 and long != dedup_key("c" * 64, "reply", "weibo", "9" * 64, "7" * 64)
    assert fit_key("short") == "short"


@given(st.text(), st.text())
def test_template_values_are_inserted_verbatim(name: str, topic: str) -> None:
    # user-controlled values holding braces must never be read as a template
    assert render_template("{name}|{topic}", {"name": name, "topic": topic}) == f"{name}|{topic}"


def test_roundrobin() -> None:
    assert list(roundrobin("ab", "", "cde")) == ["a", "c", "b", "d", "e"]


def test_one_queued_reply_per_author(session: Session) -> None:
    build_world(session)
    # u1 asks a second, newer question: one reply in the queue at a time, newest question first
    add_post(session, "p8", "u1", "拿铁和美式哪个好？", at=T0 + timedelta(hours=1),
             interests=["coffee"], intents=["question"])  # fmt: skip
    session.commit()
    settings = bot_settings()
    drafts.run(session, settings, now=T0)
    assert _targets(session, "reply") == ["p8"]
    assert drafts.run(session, settings, now=T0) == 0
    reply = next(d for d in _drafts(session) if d.kind == "reply")
    review.reject(session, reply.id, "alice", "not now", now=T0)
    assert drafts.run(session, settings, now=T0) == 1
    assert _targets(session, "reply") == ["p1", "p8"]


def test_texts_that_could_never_be_approved_are_not_drafted(
    session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    build_world(session)
    # a template with a link and one whose filled-in name carries a sensitive word
    settings = bot_settings(
        reply_templates=["你好{name}，详情见 http://spam.example.com"],
        repost_templates=["{brand}推荐！加微信了解更多"],
    )
    with caplog.at_level(logging.WARNING, logger="bot.drafts"):
        drafts.run(session, settings, now=T0)
    assert _targets(session, "reply") == _targets(session, "repost") == []
    assert "links to http://spam.example.com" in caplog.text
    assert "sensitive words 加微信" in caplog.text
    assert _targets(session, "follow")  # follows carry no text: unaffected


def test_jinja_templates_render_sandboxed_with_every_slot(session: Session) -> None:
    build_world(session)
    template = (
        "{{ name }}好！{% if interest %}聊{{ interest }}：{% endif %}"
        "「{{ post | truncate(8, True, '…', 0) }}」{{ keywords }} —{{ brand }}（{{ campaign }}）"
    )
    drafts.run(session, bot_settings(reply_templates=[template]), now=T0)
    (reply,) = [d for d in _drafts(session) if d.kind == "reply"]
    assert reply.text.startswith("阿一好！聊coffee：「手冲咖啡用什么…」手冲")
    assert reply.text.endswith("—拾光咖啡（cafe）")


@pytest.mark.parametrize(
    "template",
    [
        "{{ name.__class__.__mro__ }}",  # the classic sandbox escape
        "{{ ''.__class__.__base__.__subclasses__() }}",
        "{{ name.upper.__globals__ }}",
        "{{ unknown_slot }}",  # not a slot: an error, not an empty string
        "{% for x in %}",  # syntax
    ],
)
def test_hostile_or_broken_jinja_templates_are_skipped(
    session: Session, caplog: pytest.LogCaptureFixture, template: str
) -> None:
    build_world(session)
    with caplog.at_level(logging.WARNING, logger="bot.guardrails"):
        drafts.run(session, bot_settings(reply_templates=[template]), now=T0)
    assert _targets(session, "reply") == []
    assert "template 0" in caplog.text and "is broken" in caplog.text


def test_a_name_holding_template_syntax_is_inserted_verbatim() -> None:
    assert render_template("你好{{ name }}", {"name": "{{ 7*7 }}{% if 1 %}x{% endif %}"}) == (
        "你好{{ 7*7 }}{% if 1 %}x{% endif %}"
    )
    assert render_template("你好{name}", {"name": "{brand}"}) == "你好{brand}"
