from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crawlers.config import default_settings
from nlp.classifier import Classifier, LexiconClassifier, lexicon_version, make_classifier


def test_make_classifier_gives_the_lexicon_backend() -> None:
    clf = make_classifier(default_settings(nlp={"model": "lexicon"}))
    assert isinstance(clf, LexiconClassifier)
    assert isinstance(clf, Classifier)
    assert clf.version.startswith("lexicon-v1-") and len(clf.version) <= 64


def test_predict_is_batched_and_ordered(classifier: LexiconClassifier) -> None:
    out = classifier.predict(["好喝", "难喝", ""])
    assert [lab.sentiment for lab in out] == ["positive", "negative", "neutral"]
    empty = out[2]
    assert (empty.sentiment, empty.sentiment_score, empty.labellable) == ("neutral", 1.0, False)
    assert empty.interests == empty.intents == empty.keywords == [] and empty.stages == {}


def test_keywords_top_k(classifier: LexiconClassifier) -> None:
    (labels,) = classifier.predict(["周末和朋友去探店，这家咖啡馆的手冲和拿铁都很好喝[哈哈]"])
    assert len(labels.keywords) == 5
    assert "探店" in labels.keywords  # HMM on, as jieba.analyse
    assert "哈哈" not in labels.keywords


def test_version_follows_what_changes_output() -> None:
    base = lexicon_version(default_settings())
    assert lexicon_version(default_settings()) == base
    changed = [
        default_settings(nlp={"neutral_band": 0.3}),
        default_settings(nlp={"user_dict": ["燕麦拿铁"]}),
        default_settings(nlp={"keywords_top_k": 3}),
        default_settings(nlp={"interests": {"coffee": ["咖啡"]}}),
        default_settings(campaigns={"a": {"brand": "A", "brand_terms": ["拾光咖啡"]}}),
    ]
    versions = {lexicon_version(s) for s in changed}
    assert base not in versions and len(versions) == len(changed)
    # what does not change labels does not change the version
    assert lexicon_version(default_settings(nlp={"batch_size": 7})) == base


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.text(max_size=80), max_size=4))
def test_predict_never_raises(classifier: LexiconClassifier, texts: list[str]) -> None:
    # arbitrary unicode: surrogates, control characters, lone brackets, # and @ runs
    out = classifier.predict(texts)
    assert len(out) == len(texts)
    for lab in out:
        assert -1.0 <= lab.polarity <= 1.0 and 0.0 <= lab.sentiment_score <= 1.0
        assert lab.sentiment in {"positive", "negative", "neutral"}
