"""Clean post text for the models: HTML out, traditional -> simplified, URLs out.

Weibo emoticons (``[哈哈]``) and emoji are kept: they carry sentiment. ``#topic#`` markers are
dropped but their words kept as content; ``@names`` are removed from the text the models read
(a user name says nothing about the writer's mood) and returned separately.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

_IMG_ALT = re.compile(
    r"<img\b[^>]*?\balt=(?:\"([^\"]*)\"|'([^']*)'|([^\s>]+))[^>]*>", re.IGNORECASE
)
_BR = re.compile(r"<br\s*/?>", re.IGNORECASE)
_TAG = re.compile(r"<[a-zA-Z/!][^>]*>")
_URL = re.compile(r"(?:https?://|www\.)[^\s\u3000-\u303f\uff01-\uff5e<>\"]+", re.IGNORECASE)
_MENTION = re.compile(r"@[\w\u00b7\-]{1,30}")
_TOPIC = re.compile(r"#([^#\n]{1,64})#")
_EMOTICON = re.compile(r"\[[^\[\]\s]{1,8}\]")
_SPACE = re.compile(r"\s+")
# Emoji and pictographs (Weibo's mobile clients insert them as plain characters).
_EMOJI = re.compile("[\u2600-\u27bf\U0001f300-\U0001faff]")


@dataclass(frozen=True)
class Normalized:
    """A post's text prepared for the models."""

    text: str  # simplified; no URLs, no @names, no # markers; emoticons and emoji kept
    topics: tuple[str, ...] = ()
    mentions: tuple[str, ...] = ()
    emoticons: tuple[str, ...] = ()  # "[哈哈]" names and emoji characters, in order


def html_to_text(raw: str) -> str:
    """Readable text of Weibo's HTML: emoticon images become their ``[alt]``, tags go."""
    text = _IMG_ALT.sub(lambda m: next(g for g in m.groups() if g is not None), raw)
    text = _BR.sub("\n", text)
    text = _TAG.sub("", text)
    return html.unescape(text)


def post_text(post: Any) -> str:
    """The text to label: ``text_plain`` when the crawler filled it, else the HTML stripped."""
    plain = getattr(post, "text_plain", "") or ""
    return plain if plain.strip() else html_to_text(getattr(post, "text", "") or "")


@lru_cache(maxsize=1)
def _converter() -> Any:
    import opencc  # deferred: only the labelling stage needs it

    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    """Traditional -> simplified Chinese (OpenCC ``t2s``); other text passes through."""
    return _converter().convert(text) if text else text


def normalize(text: str) -> Normalized:
    """Clean ``text`` (plain text, as in ``Post.text_plain``) for segmentation and scoring."""
    text = to_simplified(text or "").replace("\ufe0f", "")  # emoji variation selector
    text = _URL.sub(" ", text)
    mentions = tuple(m[1:] for m in _MENTION.findall(text))
    text = _MENTION.sub(" ", text)
    topics = tuple(t.strip() for t in _TOPIC.findall(text) if t.strip())
    text = _TOPIC.sub(lambda m: f" {m.group(1).strip()} ", text)
    emoticons = _emoticons(text)
    text = _SPACE.sub(" ", text).strip()
    return Normalized(text=text, topics=topics, mentions=mentions, emoticons=emoticons)


def strip_emoticons(text: str) -> str:
    """``text`` without ``[emoticons]`` and emoji (for keywords: 哈哈 is not a topic)."""
    return _EMOJI.sub(" ", _EMOTICON.sub(" ", text))


def _emoticons(text: str) -> tuple[str, ...]:
    found = [(m.start(), m.group()) for m in _EMOTICON.finditer(text)]
    found += [(m.start(), m.group()) for m in _EMOJI.finditer(text)]
    return tuple(s for _, s in sorted(found))
