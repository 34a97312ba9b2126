from __future__ import annotations

import logging

import pytest
from sqlmodel import Session, select

from crawlers.config import Settings, default_settings
from crawlers.models import Post, PostLabel
from crawlers.store import count
from nlp import label
from nlp.classifier import LexiconClassifier

TEXTS = [
    ("這家咖啡太好喝了[愛你] #咖啡探店#", ""),
    ("拾光咖啡的冷萃太难喝了，再也不买", ""),
    ("想入手这个口红，求链接", ""),
    ("", '<a href="/n/x">@x</a> 今天跑步五公里<img alt="[哈哈]" src="h.png">'),
    ("有没有好用的耳机推荐？", ""),
]


def add_posts(session: Session, texts: list[tuple[str, str]], start: int = 0) -> None:
    for i, (plain, html) in enumerate(texts, start):
        session.add(
            Post(
                platform="weibo",
                platform_id=str(i),
                author_id="u1",
                text=html or plain,
                text_plain=plain,
            )
        )
    session.commit()


@pytest.fixture
def small_batches() -> Settings:
    brand = {"brand": "拾光咖啡", "brand_terms": ["拾光咖啡", "冷萃"]}
    return default_settings(
        nlp={"model": "lexicon", "batch_size": 2}, campaigns={"shiguang": brand}
    )


def test_empty_database(
    session: Session, small_batches: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="nlp.label"):
        assert label.run(session, small_batches) == 0
    assert "nothing to label" in caplog.text


def test_labels_every_post_once(session: Session, small_batches: Settings) -> None:
    add_posts(session, TEXTS)
    assert label.run(session, small_batches) == len(TEXTS)
    assert label.run(session, small_batches) == 0  # idempotent
    assert count(session, PostLabel) == len(TEXTS)
    rows = {r.post_id: r for r in session.exec(select(PostLabel))}
    posts = {p.platform_id: p.id for p in session.exec(select(Post))}
    first, second, third, fourth, _ = (rows[posts[str(i)]] for i in range(5))
    assert (first.sentiment, first.interests[0], "praise" in first.intents) == (
        "positive",
        "coffee",
        True,
    )
    assert (second.sentiment, second.intents) == ("negative", ["complaint"])
    assert "拾光咖啡" in second.keywords
    assert third.intents == ["purchase_intent"]
    assert fourth.interests == ["fitness"] and fourth.sentiment == "positive"  # from the HTML


def test_new_posts_only(session: Session, small_batches: Settings) -> None:
    add_posts(session, TEXTS[:2])
    assert label.run(session, small_batches) == 2
    add_posts(session, TEXTS[2:], start=2)
    assert label.run(session, small_batches) == 3


def test_version_change_relabels_and_keeps_old(session: Session, small_batches: Settings) -> None:
    add_posts(session, TEXTS)
    old = LexiconClassifier(small_batches).version
    label.run(session, small_batches)
    wider = default_settings(nlp={"model": "lexicon", "batch_size": 2, "neutral_band": 0.5})
    new = LexiconClassifier(wider).version
    assert new != old
    assert label.run(session, wider) == len(TEXTS)
    assert count(session, PostLabel, PostLabel.model_version == old) == len(TEXTS)
    assert count(session, PostLabel, PostLabel.model_version == new) == len(TEXTS)
