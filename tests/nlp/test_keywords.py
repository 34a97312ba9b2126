from __future__ import annotations

import jieba.analyse
import pytest

from nlp.keywords import extract_keywords, stop_words
from nlp.segment import Segmenter

SENTENCES = [
    "这个宾馆比较陈旧了，特价的房间也很一般。总体来说一般",
    "苹果公司发布了新款手机，处理器性能提升明显，续航也更长",
    "周末和朋友去探店，这家咖啡馆的手冲和拿铁都很好喝",
    "国内武汉、深圳、上海，国外的日本、泰国已有病例了。春节出入公共场所请尽量戴口罩。",
    "我们今天分享一个健身减脂的训练计划，跑步加撸铁，大家一起坚持",
]


@pytest.fixture(scope="module")
def reference() -> jieba.analyse.TFIDF:
    """jieba's own extractor, given our stop words (theirs are a few English words)."""
    tfidf = jieba.analyse.TFIDF()
    tfidf.stop_words = set(tfidf.stop_words) | set(stop_words())
    return tfidf


@pytest.mark.parametrize("text", SENTENCES)
def test_matches_jieba_extract_tags(
    fast_segmenter: Segmenter, reference: jieba.analyse.TFIDF, text: str
) -> None:
    ours = extract_keywords(fast_segmenter.cut(text, hmm=True), 5)
    assert ours == reference.extract_tags(text, topK=5)


def test_plain_extract_tags_when_no_stop_word_occurs(fast_segmenter: Segmenter) -> None:
    text = SENTENCES[0]
    assert extract_keywords(fast_segmenter.cut(text, hmm=True), 5) == jieba.analyse.extract_tags(
        text, topK=5
    )


def test_numbers_punctuation_and_stop_words_skipped() -> None:
    assert extract_keywords(["2020", "!!", "我们", "咖啡", "a", "咖啡"], 5) == ["咖啡"]
    assert extract_keywords(["咖啡"], 0) == []
