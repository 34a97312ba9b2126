"""Per-campaign drafting rules (``[campaigns.NAME.rules]``) on small hand-built stores."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, col, select

from bot import drafts
from bot.guardrails import roundrobin
from crawlers.config import default_settings, load_settings, supertopic_containerid
from crawlers.errors import ConfigError
from crawlers.models import Draft, Group, InfluenceScore, ScoreRun
from tests.bot.world import CAMPAIGN, T0, add_account, add_post, build_world

BRAND = CAMPAIGN["brand"]
COFFEE: dict[str, Any] = {"interests": ["coffee"], "keywords": ["手冲"]}


def settings(rules: dict[str, Any] | None = None, **bot: Any) -> Any:
    """One coffee campaign, ``cafe``; ``rules`` is its ``[campaigns.cafe.rules]`` table."""
    camp: dict[str, Any] = dict(CAMPAIGN, supertopics=["咖啡"])
    if rules is not None:
        camp["rules"] = rules
    return default_settings(campaigns={"cafe": camp}, bot=bot)


def _drafts(session: Session) -> list[Draft]:
    return list(session.exec(select(Draft).order_by(col(Draft.id))).all())


def _targets(session: Session, kind: str) -> list[str]:
    return sorted(d.target_post or d.target_account for d in _drafts(session) if d.kind == kind)


def _scores(session: Session, rows: dict[str, tuple[int, int]]) -> None:
    """A score run: account -> (rank, community)."""
    run = ScoreRun(platform="weibo", fingerprint="rules", created_at=T0)
    session.add(run)
    session.flush()
    for uid, (rank, community) in rows.items():
        session.add(InfluenceScore(
            run_id=int(run.id or 0), platform="weibo", account_id=uid, score=1.0 / rank, rank=rank,
            explanation=f"{uid} ranks {rank}", parts={"community": community},
        ))  # fmt: skip


def build_rules_world(session: Session) -> None:
    """u1..u5 in coffee, ranked 1..5; u1, u2, u3 in community 0, u4 and u5 in community 1.

    u1 asks a question (stage ask toward the brand) and complains about the brand (act);
    u2 posts negatively about the brand without the complaint intent (act); u3 complains about
    another brand; u4 asks a negative question without naming the brand; u5 wants to buy
    (appeal) and praises the brand (positive, advocate)."""
    for uid, name in [
        ("u1", "阿一"),
        ("u2", "阿二"),
        ("u3", "阿三"),
        ("u4", "阿四"),
        ("u5", "阿五"),
    ]:
        add_account(session, uid, name)
    add_post(session, "q1", "u1", "拾光咖啡的手冲豆子在哪买？", intents=["question"],
             stages={BRAND: "ask"}, **COFFEE)  # fmt: skip
    add_post(session, "c1", "u1", "拾光咖啡今天的拿铁太难喝了，还等了半小时", intents=["complaint"],
             sentiment="negative", sentiment_score=0.9, polarity=-0.8, stages={BRAND: "act"},
             at=T0 - timedelta(hours=5), **COFFEE)  # fmt: skip
    add_post(session, "n2", "u2", "拾光咖啡这次有点失望", sentiment="negative", sentiment_score=0.8,
             polarity=-0.6, stages={BRAND: "act"}, **COFFEE)  # fmt: skip
    add_post(session, "c3", "u3", "隔壁那家咖啡店服务太差了", intents=["complaint"],
             sentiment="negative", sentiment_score=0.9, **COFFEE)  # fmt: skip
    add_post(session, "q4", "u4", "手冲咖啡怎么总是苦？", intents=["question"],
             sentiment="negative", sentiment_score=0.7, **COFFEE)  # fmt: skip
    add_post(session, "b5", "u5", "好想买拾光咖啡的挂耳", intents=["purchase_intent"],
             stages={BRAND: "appeal"}, **COFFEE)  # fmt: skip
    add_post(session, "p5", "u5", "拾光咖啡真的好喝，推荐给大家", intents=["praise"],
             sentiment="positive", sentiment_score=0.95, polarity=0.9,
             stages={BRAND: "advocate"}, **COFFEE)  # fmt: skip
    _scores(session, {"u1": (1, 0), "u2": (2, 0), "u3": (3, 0), "u4": (4, 1), "u5": (5, 1)})
    session.commit()


def _run(session: Session, rules: dict[str, Any] | None, **bot: Any) -> int:
    bot.setdefault("lookalike_top_k", 0)
    return drafts.run(session, settings(rules, **bot), now=T0)


# --- backwards compatibility -----------------------------------------------------------------


def test_a_campaign_without_rules_drafts_what_the_bot_rules_draft(session: Session) -> None:
    build_world(session)
    cfg = settings()
    assert not drafts.has_rules(cfg.campaigns["cafe"])
    ctx = drafts.load_context(session, settings=cfg, now=T0)
    before = list(
        roundrobin(*[rule(ctx, "cafe", cfg.campaigns["cafe"], cfg.bot) for rule in drafts.RULES])
    )
    ctx = drafts.load_context(session, settings=cfg, now=T0)
    assert list(drafts.proposals(ctx, cfg)) == before
    assert drafts.run(session, cfg, now=T0) == 7  # as in test_drafts: no group post by default
    assert not [d for d in _drafts(session) if d.kind == "group_post"]


def test_an_empty_rules_table_drafts_the_same_actions(session: Session) -> None:
    build_world(session)
    cfg, empty = settings(), settings({})
    assert drafts.has_rules(empty.campaigns["cafe"])
    old = list(drafts.proposals(drafts.load_context(session, settings=cfg, now=T0), cfg))
    new = list(drafts.proposals(drafts.load_context(session, settings=empty, now=T0), empty))
    shape = [(p.kind, p.target_account, p.target_post, p.rule, p.text) for p in old]
    assert sorted(shape) == sorted(
        (p.kind, p.target_account, p.target_post, p.rule, p.text) for p in new
    )
    reply = next(p for p in new if p.kind == "reply")
    assert reply.evidence["filters"] == {"intent": "question"}


# --- complaints ------------------------------------------------------------------------------


def test_complaints_about_the_brand_get_the_complaint_template_first(session: Session) -> None:
    build_rules_world(session)
    _run(session, {"kinds": ["reply"], "intents": ["question", "complaint"]})
    replies = {d.target_account: d for d in _drafts(session) if d.kind == "reply"}
    # u1's complaint wins over u1's question; u2 is negative about the brand; u3's complaint is
    # about another brand (no complaint reply), u4 asks a question
    assert {a: (d.target_post, d.rule) for a, d in replies.items()} == {
        "u1": ("c1", "reply_complaint"),
        "u2": ("n2", "reply_complaint"),
        "u4": ("q4", "reply_question"),
    }
    complaint = replies["u1"]
    assert complaint.text.startswith("阿一你好，非常抱歉")
    assert "私信我们" in complaint.text and "http" not in complaint.text
    assert (
        "complains about 拾光咖啡 (complaint and negative sentiment)"
        in (complaint.evidence["rule"]["why"])
    )
    assert complaint.evidence["filters"]["intent"] == "complaint"
    assert replies["u2"].evidence["filters"]["complaint"] == ["negative sentiment"]
    assert complaint.template.startswith("reply_complaint#0:")


def test_without_complaint_in_intents_the_question_is_answered(session: Session) -> None:
    build_rules_world(session)
    _run(session, {"kinds": ["reply"]})
    replies = sorted((d.target_post, d.rule) for d in _drafts(session) if d.kind == "reply")
    assert replies == [("q1", "reply_question"), ("q4", "reply_question")]


def test_campaign_complaint_templates_override_the_bot_ones(session: Session) -> None:
    build_rules_world(session)
    rules = {"kinds": ["reply"], "intents": ["complaint"],
             "complaint_templates": ["{{ name }}，抱歉！请私信我们。"]}  # fmt: skip
    _run(session, rules)
    assert sorted(d.text for d in _drafts(session)) == [
        "阿一，抱歉！请私信我们。",
        "阿二，抱歉！请私信我们。",
    ]


def test_negative_sentiment_filter_answers_complaints(session: Session) -> None:
    build_rules_world(session)
    _run(session, {"kinds": ["reply"], "sentiments": ["negative"]})
    replies = sorted((d.target_post, d.rule) for d in _drafts(session) if d.kind == "reply")
    # q1 is a neutral question: left out; q4 is a negative question
    assert replies == [
        ("c1", "reply_complaint"),
        ("n2", "reply_complaint"),
        ("q4", "reply_question"),
    ]


def test_purchase_intent_replies(session: Session) -> None:
    build_rules_world(session)
    _run(session, {"kinds": ["reply"], "intents": ["purchase_intent"]})
    assert [(d.target_post, d.rule) for d in _drafts(session)] == [("b5", "reply_purchase_intent")]


# --- user and post filters -------------------------------------------------------------------


def test_max_rank_keeps_only_the_top_users(session: Session) -> None:
    build_rules_world(session)
    _run(
        session, {"kinds": ["follow", "reply"], "max_rank": 2, "intents": ["question", "complaint"]}
    )
    assert _targets(session, "follow") == ["u1", "u2"]
    assert _targets(session, "reply") == ["c1", "n2"]  # u4's question: rank 4
    for d in _drafts(session):
        rank = d.evidence["filters"]["rank"]
        assert rank["max_rank"] == 2 and rank["rank"] <= 2


def test_min_score_keeps_the_best_scored(session: Session) -> None:
    build_rules_world(session)
    _run(session, {"kinds": ["follow"], "min_score": 0.3})  # scores 1, 0.5, 0.33, 0.25, 0.2
    assert _targets(session, "follow") == ["u1", "u2", "u3"]


def test_community_filter(session: Session) -> None:
    build_rules_world(session)
    _run(session, {"kinds": ["follow", "reply", "repost"], "communities": [1]})
    assert _targets(session, "follow") == ["u4", "u5"]
    assert _targets(session, "reply") == ["q4"]  # u1's question is in community 0
    assert _targets(session, "repost") == ["p5"]
    for d in _drafts(session):
        assert d.evidence["filters"]["community"] == {"community": 1, "communities": [1]}


def test_stage_filter_on_posts_and_users(session: Session) -> None:
    build_rules_world(session)
    _run(session, {"kinds": ["follow", "reply"], "stages": ["ask"]})
    # a reply's post must be at the stage; a followed user's furthest stage must be (u1 reached act)
    assert _targets(session, "reply") == ["q1"]
    assert _targets(session, "follow") == []
    reply = _drafts(session)[0]
    assert reply.evidence["filters"] == {"stage": "ask", "intent": "question"}


def test_stage_filter_on_users_for_follows(session: Session) -> None:
    build_rules_world(session)
    _run(session, {"kinds": ["follow"], "stages": ["act", "advocate"]})
    assert _targets(session, "follow") == ["u1", "u2", "u5"]
    stages = {d.target_account: d.evidence["filters"]["stage"] for d in _drafts(session)}
    assert stages == {"u1": "act", "u2": "act", "u5": "advocate"}


def test_kinds_and_interests(session: Session) -> None:
    build_rules_world(session)
    _run(session, {"kinds": ["repost"]})
    assert [(d.kind, d.target_post) for d in _drafts(session)] == [("repost", "p5")]
    _run(session, {"kinds": ["follow", "reply", "repost"], "interests": ["beauty"]})
    assert len(_drafts(session)) == 1  # nobody posts about beauty


def test_sentiment_filter_on_reposts(session: Session) -> None:
    build_rules_world(session)
    _run(session, {"kinds": ["repost"], "sentiments": ["neutral"]})
    assert _drafts(session) == []


# --- group posts -----------------------------------------------------------------------------


def _questions(session: Session, group: str, at: Any, prefix: str) -> None:
    # 咖啡 is the super-topic's own name: no theme
    words = [["咖啡", "豆子", "磨豆机"], ["豆子", "水温"], ["豆子", "水温"], ["滤纸"]]
    for i, keywords in enumerate(words):
        post = add_post(session, f"{prefix}{i}", f"g{i}", f"请问{'和'.join(keywords)}怎么选？",
                        at=at, intents=["question"], keywords=keywords)  # fmt: skip
        post.group_id = group
    session.commit()


def test_group_post_once_per_window(session: Session) -> None:
    build_rules_world(session)
    cid = supertopic_containerid("咖啡")
    _questions(session, cid, T0, "s")
    add_post(session, "other", "g9", "别的超话问题？", intents=["question"], keywords=["别的"])
    cfg = settings({"kinds": ["group_post"]})
    assert drafts.run(session, cfg, now=T0) == 1
    (post,) = _drafts(session)
    assert (post.kind, post.target_account, post.rule) == ("group_post", cid, "group_post_theme")
    assert post.text == (
        "最近咖啡超话里好多朋友在问「豆子、水温、滤纸」，拾光咖啡整理了几点经验，欢迎大家在评论区补充交流～"
    )
    assert post.evidence["theme"] == {"豆子": 3, "水温": 2, "滤纸": 1}
    assert post.evidence["questions"] == 4
    assert drafts.run(session, cfg, now=T0) == 0  # a re-run drafts nothing
    assert drafts.run(session, cfg, now=T0 + timedelta(days=3)) == 0  # nor within the window
    later = T0 + timedelta(days=8)
    assert drafts.run(session, cfg, now=later) == 0  # the window's questions are too old now
    _questions(session, cid, later, "t")
    assert drafts.run(session, cfg, now=later) == 1
    assert drafts.run(session, cfg, now=later) == 0


def test_group_post_targets_the_group_row_and_is_off_by_default(session: Session) -> None:
    build_rules_world(session)
    session.add(Group(platform="weibo", platform_id="g-coffee", name="咖啡"))
    _questions(session, "g-coffee", T0, "s")
    assert _run(session, None) > 0
    assert _run(session, {"kinds": ["follow"]}) == 0
    assert not [d for d in _drafts(session) if d.kind == "group_post"]
    assert _run(session, {"kinds": ["group_post"]}) == 1
    assert [d.target_account for d in _drafts(session) if d.kind == "group_post"] == ["g-coffee"]


# --- settings --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "key", "allowed"),
    [
        (
            'kinds = ["follow", "like"]',
            "kinds",
            "follow, lookalike, reply, repost, dormant, group_post",
        ),
        ('intents = ["praise"]', "intents", "question, complaint, purchase_intent"),
        ('stages = ["buy"]', "stages", "aware, appeal, ask, act, advocate"),
        ('sentiments = ["angry"]', "sentiments", "positive, negative, neutral"),
        ("max_rank = -1", "max_rank", "greater than or equal to 0"),
    ],
)
def test_bad_rules_settings_name_the_key(tmp_path: Path, line: str, key: str, allowed: str) -> None:
    path = tmp_path / "settings.toml"
    path.write_text(
        f'[campaigns.cafe]\nbrand = "拾光咖啡"\n\n[campaigns.cafe.rules]\n{line}\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert f"[campaigns.cafe.rules] {key}" in str(info.value)
    assert allowed in str(info.value)


def test_unknown_rules_key_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    path.write_text('[campaigns.cafe]\nbrand = "x"\n[campaigns.cafe.rules]\nmax_rnak = 3\n')
    with pytest.raises(ConfigError, match=r"\[campaigns.cafe.rules\] max_rnak: unknown key"):
        load_settings(path)


def test_an_approved_group_post_reaches_the_sandbox_as_a_post(session: Session) -> None:
    from bot import dispatch, review
    from bot.dispatch import SandboxAdapter
    from crawlers.sandbox.server import make_server
    from crawlers.sandbox.world import build_world as build_sandbox

    cid = supertopic_containerid("咖啡")
    _questions(session, cid, T0, "s")
    assert drafts.run(session, settings({"kinds": ["group_post"]}), now=T0) == 1
    (post,) = _drafts(session)
    assert post.id is not None
    review.approve(session, post.id, "alice", now=T0)
    server = make_server("127.0.0.1", 0, build_sandbox(3, 40))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        adapters = {"weibo": SandboxAdapter(server.base_url, 2.0)}
        cfg = default_settings(dispatch={"timeout_seconds": 2.0})
        assert dispatch.run(session, cfg, adapters, now=T0).sent == 1
        (act,) = server.actions
        assert (act["kind"], act["target_account"], act["text"]) == ("post", cid, post.text)
    finally:
        server.shutdown()
        server.server_close()
