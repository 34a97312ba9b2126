from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nlp.normalize import (
    MODEL_MAX_CHARS,
    html_to_text,
    is_labellable,
    model_text,
    normalize,
    own_words,
    post_text,
)


def test_traditional_to_simplified() -> None:
    assert normalize("這個咖啡很好喝").text == "这个咖啡很好喝"


def test_urls_mentions_topics_emoticons() -> None:
    n = normalize("#咖啡探店# @小明 这家店[哈哈]😍 https://t.cn/A6abc 看看")
    assert n.text == "咖啡探店 这家店[哈哈]😍 看看"
    assert n.topics == ("咖啡探店",)
    assert n.mentions == ("小明",)
    assert n.emoticons == ("[哈哈]", "😍")


def test_weibo_html_keeps_emoticon_alt_text() -> None:
    raw = (
        '<a href="/n/小明">@小明</a> 好喝<span class="url-icon">'
        '<img alt=[doge] src="x.png"></span><img alt="[哈哈]" src="y" /><br />第二行&amp;'
    )
    assert html_to_text(raw) == "@小明 好喝[doge][哈哈]\n第二行&"


class _Post:
    def __init__(self, text: str, text_plain: str) -> None:
        self.text, self.text_plain = text, text_plain


@pytest.mark.parametrize(
    ("text", "plain", "expected"),
    [
        ("<b>html</b>", "plain", "plain"),
        ("<b>html</b>", "", "html"),  # the crawler left text_plain empty: strip the HTML
        ("<b>html</b>", "  ", "html"),
    ],
)
def test_post_text_prefers_text_plain(text: str, plain: str, expected: str) -> None:
    assert post_text(_Post(text, plain)) == expected


# --- robustness: normalize takes any str --------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # invalid UTF-8 read with surrogateescape: OpenCC would raise on the lone surrogate
        (b"\xe5\xa5\xbd\xff\xe5\x96\x9d".decode("utf-8", "surrogateescape"), "好\ufffd喝"),
        ("好\x00喝\x07", "好喝"),  # NUL and other controls dropped
        ("好\u200b喝\ufeff", "好喝"),  # zero-width space, BOM
        ("第一行\r\n第二行\t完", "第一行 第二行 完"),  # whitespace collapses, not dropped
        ("日本語の文章です。And English!", "日本语の文章です。And English!"),
    ],
)
def test_normalize_cleans_what_breaks_encoders(text: str, expected: str) -> None:
    assert normalize(text).text == expected


def test_long_posts() -> None:
    text = "這家咖啡[哈哈]@小明 #咖啡# https://t.cn/x " * 400  # about 12,000 characters
    norm = normalize(text)
    assert norm.text.startswith("这家咖啡[哈哈] 咖啡 这家咖啡")
    assert len(norm.mentions) == len(norm.topics) == 400
    assert len(model_text(text)) == MODEL_MAX_CHARS
    # unclosed tags once made the <img alt> pattern scan to the end from each one
    assert html_to_text("<img " * 2_500) == "<img " * 2_500


@pytest.mark.parametrize(
    ("text", "labellable"),
    [
        ("https://t.cn/A6abc", False),  # only a URL: nothing left to read
        ("@小明 @小红", False),
        ("123 !!! ……", False),
        ("", False),
        ("\x00\udcff", False),
        ("😍😍", True),  # emoji carry sentiment
        ("[哈哈]", True),
        ("ok", True),
        ("好", True),
    ],
)
def test_is_labellable(text: str, labellable: bool) -> None:
    assert is_labellable(normalize(text)) is labellable


@pytest.mark.parametrize(
    ("text", "own"),
    [
        ("好//@小明:拾光咖啡超好喝", "好"),
        ("//@小明:转发", ""),
        ("回复@小明:谢谢推荐", "谢谢推荐"),
        ("没有转发链的原创", "没有转发链的原创"),
    ],
)
def test_own_words(text: str, own: str) -> None:
    assert own_words(text) == own


#: Any code point, lone surrogates and controls made common (hypothesis's text() rarely
#: draws them), and the pieces the cleaning rules look for.
WILD_TEXT = st.lists(
    st.one_of(
        st.characters(codec=None, exclude_categories=()),
        st.characters(categories=["Cs"]),
        st.characters(categories=["Cc", "Cf"]),
        st.sampled_from(["https://t.cn/A6x", "#话题", "#", "@小明", "[哈哈]", "//@", "這家", "😍"]),
    ),
    max_size=80,
).map("".join)


@given(WILD_TEXT)
def test_normalize_never_raises(text: str) -> None:
    norm = normalize(text)
    assert "\x00" not in norm.text and norm.text == norm.text.strip()
    assert not any("\ud800" <= ch <= "\udfff" for ch in norm.text)
    assert model_text(text) == norm.text[:MODEL_MAX_CHARS]
    assert isinstance(is_labellable(norm), bool)
    norm.text.encode("utf-8")  # storable as it is
    assert isinstance(html_to_text(text), str)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("http://t.cn/A6x好喝", "好喝"),  # URLs are ASCII: the words after one stay
        ("看 https://shiguang.example.com/ks 吧", "看 吧"),  # s and k are no non-ASCII letters
        ("HTTPS://T.CN/X", ""),
    ],
)
def test_urls_end_where_ascii_ends(text: str, expected: str) -> None:
    assert normalize(text).text == expected
