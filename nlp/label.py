"""The labelling stage: every post without a label of the current classifier version gets one.

Posts are read in id order, ``nlp.batch_size`` at a time, and each batch is committed on its
own, so an interrupted run keeps what it finished and the next run carries on. Labels of older
versions stay: a new version adds rows beside them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy import exists
from sqlmodel import Session, col, select

from crawlers.config import Settings
from crawlers.models import Post, PostLabel, utcnow
from crawlers.store import upsert
from nlp.classifier import Classifier, Labels, make_classifier
from nlp.normalize import post_text

logger = logging.getLogger(__name__)


def run(session: Session, settings: Settings, classifier: Classifier | None = None) -> int:
    """Label the posts that have no label of the current version; returns how many."""
    clf = classifier or make_classifier(settings)
    done, last_id = 0, 0
    while True:
        batch = unlabelled(session, clf.version, last_id, settings.nlp.batch_size)
        if not batch:
            break
        labels = clf.predict([post_text(p) for p in batch])
        upsert(
            session,
            PostLabel,
            label_rows(batch, labels, clf.version),
            keys=("post_id", "model_version"),
        )
        session.commit()
        done += len(batch)
        last_id = batch[-1].id or last_id
        logger.info("labelled %d posts (%s), up to post id %d", done, clf.version, last_id)
    if not done:
        logger.info("nothing to label: every post has a %s label", clf.version)
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
            "labeled_at": now,
        }
        for post, lab in zip(posts, labels, strict=True)
    ]
