"""Outcomes (数据闭环): what our sent actions got back, per rule and template.

End to end on the real sandbox over HTTP: crawl, label, rank, draft, approve follows and replies
of two templates, dispatch, crawl again; the outcomes must equal what the sandbox says it did
(``/_sandbox/outcomes``), and a further crawl must change nothing. Then the aggregation and the
matching on hand-built rows, with Wilson intervals worked out by hand.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
import urllib.request
from collections import defaultdict
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlmodel import Session, select

from bot import dispatch, review
from bot.cli import cli
from bot.drafts import run as draft_run
from bot.drafts import template_id
from bot.outcomes import TOO_FEW, Outcome, aggregate, by_template, draft_outcomes, wilson
from crawlers.config import load_settings
from crawlers.errors import ReviewError
from crawlers.models import Draft, Interaction, Post, utcnow
from crawlers.sandbox.reactions import BRAND_UID, follow_back_chance, react
from crawlers.sandbox.server import SandboxServer, make_server
from crawlers.sandbox.world import build_world
from crawlers.store import open_store, table_counts
from graph.score import run as rank_run
from nlp.label import run as label_run
from tests.bot.world import T0
from tests.conftest import ROOT

BRAND = str(BRAND_UID)
TEMPLATES = [
    "看到你说「{post}」，我们整理了一些经验，希望对你有帮助。",
    "「{post}」同问！你平时喝哪家的咖啡？",
]
SETTINGS = """
[store]
url = "sqlite:///{db}"
[crawl]
base_url = "{base_url}"
download_delay = 0.0
autothrottle = false
concurrent_requests_per_domain = 8
retry_times = 0
max_pages = 2
timeline_pages = 0
comment_pages = 1
repost_pages = 1
fan_pages = 1
search_types = ["realtime"]
login_check = false
[nlp]
model = "lexicon"
[bot]
follow_top_k = 10
lookalike_top_k = 0
repost_top_k = 0
dormant_top_k = 0
reply_templates = {templates}
[dispatch]
target_cooldown_hours = 0
follow_per_hour = 60
comment_per_hour = 60
[campaigns.cafe]
brand = "拾光咖啡"
interests = ["coffee"]
tags = ["咖啡"]
topics = ["咖啡探店"]
own_accounts = ["{brand}"]
"""


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    server = make_server("127.0.0.1", 0, build_world(7, 120))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def _crawl(path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "crawlers.crawl", "--settings", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]


def _sandbox_record(base_url: str) -> dict[str, Any]:
    with urllib.request.urlopen(base_url + "/_sandbox/outcomes", timeout=5) as resp:  # noqa: S310
        return json.loads(resp.read())  # type: ignore[no-any-return]


@pytest.mark.e2e
def test_outcomes_show_what_the_sandbox_did_per_template(
    tmp_path: Path, sandbox: SandboxServer
) -> None:
    path = tmp_path / "settings.toml"
    templates = json.dumps(TEMPLATES, ensure_ascii=False)
    path.write_text(
        SETTINGS.format(
            db=tmp_path / "o.db", base_url=sandbox.base_url, templates=templates, brand=BRAND
        ),  # fmt: skip
        encoding="utf-8",
    )
    settings = load_settings(path)
    _crawl(path)
    engine = open_store(settings)
    with Session(engine) as s:
        assert label_run(s, settings) > 0 and rank_run(s, settings) > 0
        assert draft_run(s, settings) > 0
        drafts = s.exec(select(Draft)).all()
        replies = [d for d in drafts if d.kind == "reply"]
        assert {d.template for d in drafts if d.kind == "follow"} == {""}
        ids = {template_id("reply_question", i, t) for i, t in enumerate(TEMPLATES)}
        assert {d.template for d in replies} == ids, "both templates were drafted"
        for d in drafts:
            if d.kind in ("follow", "reply"):
                # the near-duplicate guard refuses the same words twice: those stay unsent
                with contextlib.suppress(ReviewError):
                    review.approve(s, d.id, "alice", settings=settings.bot)
        adapter = dispatch.SandboxAdapter(sandbox.base_url, 5.0)
        assert dispatch.run(s, settings, {"weibo": adapter}).sent >= 10
    _crawl(path)

    record = _sandbox_record(sandbox.base_url)
    assert record["account"] == BRAND
    did = {r["action"]: r for r in record["reactions"]}
    own = {"cafe": [BRAND]}
    with Session(engine) as s:
        sent = {d.id: d for d in s.exec(select(Draft).where(Draft.status == "sent"))}
        found = draft_outcomes(s, own=own)
        rows = by_template(s, own=own)
    assert len(found) == len(sent)
    # per draft: exactly what the sandbox made happen
    for o in found:
        r = did[sent[o.draft_id].platform_ref]
        if o.kind == "follow":
            assert o.followed_back is r["follow_back"], (o, r)
            if r["follow_back"]:
                assert o.engaged
        else:
            assert o.comment_id == r["comment_id"], (o, r)
            assert (o.likes, o.replies) == (r["likes"], len(r["replies"])), (o, r)
            assert o.engaged is r["author_replied"] or not r["author_replied"]
    backs = sum(bool(r.get("follow_back")) for r in record["reactions"])
    assert backs >= 1, "the sandbox followed back at least once (seeded)"
    # per template: the sums of the sandbox's own numbers
    expected: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for o in found:
        r = did[sent[o.draft_id].platform_ref]
        e = expected[o.template]
        e[0] += 1
        e[1] += bool(r.get("follow_back"))
        e[2] += r.get("likes", 0)
        e[3] += len(r.get("replies", []))
    by_id = {r.template: r for r in rows}
    assert set(by_id) == {"", *ids}
    for template, (n, back, likes, answers) in expected.items():
        row = by_id[template]
        assert (row.sent, row.likes, row.replies) == (n, likes, answers)
        if template == "":
            assert (row.follow_back.k, row.follow_back.n) == (back, n)
        else:
            assert row.found == n and row.follow_back.n == 0
            assert row.note == TOO_FEW  # a handful of replies: flagged, not ranked

    # a further crawl collects the same again: no new rows, the same outcomes
    with Session(engine) as s:
        before = table_counts(s)
    _crawl(path)
    with Session(engine) as s:
        after = table_counts(s)
        again = by_template(s, own=own)
    assert [r.as_dict() for r in again] == [r.as_dict() for r in rows]
    grew = {t: (before[t], after[t]) for t in before if t != "crawlrun" and before[t] != after[t]}
    assert grew == {}

    result = CliRunner().invoke(cli, ["--settings", str(path), "outcomes", "--campaign", "cafe"])
    assert result.exit_code == 0, result.output
    assert "follow_top_influence" in result.output and TOO_FEW in result.output
    assert all(t in result.output for t in ids)
    future = CliRunner().invoke(cli, ["--settings", str(path), "outcomes", "--since", "2999-01-01"])
    assert "no sent drafts yet" in future.output
    engine.dispose()


# --- the sandbox's reactions -----------------------------------------------------------------


def test_reactions_are_deterministic_and_leave_the_world_alone() -> None:
    world = build_world(3, 40)
    post = next(p for p in world.posts if p.uid != world.users[0].uid)
    follow = {"id": "a1", "kind": "follow", "target_account": str(world.users[5].uid)}
    reply = {"id": "a2", "kind": "reply", "target_account": str(post.uid),
             "target_post": str(post.mid), "text": "同问！你平时喝哪家的咖啡？"}  # fmt: skip
    first = react(react(world, follow, 1).world, reply, 2)
    second = react(react(world, follow, 1).world, reply, 2)
    assert first.record == second.record
    assert BRAND_UID not in world.user_by_uid, "the original world is untouched"
    assert len(post.comments) == len(world.post_by_mid[post.mid].comments)
    changed = first.world.post_by_mid[post.mid]
    ours = [c for c in changed.comments if c.uid == BRAND_UID]
    assert [str(c.id) for c in ours] == [first.record["comment_id"]]
    assert ours[0].like_count == first.record["likes"]
    # an unknown target is recorded, nothing changes
    ghost = react(world, {"id": "a3", "kind": "follow", "target_account": "u0"}, 3)
    assert ghost.world is world and "none" in ghost.record["effect"]
    for user in world.users:
        assert 0.05 <= follow_back_chance(user) <= 0.45


# --- aggregation and matching on hand-built rows ---------------------------------------------


def test_wilson_interval_by_hand() -> None:
    # 3 of 10: p = .3, z^2/n = .38416; centre .49208/1.38416 = .35551,
    # half 1.96 * sqrt(.021 + .009604) / 1.38416 = .24773
    low, high = wilson(3, 10)
    assert low == pytest.approx(0.10779, abs=1e-4) and high == pytest.approx(0.60323, abs=1e-4)
    low, high = wilson(0, 10)  # centre = half = .19208 / 1.38416
    assert low == 0.0 and high == pytest.approx(0.27754, abs=1e-4)
    assert wilson(10, 10) == pytest.approx((0.72246, 1.0), abs=1e-4)
    assert wilson(0, 0) == (0.0, 1.0)


def _o(i: int, template: str, kind: str = "reply", **kw: Any) -> Outcome:
    base: dict[str, Any] = {"draft_id": i, "campaign": "cafe", "template": template,
                            "kind": kind, "platform": "weibo", "target_account": f"u{i}",
                            "target_post": None if kind == "follow" else f"p{i}",
                            "text": f"text {template}", "sent_at": T0}  # fmt: skip
    rule = "follow_top_influence" if kind == "follow" else "reply_question"
    return Outcome(rule=rule, **(base | kw))


def test_aggregate_ranks_templates_and_flags_small_samples() -> None:
    rows = aggregate(
        [_o(i, "A", comment_id=f"c{i}", likes=i % 3, replies=1) for i in range(12)]
        + [_o(100 + i, "B", comment_id=f"d{i}", likes=5, replies=2, engaged=True)
           for i in range(10)]
        + [_o(200, "C", comment_id="e", likes=50)]
        + [_o(300 + i, "", kind="follow", followed_back=i < 3, engaged=i < 4) for i in range(10)]
    )  # fmt: skip
    assert [(r.rule, r.template) for r in rows] == [
        ("follow_top_influence", ""),
        ("reply_question", "B"),  # 7.0 per comment beats A's 2.0; C has the most but n = 1
        ("reply_question", "A"),
        ("reply_question", "C"),
    ]
    follow, b, a, c = rows
    assert (follow.sent, follow.follow_back.k, follow.follow_back.n) == (10, 3, 10)
    assert follow.follow_back.interval == pytest.approx((0.10779, 0.60323), abs=1e-4)
    assert (follow.engaged.k, follow.found, follow.likes_mean) == (4, 0, None)
    assert (b.sent, b.likes_mean, b.replies_mean, b.reposts_mean) == (10, 5.0, 2.0, 0.0)
    assert b.engaged.value == 1.0 and b.follow_back.n == 0 and b.note == ""
    assert (a.sent, a.likes, a.likes_mean) == (12, 12, 1.0)
    assert c.too_few and c.note == TOO_FEW and c.likes_mean == 50.0
    assert b.as_dict()["follow_back"] is None and b.as_dict()["note"] == ""


def test_outcomes_match_our_comment_and_count_only_what_came_after(session: Session) -> None:
    sent_at = T0 + timedelta(hours=1)
    follow = Draft(campaign="cafe", kind="follow", platform="weibo", target_account="u1",
                   status="sent", content_hash="h1", dedup_key="k1", sent_at=sent_at,
                   platform_ref="a1", rule="follow_top_influence")  # fmt: skip
    old_fan = Draft(campaign="cafe", kind="follow", platform="weibo", target_account="u2",
                    status="sent", content_hash="h2", dedup_key="k2", sent_at=sent_at,
                    platform_ref="a2", rule="follow_top_influence")  # fmt: skip
    reply = Draft(campaign="cafe", kind="reply", platform="weibo", target_account="u3",
                  target_post="p3", text="同问！ 你喝哪家？", status="sent", content_hash="h3",
                  dedup_key="k3", sent_at=sent_at, platform_ref="a3", rule="reply_question",
                  template="reply_question#1:abcdef12")  # fmt: skip
    pending = Draft(campaign="cafe", kind="follow", platform="weibo", target_account="u4",
                    status="approved", content_hash="h4", dedup_key="k4")  # fmt: skip
    # handed off: the person recorded the link of what they posted (and reworded it)
    handed = Draft(campaign="cafe", kind="reply", platform="weibo", target_account="u6",
                   target_post="p6", text="草稿原文", status="sent", content_hash="h6",
                   dedup_key="k6", sent_at=sent_at, platform_ref="https://weibo.com/1/c6?x=1",
                   rule="reply_question", template="reply_question#1:abcdef12")  # fmt: skip
    session.add_all([follow, old_fan, reply, pending, handed])
    later, earlier = sent_at + timedelta(hours=2), sent_at - timedelta(days=3)
    session.add_all([
        Interaction(platform="weibo", kind="follow", src_id="u1", dst_id="brand", first_seen=later),
        Interaction(platform="weibo", kind="follow", src_id="u2", dst_id="brand",
                    first_seen=earlier),
        Interaction(platform="weibo", kind="comment", src_id="u3", dst_id="brand",
                    post_id="c2", first_seen=later),
        # someone else's comment under the same post, and ours (text as crawled, spaces aside)
        Post(platform="weibo", platform_id="c0", kind="comment", author_id="u9", parent_id="p3",
             text_plain="我也想知道", likes_count=40),
        Post(platform="weibo", platform_id="c1", kind="comment", author_id="brand",
             parent_id="p3", text_plain="同问！你喝哪家？", likes_count=7),
        Post(platform="weibo", platform_id="c2", kind="comment", author_id="u3", parent_id="c1",
             text_plain="回复@品牌:楼下那家"),
        Post(platform="weibo", platform_id="c3", kind="comment", author_id="u8", parent_id="c1",
             text_plain="回复@品牌:+1"),
        Post(platform="weibo", platform_id="c6", kind="comment", author_id="brand",
             parent_id="p6", text_plain="人工改写过的话", likes_count=3),
    ])  # fmt: skip
    session.commit()
    out = {o.target_account: o for o in draft_outcomes(session, own={"cafe": ["brand"]})}
    assert set(out) == {"u1", "u2", "u3", "u6"}, "only sent drafts"
    assert (out["u6"].comment_id, out["u6"].likes) == ("c6", 3)
    assert out["u1"].followed_back is True and out["u1"].engaged
    assert out["u2"].followed_back is False, "a fan from before the follow is no follow-back"
    r = out["u3"]
    assert (r.comment_id, r.likes, r.replies, r.reposts, r.engaged) == ("c1", 7, 2, 0, True)
    # without own_accounts the author of our matched comment stands in; follows then unknown
    bare = {o.target_account: o for o in draft_outcomes(session)}
    assert bare["u3"].comment_id == "c1" and bare["u3"].engaged
    assert bare["u1"].followed_back is True  # brand is known from the comment on weibo
    rows = by_template(session, campaign="cafe", own={"cafe": ["brand"]})
    assert [(r.template, r.sent) for r in rows] == [("", 2), ("reply_question#1:abcdef12", 2)]
    assert (rows[1].found, rows[1].likes, rows[1].replies) == (2, 10, 2)
    assert by_template(session, since=sent_at + timedelta(seconds=1)) == []
    assert by_template(session, campaign="other") == []


# --- what the spider asks for again ----------------------------------------------------------


def test_the_spider_reads_our_fans_and_the_posts_we_answered(tmp_path: Path) -> None:
    from crawlers.config import default_settings
    from crawlers.spiders.weibo import WeiboSpider
    from crawlers.spiders.weibo_outcomes import OUTCOME_PAGES, OWN_FAN_PAGES

    settings = default_settings(
        base_dir=tmp_path,
        store={"url": f"sqlite:///{tmp_path / 's.db'}"},
        crawl={"base_url": "http://127.0.0.1:9"},
        campaigns={"cafe": {"brand": "拾光咖啡", "own_accounts": ["brand"]}},
    )
    engine = open_store(settings)
    now = utcnow()
    with Session(engine) as s:
        s.add_all([
            Draft(campaign="cafe", kind="reply", platform="weibo", target_account="u1",
                  target_post="p1", text="hi", status="sent", content_hash="h1", dedup_key="k1",
                  sent_at=now - timedelta(days=1)),
            # a reply to a comment: the post it is under is read
            Draft(campaign="cafe", kind="reply", platform="weibo", target_account="u2",
                  target_post="c2", text="hi", status="sent", content_hash="h2", dedup_key="k2",
                  sent_at=now - timedelta(days=2)),
            Draft(campaign="cafe", kind="repost", platform="weibo", target_account="u1",
                  target_post="p1", text="hi", status="sent", content_hash="h3", dedup_key="k3",
                  sent_at=now - timedelta(days=3)),
            # too old, and not sent: neither is read again
            Draft(campaign="cafe", kind="reply", platform="weibo", target_account="u4",
                  target_post="p4", text="hi", status="sent", content_hash="h4", dedup_key="k4",
                  sent_at=now - timedelta(days=15)),
            Draft(campaign="cafe", kind="reply", platform="weibo", target_account="u5",
                  target_post="p5", text="hi", status="approved", content_hash="h5",
                  dedup_key="k5"),
            Post(platform="weibo", platform_id="p2", author_id="u7"),
            Post(platform="weibo", platform_id="c2", kind="comment", author_id="u2",
                 parent_id="p2", root_id="p2"),
        ])  # fmt: skip
        s.commit()
    engine.dispose()
    spider = WeiboSpider(settings)
    spider._opened(spider)
    requests = list(spider._target_requests())
    assert set(spider.runbook.targets) == {"own:brand", "outcomes:cafe"}
    fans = [r for r in requests if "fans_-_brand" in r.url]
    assert len(fans) == 1 and fans[0].meta["limit"] == OWN_FAN_PAGES
    asked = sorted(
        (r.url.split("?")[0].rsplit("/", 1)[1], r.meta["post"]["id"], r.meta["post"]["author"])
        for r in requests
        if "post" in r.meta
    )
    assert asked == [
        ("hotflow", "p1", "u1"),
        ("hotflow", "p2", "u7"),
        ("repostTimeline", "p1", "u1"),
    ]
    assert all(r.meta["limit"] == OUTCOME_PAGES for r in requests if "post" in r.meta)
