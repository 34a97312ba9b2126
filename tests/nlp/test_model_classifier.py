"""The trained-head classifier and the label stage around it, on tiny linear heads built here."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from sqlmodel import Session, select

from crawlers.config import Settings, default_settings
from crawlers.errors import ConfigError
from crawlers.models import Account, AccountLabel, Post, PostLabel
from nlp import label
from nlp.classifier import LexiconClassifier, ModelClassifier, make_classifier
from nlp.heads import HEADS
from nlp.linear import LinearHead, fit_head
from tests.nlp.test_linear import BAD_INPUTS, GRID, SMALL, _examples

BRAND = {"brand": "拾光咖啡", "brand_terms": ["拾光咖啡"]}


def _train(root: Path, seeds: dict[str, int]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for head in ("sentiment", "emotion", "topic"):
        labels = HEADS[head]
        seed = seeds.get(head, 1)
        fit_head(
            head,
            _examples(labels, 90, seed),
            _examples(labels, 30, seed + 100),
            root / f"{head}.npz",
            SMALL,
            grid=GRID,
        )
    return root


@pytest.fixture(scope="module")
def heads_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _train(tmp_path_factory.mktemp("heads"), {})


def _settings(root: Path, **nlp: object) -> Settings:
    return default_settings(
        nlp={"model": "linear", "model_dir": str(root), "batch_size": 3, **nlp},
        campaigns={"shiguang": BRAND},
    )


def test_make_classifier_builds_the_linear_backend(heads_dir: Path) -> None:
    clf = make_classifier(_settings(heads_dir))
    assert isinstance(clf, ModelClassifier) and clf.version.startswith("linear-")
    assert set(clf.components) == {"rules", "sentiment", "emotion", "topic"}
    (lab,) = clf.predict(["拾光咖啡今天真好吃，很满意，强烈推荐给大家"])
    assert lab.sentiment == "positive" and -1 <= lab.polarity <= 1
    assert lab.emotion in HEADS["emotion"] and lab.topic in HEADS["topic"]
    assert lab.stages == {"拾光咖啡": "advocate"}
    assert lab.components == clf.components


def test_lexicon_backend_is_still_there() -> None:
    clf = make_classifier(default_settings(nlp={"model": "lexicon"}))
    assert isinstance(clf, LexiconClassifier)


def test_missing_head_names_the_setting_and_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        make_classifier(_settings(tmp_path))
    assert "nlp.model_dir" in str(err.value) and "tingfeng nlp train" in str(err.value)


def test_bad_input_is_labelled_or_marked_unlabellable(heads_dir: Path) -> None:
    clf = make_classifier(_settings(heads_dir))
    out = clf.predict(BAD_INPUTS)
    assert len(out) == len(BAD_INPUTS)
    by_text = dict(zip(BAD_INPUTS, out, strict=True))
    assert not by_text[""].labellable and not by_text["https://example.com/a?b=1"].labellable
    assert by_text["日本語のテキストとEnglish words 混合"].labellable


class CountingHead(LinearHead):
    """A real linear head that counts the texts it scores."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.scored = 0

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        self.scored += len(texts)
        return super().predict_proba(texts)


def _counting(settings: Settings, root: Path) -> ModelClassifier:
    heads = {h: CountingHead(root / f"{h}.npz") for h in ("sentiment", "emotion", "topic")}
    return ModelClassifier(settings, heads, "linear")


def _add_posts(session: Session, texts: list[str], author: str = "u1") -> None:
    for text in texts:
        session.add(
            Post(platform="weibo", platform_id=f"{author}-{len(text)}-{hash(text) % 10**8}",
                 author_id=author, text=text, text_plain=text)
        )  # fmt: skip
    session.commit()


POSTS = ["拾光咖啡真好吃，满意", "今天开会通知出门", "太差了，失望生气", "喜欢这家店，开心", ""]


