from __future__ import annotations

import pytest

from nlp.normalize import html_to_text, normalize, post_text


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
