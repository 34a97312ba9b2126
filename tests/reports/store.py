"""A tiny hand-counted store for the report tests (see the counts in test_report_data.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session

from crawlers.config import Settings, default_settings
from crawlers.models import Account, Community, InfluenceScore, Post, PostLabel, ScoreRun

VERSION = "test-v1"
SINCE = datetime(2026, 10, 8, tzinfo=UTC)
UNTIL = datetime(2026, 10, 15, tzinfo=UTC)
CAMPAIGN = {
    "brand": "拾光咖啡",
    "brand_terms": ["冷萃"],
    "topics": ["手冲咖啡"],
    "competitors": [{"name": "瑞幸", "terms": ["瑞幸", "luckin"]}],
}


def report_settings(url: str = "sqlite://", **campaign: Any) -> Settings:
    return default_settings(
        store={"url": url},
        crawl={"base_url": "https://m.weibo.cn"},
        campaigns={"c": {**CAMPAIGN, **campaign}, "solo": {"brand": "拾光咖啡"}},
    )


def when(day: int, hour: int = 12) -> datetime:
    return datetime(2026, 10, day, hour, tzinfo=UTC)


def add_post(
    session: Session,
    pid: str,
    author: str,
    text: str,
    created: datetime,
    sentiment: str | None,
    emotion: str = "neutral",
    keywords: tuple[str, ...] = (),
    topics: tuple[str, ...] = (),
    reposts: int = 0,
    kind: str = "post",
    parent: str | None = None,
) -> Post:
    post = Post(
        platform="weibo",
        platform_id=pid,
        kind=kind,
        author_id=author,
        text=text,
        text_plain=text,
        created_at=created,
        topics=list(topics),
        parent_id=parent,
        root_id=parent,
        reposts_count=reposts,
    )
    session.add(post)
    session.flush()
    if sentiment is not None:
        assert post.id is not None
        session.add(
            PostLabel(
                post_id=post.id,
                model_version=VERSION,
                sentiment=sentiment,
                emotion=emotion,
                keywords=list(keywords),
                topic="finance",
            )
        )
    return post


def fill(session: Session, *, ranked: bool = True) -> None:
    """Current period 10-08..10-15, previous 10-01..10-08."""
    # current
    add_post(session, "p1", "a1", "拾光咖啡的冷萃真好喝", when(8, 10), "positive", "happy",
             ("冷萃", "好喝"), reposts=5)  # fmt: skip
    add_post(session, "p2", "a2", "拾光咖啡外卖超时", when(9), "negative", "angry",
             ("外卖", "超时"), reposts=9)  # fmt: skip
    add_post(session, "p3", "a3", "#手冲咖啡# 今天一般", when(9), "neutral", "neutral", ("一般",),
             topics=("手冲咖啡",))  # fmt: skip
    add_post(session, "p4", "a1", "同感", when(10), "negative", "angry", ("同感",),
             kind="comment", parent="p2")  # fmt: skip
    add_post(session, "p5", "a5", "瑞幸今天不错", when(10), "positive", "happy", ("不错",))
    add_post(session, "p6", "a4", "LUCKIN和拾光咖啡都喝过，冷萃更好", when(11), "positive", "happy",
             ("冷萃", "luckin"), reposts=1)  # fmt: skip
    add_post(session, "p7", "a6", "天气很好", when(11), "positive", "happy", ("天气",))
    add_post(session, "p8", "a1", "拾光咖啡", datetime(2026, 10, 15, tzinfo=UTC), "positive")
    # previous
    add_post(session, "q1", "a1", "拾光咖啡不错", when(2), "positive", "happy", ("不错",))
    add_post(session, "q2", "a2", "冷萃难喝", when(3), "negative", "sad", ("难喝",))
    add_post(session, "q3", "a5", "瑞幸一般", when(4), "neutral", "neutral", ("一般",))
    for uid, name in (("a1", "咖啡师大程"), ("a2", "吐槽君"), ("a3", "手冲小白")):
        session.add(Account(platform="weibo", platform_id=uid, name=name))
    if ranked:
        run = ScoreRun(platform="weibo", fingerprint="f")
        session.add(run)
        session.flush()
        assert run.id is not None
        for rank, (uid, community) in enumerate((("a1", 0), ("a2", 0), ("a3", 1), ("a9", 1)), 1):
            session.add(
                InfluenceScore(
                    run_id=run.id,
                    platform="weibo",
                    account_id=uid,
                    score=10.0 / rank,
                    rank=rank,
                    parts={"community": community},
                    explanation=f"why {uid}",
                )  # fmt: skip
            )
        for c, size in ((0, 2), (1, 2)):
            session.add(
                Community(
                    run_id=run.id,
                    platform="weibo",
                    community=c,
                    size=size,
                    explanation=f"community {c} explained",
                )  # fmt: skip
            )
    session.commit()
