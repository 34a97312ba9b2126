"""The labelling stage: every post without a label of the current classifier version gets one.

Posts are read in id order, ``nlp.batch_size`` at a time, and each batch is committed on its
own, so an interrupted run keeps what it finished and the next run carries on. Labels of older
versions stay: a new version adds rows beside them, and each post's newest older label is handed
to the classifier, which copies the parts whose version did not change instead of recomputing
them (a new topic model recomputes topics only).

After the posts, the authors of the labelled posts get an ``AccountLabel``: the 水军 (spam/bot)
verdict from their profile and posts, and their furthest 5A stage toward each brand.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import exists
from sqlmodel import Session, col, select

from crawlers.config import Settings
from crawlers.models import Account, AccountLabel, Post, PostLabel, utcnow
from crawlers.store import upsert
from nlp.classifier import Classifier, Labels, make_classifier
from nlp.normalize import post_text
from nlp.spam import AccountFeatures, account_spam, near_duplicate_share
from nlp.stage5a import furthest_stages

logger = logging.getLogger(__name__)

#: Posts read to find near-duplicates across accounts (the newest ones).
DUPLICATE_WINDOW = 200_000

_REUSED = (
    "sentiment",
    "sentiment_score",
    "polarity",
    "emotion",
    "emotion_score",
    "topic",
    "topic_score",
    "components",
)


def run(session: Session, settings: Settings, classifier: Classifier | None = None) -> int:
    """Label the posts that have no label of the current version; returns how many."""
    clf = classifier or make_classifier(settings)
    done, last_id = 0, 0
    authors: set[tuple[str, str]] = set()
    while True:
        batch = unlabelled(session, clf.version, last_id, settings.nlp.batch_size)
        if not batch:
            break
        previous = previous_labels(session, [p.id for p in batch if p.id is not None], clf.version)
        labels = clf.predict(
            [post_text(p) for p in batch], previous=[previous.get(p.id or 0) for p in batch]
        )
        upsert(
            session,
            PostLabel,
            label_rows(batch, labels, clf.version),
            keys=("post_id", "model_version"),
        )
        session.commit()
        done += len(batch)
        authors.update((p.platform, p.author_id) for p in batch)
        last_id = batch[-1].id or last_id
        logger.info("labelled %d posts (%s), up to post id %d", done, clf.version, last_id)
    if not done:
        logger.info("nothing to label: every post has a %s label", clf.version)
        return 0
    flagged = label_accounts(session, settings, clf.version, authors)
    logger.info("account labels: %d accounts, %d flagged as spam/bot", len(authors), flagged)
    return done


def unlabelled(session: Session, version: str, after_id: int, limit: int) -> Sequence[Post]:
    """Up to ``limit`` posts with id > ``after_id`` and no label of ``version``, by id."""
    has_label = exists().where(
        col(PostLabel.post_id) == Post.id, col(PostLabel.model_version) == version
    )
    stmt = (
        select(Post).where(col(Post.id) > after_id, ~has_label).order_by(col(Post.id)).limit(limit)
    )
    return session.exec(stmt).all()


def previous_labels(
    session: Session, post_ids: Sequence[int], version: str
) -> dict[int, dict[str, Any]]:
    """Each post's newest label of another version (the parts a new version may reuse)."""
    if not post_ids:
        return {}
    rows = session.exec(
        select(PostLabel)
        .where(col(PostLabel.post_id).in_(post_ids), col(PostLabel.model_version) != version)
        .order_by(col(PostLabel.labeled_at).desc(), col(PostLabel.id).desc())
    ).all()
    out: dict[int, dict[str, Any]] = {}
    for row in rows:
        if row.post_id not in out and row.components:
            out[row.post_id] = {key: getattr(row, key) for key in _REUSED}
    return out


def label_rows(
    posts: Sequence[Post], labels: Sequence[Labels], version: str
) -> list[dict[str, Any]]:
    now = utcnow()
    return [
        {
            "post_id": post.id,
            "model_version": version,
            "sentiment": lab.sentiment,
            "sentiment_score": lab.sentiment_score,
            "polarity": lab.polarity,
            "interests": list(lab.interests),
            "intents": list(lab.intents),
            "keywords": list(lab.keywords),
            "emotion": lab.emotion,
            "emotion_score": lab.emotion_score,
            "topic": lab.topic,
            "topic_score": lab.topic_score,
            "stages": dict(lab.stages),
            "spam_score": lab.spam_score,
            "spam_reasons": list(lab.spam_reasons),
            "labellable": lab.labellable,
            "components": dict(lab.components),
            "labeled_at": now,
        }
        for post, lab in zip(posts, labels, strict=True)
    ]