def test_a_new_topic_model_reruns_the_topic_head_only(
    session: Session, heads_dir: Path, tmp_path: Path
) -> None:
    _add_posts(session, POSTS)
    first = _counting(_settings(heads_dir), heads_dir)
    assert label.run(session, _settings(heads_dir), first) == len(POSTS)
    assert {h: first.heads[h].scored for h in first.heads} == dict.fromkeys(first.heads, 5)  # type: ignore[attr-defined]

    swapped = tmp_path / "swapped"
    shutil.copytree(heads_dir, swapped)
    _train(swapped / "t", {"topic": 7})
    shutil.move(swapped / "t" / "topic.npz", swapped / "topic.npz")
    second = _counting(_settings(swapped), swapped)
    assert second.version != first.version
    assert second.components["sentiment"] == first.components["sentiment"]
    assert second.components["topic"] != first.components["topic"]
    assert label.run(session, _settings(swapped), second) == len(POSTS)
    scored = {h: second.heads[h].scored for h in second.heads}  # type: ignore[attr-defined]
    assert scored == {"sentiment": 0, "emotion": 0, "topic": 5}

    rows = session.exec(select(PostLabel)).all()
    old = {r.post_id: r for r in rows if r.model_version == first.version}
    new = {r.post_id: r for r in rows if r.model_version == second.version}
    assert set(old) == set(new) and len(new) == len(POSTS)
    for post_id, row in new.items():
        assert (row.sentiment, row.sentiment_score) == (
            old[post_id].sentiment,
            old[post_id].sentiment_score,
        )
        assert row.emotion == old[post_id].emotion
        assert row.components == second.components
    assert label.run(session, _settings(swapped), second) == 0  # nothing left to do


def test_accounts_get_spam_verdicts_and_furthest_stages(session: Session, heads_dir: Path) -> None:
    session.add(Account(platform="weibo", platform_id="fan", name="咖啡爱好者小林",
                        followers_count=300, follows_count=200, description="爱喝咖啡"))  # fmt: skip
    session.add(Account(platform="weibo", platform_id="bot", name="用户7384920133",
                        followers_count=2, follows_count=1800))  # fmt: skip
    session.commit()
    _add_posts(session, ["看到拾光咖啡的广告了", "拾光咖啡回购了三次，强烈推荐给大家"], "fan")
    _add_posts(
        session,
        ["兼职日赚500，加微信 abc12345 私信领取", "免费领取优惠，加v：abc12345 点击链接"],
        "bot",
    )
    settings = _settings(heads_dir)
    label.run(session, settings, make_classifier(settings))
    rows = {
        a.platform_id: lab
        for lab, a in session.exec(
            select(AccountLabel, Account).where(AccountLabel.account_id == Account.id)
        )
    }
    assert rows["fan"].stages == {"拾光咖啡": "advocate"} and not rows["fan"].is_spam
    assert rows["bot"].is_spam and "default_name" in rows["bot"].spam_reasons
    assert rows["bot"].posts_seen == 2
    spam_posts = session.exec(select(PostLabel).where(PostLabel.spam_score >= 0.6)).all()
    assert len(spam_posts) == 2


def test_lexicon_blend_moves_toward_the_lexicon_and_zero_is_the_head() -> None:
    from nlp.classifier import blend_lexicon

    labels = ("negative", "neutral", "positive")
    proba = np.array([[0.5, 0.2, 0.3], [0.2, 0.6, 0.2]])
    same = blend_lexicon(proba, np.array([0.9, -0.9]), labels, 0.0)
    assert np.allclose(same, proba)
    moved = blend_lexicon(proba, np.array([0.9, -0.9]), labels, 1.0)
    assert moved[0, 2] > proba[0, 2] and moved[1, 0] > proba[1, 0]
    assert np.allclose(moved.sum(axis=1), 1.0)


@pytest.mark.parametrize(
    ("text", "sentiment"),
    [
        ("这家店的咖啡太好喝了，下次还来！", "positive"),  # the head alone says negative
        ("難喝死了，再也不來了", "negative"),  # traditional
        ("超级喜欢这个口红[爱你]", "positive"),
        ("好失望啊[泪]", "negative"),
    ],
)
def test_the_shipped_default_labeller_on_plain_cases(text: str, sentiment: str) -> None:
    clf = make_classifier(default_settings())
    (lab,) = clf.predict([text])
    assert lab.sentiment == sentiment


def test_numpy_hashing_counts_ngrams_within_each_text_only() -> None:
    from nlp.linear import FeatureConfig

    cfg = FeatureConfig(n_features=2**16, words=False, hasher="mix64")
    counts = cfg.counts(["ab", "c", "", "ab"]).toarray()
    assert counts.sum(axis=1).tolist() == [3, 1, 0, 3]  # a, b, ab | c | - | a, b, ab
    assert (counts[0] == counts[3]).all()  # a row does not depend on its neighbours
    alone = cfg.counts(["ab"]).toarray()
    assert (alone[0] == counts[0]).all()
