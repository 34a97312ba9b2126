from __future__ import annotations

import pytest

from crawlers.config import default_settings
from nlp.segment import Segmenter, user_words

SENTENCES = [
    "我在拾光咖啡喝了一杯冷萃，挂耳也不错",
    "青屿的早C晚A真的好用 今天买了Dior999口红",
    "这个宾馆比较陈旧了，特价的房间也很一般。总体来说一般",
    "2020年的这个#冠状病毒#来势汹汹，绝不容小觑。国内武汉、深圳、上海，国外的日本、泰国已有病例了。",
    "周末和朋友去探店，这家咖啡馆的手冲和拿铁都很好喝[哈哈]",
    "苹果公司发布了新款手机，处理器性能提升明显，续航也更长",
    "南京市长江大桥欢迎您 iPhone15 Pro Max 到手价5999元!!",
    "",
]


@pytest.mark.parametrize("text", SENTENCES)
@pytest.mark.parametrize("hmm", [False, True])
def test_rjieba_matches_jieba(
    fast_segmenter: Segmenter, jieba_segmenter: Segmenter, text: str, hmm: bool
) -> None:
    assert fast_segmenter.cut(text, hmm) == jieba_segmenter.cut(text, hmm)


@pytest.mark.parametrize("engine", ["rjieba", "jieba"])
@pytest.mark.parametrize(
    ("text", "word"),
    [("拾光咖啡馆的冷萃取", "拾光咖啡"), ("早C晚A护肤", "早C晚A"), ("买Dior999口红", "Dior999")],
)
def test_brand_words_stay_whole(
    fast_segmenter: Segmenter, jieba_segmenter: Segmenter, engine: str, text: str, word: str
) -> None:
    seg = fast_segmenter if engine == "rjieba" else jieba_segmenter
    assert word in seg.cut(text)


def test_without_user_words_brand_is_split() -> None:
    # proves the brand test above tests the user dictionary, not jieba's own
    assert "拾光咖啡" not in Segmenter().cut("我在拾光咖啡喝了一杯")


def test_user_words_from_settings() -> None:
    s = default_settings(
        nlp={"user_dict": ["燕麦拿铁", " "]},
        campaigns={"a": {"brand": "A", "brand_terms": ["拾光咖啡", "燕麦拿铁"]}},
    )
    assert user_words(s) == ["拾光咖啡", "燕麦拿铁"]
    assert Segmenter.from_settings(s) is Segmenter.from_settings(s)  # loaded once per process