def label_accounts(
    session: Session, settings: Settings, version: str, authors: set[tuple[str, str]]
) -> int:
    """Write an ``AccountLabel`` of ``version`` for each stored author; returns how many are spam."""
    if not authors:
        return 0
    by_platform: dict[str, set[str]] = defaultdict(set)
    for platform, author in authors:
        by_platform[platform].add(author)
    threshold = settings.nlp.spam_threshold
    rows: list[dict[str, Any]] = []
    now = utcnow()
    for platform, ids in by_platform.items():
        accounts = _accounts(session, platform, ids)
        if not accounts:
            continue
        texts = _recent_texts(session, platform)
        dup_share = near_duplicate_share(texts)
        posts = _author_posts(session, platform, set(accounts), version)
        for author, account in accounts.items():
            mine = posts.get(author, [])
            verdict = account_spam(
                AccountFeatures(
                    name=account.name,
                    description=account.description,
                    followers=account.followers_count,
                    follows=account.follows_count,
                    posts=account.posts_count,
                    verified=account.verified,
                    posts_seen=len(mine),
                    duplicate_share=dup_share.get(author, 0.0),
                    spam_post_share=_share([label.spam_score >= threshold for _, label in mine]),
                    posts_per_day=_posts_per_day([post.created_at for post, _ in mine]),
                )
            )
            stages = furthest_stages(label.stages or {} for _, label in mine)
            rows.append(
                {
                    "account_id": account.id,
                    "model_version": version,
                    "spam_score": verdict.score,
                    "is_spam": verdict.score >= threshold,
                    "spam_reasons": list(verdict.reasons),
                    "stages": stages,
                    "posts_seen": len(mine),
                    "labeled_at": now,
                }
            )
    upsert(session, AccountLabel, rows, keys=("account_id", "model_version"))
    session.commit()
    return sum(1 for r in rows if r["is_spam"])


def _accounts(session: Session, platform: str, ids: set[str]) -> dict[str, Account]:
    found: dict[str, Account] = {}
    id_list = sorted(ids)
    for start in range(0, len(id_list), 500):
        chunk = id_list[start : start + 500]
        for account in session.exec(
            select(Account).where(Account.platform == platform, col(Account.platform_id).in_(chunk))
        ):
            found[account.platform_id] = account
    return found


def _recent_texts(session: Session, platform: str) -> Mapping[str, list[str]]:
    rows = session.exec(
        select(Post.author_id, Post.text_plain, Post.text)
        .where(Post.platform == platform)
        .order_by(col(Post.id).desc())
        .limit(DUPLICATE_WINDOW)
    ).all()
    out: dict[str, list[str]] = defaultdict(list)
    for author, plain, raw in rows:
        out[author].append(plain or raw or "")
    return out


def _author_posts(
    session: Session, platform: str, authors: set[str], version: str
) -> dict[str, list[tuple[Post, PostLabel]]]:
    out: dict[str, list[tuple[Post, PostLabel]]] = defaultdict(list)
    author_list = sorted(authors)
    for start in range(0, len(author_list), 500):
        chunk = author_list[start : start + 500]
        stmt = (
            select(Post, PostLabel)
            .join(PostLabel, col(PostLabel.post_id) == col(Post.id))
            .where(
                Post.platform == platform,
                col(Post.author_id).in_(chunk),
                PostLabel.model_version == version,
            )
        )
        for post, label in session.exec(stmt):
            out[post.author_id].append((post, label))
    return out


def _share(flags: Sequence[bool]) -> float:
    return sum(flags) / len(flags) if flags else 0.0


def _posts_per_day(times: Sequence[datetime | None]) -> float:
    seen = sorted(_aware(t) for t in times if t is not None)
    if len(seen) < 2:
        return 0.0
    days = max((seen[-1] - seen[0]).total_seconds() / 86400, 1.0)
    return len(seen) / days


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo else t.replace(tzinfo=UTC)
