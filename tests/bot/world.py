"""Hand-built rows for the bot tests: accounts, posts, labels of two versions, two score runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import Session

from crawlers.config import Settings, default_settings
from crawlers.models import Account, InfluenceScore, Post, PostLabel, ScoreRun

T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
CAMPAIGN = {"brand": "拾光咖啡", "interests": ["coffee"], "tags": ["咖啡"], "topics": ["手冲咖啡"]}


def bot_settings(**bot: Any) -> Settings:
    """Defaults with one coffee campaign, ``cafe``; ``bot`` overrides keys of ``[bot]``."""
    return default_settings(campaigns={"cafe": CAMPAIGN}, bot=bot)


def add_account(session: Session, uid: str, name: str, tags: list[str] | None = None) -> None:
    session.add(Account(platform="weibo", platform_id=uid, name=name, profile_tags=tags or []))


def add_post(
    session: Session,
    pid: str,
    author: str,
    text: str,
    *,
    version: str = "v2",
    at: datetime = T0,
    topics: list[str] | None = None,
    kind: str = "post",
    **label: Any,
) -> Post:
    post = Post(
        platform="weibo",
        platform_id=pid,
        author_id=author,
        text=text,
        text_plain=text,
        kind=kind,
        topics=topics or [],
        created_at=at - timedelta(hours=1),
    )
    session.add(post)
    session.flush()
    session.add(PostLabel(post_id=post.id, model_version=version, labeled_at=at, **label))
    return post


def add_scores(session: Session, ranks: dict[str, int], at: datetime = T0) -> int:
    run = ScoreRun(platform="weibo", fingerprint=f"fp{at.timestamp()}", created_at=at)
    session.add(run)
    session.flush()
    for uid, rank in ranks.items():
        session.add(
            InfluenceScore(
                run_id=run.id,
                platform="weibo",
                account_id=uid,
                score=1.0 / rank,
                rank=rank,
                explanation=f"{uid} is reposted a lot",
            )
        )
    return int(run.id or 0)


def build_world(session: Session) -> None:
    """u1..u4 post about coffee, u5 only carries the 咖啡 tag, u6 posts about beauty.

    Expected with the defaults: follow u1..u5; reply to p1 (u1's question); repost p2 (u2, 0.9;
    p3 is positive but below 0.6). Version v1 (older) and score run 1 (older) must be ignored.
    """
    for uid, name, tags in [
        ("u1", "阿一", []),
        ("u2", "阿二", []),
        ("u3", "阿三", []),
        ("u4", "阿四", []),
        ("u5", "阿五", ["咖啡", "旅行"]),
        ("u6", "阿六", ["美妆"]),
    ]:
        add_account(session, uid, name, tags)
    coffee = {"interests": ["coffee"], "keywords": ["手冲"]}
    add_post(
        session,
        "p1",
        "u1",
        "手冲咖啡用什么豆子好？",
        topics=["手冲咖啡"],
        intents=["question"],
        **coffee,
    )
    add_post(
        session,
        "p2",
        "u2",
        "这家拿铁太好喝了",
        sentiment="positive",
        sentiment_score=0.9,
        polarity=0.8,
        **coffee,
    )
    add_post(session, "p3", "u3", "咖啡还行", sentiment="positive", sentiment_score=0.5, **coffee)
    add_post(session, "p4", "u6", "口红怎么选？", interests=["beauty"], intents=["question"])
    add_post(session, "p5", "u4", "今天喝了美式", **coffee)
    # an older label version that calls p7 a question: it must not be used
    add_post(
        session,
        "p7",
        "u3",
        "咖啡豆哪里买",
        version="v1",
        at=T0 - timedelta(days=1),
        intents=["question"],
        **coffee,
    )
    add_scores(session, {"u6": 1, "u5": 2, "u4": 3}, at=T0 - timedelta(days=1))
    latest = add_scores(session, {"u1": 1, "u2": 2, "u3": 3, "u4": 4, "u5": 5, "u6": 6})
    # per-interest rows are not overall influence
    session.add(
        InfluenceScore(
            run_id=latest, platform="weibo", account_id="u6", interest="coffee", score=9.0, rank=1
        )
    )
    session.commit()
