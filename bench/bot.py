"""Benchmark the drafting stage: drafts per second on a synthetic store, against a baseline.

The baseline, measured in the same run on the same store, is the bare SELECTs the rules need
(labels joined to posts, the latest overall scores, accounts, suppressions, existing dedup
keys), fetched as raw rows. ``ratio`` = drafting time / baseline time: what the rules, evidence,
templates and inserts cost on top of reading their input.

    python bench/bot.py [--posts 20000] [--users 5000] [--repeat 3]

Ends with ``key=value`` lines.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import delete, insert  # noqa: E402
from sqlmodel import Session, select  # noqa: E402

from bot import drafts  # noqa: E402
from crawlers.config import DEFAULT_INTERESTS, Settings, default_settings  # noqa: E402
from crawlers.models import (  # noqa: E402
    Account,
    AuditEvent,
    Draft,
    InfluenceScore,
    Post,
    PostLabel,
    ScoreRun,
    Suppression,
)
from crawlers.store import make_engine, migrate  # noqa: E402

NOW = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
INTERESTS = sorted(DEFAULT_INTERESTS)
CAMPAIGNS = {
    "shiguang": {
        "brand": "拾光咖啡",
        "interests": ["coffee", "food"],
        "tags": ["咖啡"],
        "topics": ["手冲咖啡"],
    },
    "qingyu": {"brand": "青屿", "interests": ["beauty"], "tags": ["护肤"], "topics": ["护肤心得"]},
}


def _post(i: int, author: int) -> dict[str, Any]:
    return {
        "id": i + 1, "platform": "weibo", "platform_id": f"p{i}", "kind": "post",
        "author_id": f"u{author}", "text": f"帖子{i}", "text_plain": f"帖子{i}",
        "topics": [("手冲咖啡", "护肤心得", "旅行")[i % 3]], "mentions": [],
        "created_at": NOW - timedelta(minutes=i),
    }  # fmt: skip


def _label(i: int, rng: random.Random) -> dict[str, Any]:
    """A label; one post in ten is a question, a third positive, 0-2 interests of eight."""
    return {
        "post_id": i + 1, "model_version": "bench-v1",
        "sentiment": rng.choice(["positive", "neutral", "negative"]),
        "sentiment_score": rng.random(), "polarity": 0.0,
        "interests": rng.sample(INTERESTS, rng.randint(0, 2)),
        "intents": ["question"] if rng.random() < 0.1 else [], "keywords": ["咖啡"],
        "labeled_at": NOW,
    }  # fmt: skip


def _score(rank: int, uid: int) -> dict[str, Any]:
    return {
        "run_id": 1, "platform": "weibo", "account_id": f"u{uid}", "interest": "",
        "score": 1.0 / rank, "rank": rank, "parts": {}, "explanation": "bench",
    }  # fmt: skip


def _rows(n_posts: int, n_users: int, rng: random.Random) -> dict[str, list[dict[str, Any]]]:
    tags = ["咖啡", "护肤", "旅行", "健身", "美食"]
    accounts = [
        {"platform": "weibo", "platform_id": f"u{i}", "name": f"用户{i}",
         "profile_tags": rng.sample(tags, rng.randint(0, 2))}
        for i in range(n_users)
    ]  # fmt: skip
    posts = [_post(i, rng.randrange(n_users)) for i in range(n_posts)]
    labels = [_label(i, rng) for i in range(n_posts)]
    order = rng.sample(range(n_users), n_users)
    scores = [_score(rank, uid) for rank, uid in enumerate(order, start=1)]
    return {"account": accounts, "post": posts, "label": labels, "score": scores}


def build_store(path: Path, n_posts: int, n_users: int, seed: int) -> Any:
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    rows = _rows(n_posts, n_users, random.Random(seed))
    with Session(engine) as session:
        session.add(ScoreRun(id=1, platform="weibo", fingerprint="bench", created_at=NOW))
        session.flush()
        for model, key in [
            (Account, "account"),
            (Post, "post"),
            (PostLabel, "label"),
            (InfluenceScore, "score"),
        ]:
            session.execute(insert(model), rows[key])
        session.add(Suppression(platform="weibo", account_id="u0", reason="bench"))
        session.commit()
    return engine


def baseline(session: Session) -> int:
    """The bare reads the rules need (the same column SELECTs), as raw rows."""
    version = drafts.latest_label_version(session) or ""
    reads = [
        drafts.labeled_posts_query(version),
        select(ScoreRun.id, ScoreRun.platform),
        select(InfluenceScore.run_id, InfluenceScore.platform, InfluenceScore.account_id,
               InfluenceScore.score, InfluenceScore.rank, InfluenceScore.explanation,
               InfluenceScore.parts).where(InfluenceScore.run_id == 1, InfluenceScore.interest == ""),
        select(Account.platform, Account.platform_id, Account.name, Account.profile_tags),
        select(Suppression.platform, Suppression.account_id),
        select(Draft.dedup_key),
    ]  # fmt: skip
    return sum(len(session.execute(stmt).all()) for stmt in reads)


def clear_drafts(session: Session) -> None:
    session.execute(delete(AuditEvent))
    session.execute(delete(Draft))
    session.commit()


def timed(
    fn: Callable[[], Any], repeat: int, before: Callable[[], None] | None = None
) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        if before:
            before()
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=20_000)
    parser.add_argument("--users", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    settings: Settings = default_settings(
        campaigns=CAMPAIGNS, bot={"max_drafts_per_run": 1_000_000}
    )
    with tempfile.TemporaryDirectory() as tmp:
        engine = build_store(Path(tmp) / "bench.db", args.posts, args.users, args.seed)
        with Session(engine) as session:
            base_s, rows = timed(lambda: baseline(session), args.repeat)
            draft_s, made = timed(
                lambda: drafts.run(session, settings, now=NOW),
                args.repeat,
                before=lambda: clear_drafts(session),
            )
            rerun_s, again = timed(lambda: drafts.run(session, settings, now=NOW), args.repeat)
        engine.dispose()
    lines = {
        "posts": args.posts, "users": args.users, "baseline_rows": rows,
        "baseline_s": f"{base_s:.4f}", "drafts": made, "draft_s": f"{draft_s:.4f}",
        "drafts_per_s": f"{made / draft_s:.1f}", "rerun_new_drafts": again,
        "rerun_s": f"{rerun_s:.4f}", "draft_vs_bare_select_ratio": f"{draft_s / base_s:.2f}",
        "rerun_vs_bare_select_ratio": f"{rerun_s / base_s:.2f}",
    }  # fmt: skip
    print("\n".join(f"{k}={v}" for k, v in lines.items()))


if __name__ == "__main__":
    main()
