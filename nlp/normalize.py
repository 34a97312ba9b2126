"""Clean post text for the models: HTML out, traditional -> simplified, URLs out.

Weibo emoticons (``[哈哈]``) and emoji are kept: they carry sentiment. ``#topic#`` markers are
dropped but their words kept as content; ``@names`` are removed from the text the models read
(a user name says nothing about the writer's mood) and returned separately.

``normalize`` takes any ``str`` without raising: lone surrogates (bytes that were not UTF-8,
decoded with ``surrogateescape``) become U+FFFD before OpenCC sees them, and control and
invisible format characters are dropped. What is left may be empty (a post that was only a
URL); ``is_labellable`` tells the caller whether there is anything to read.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

# [^<>]: a tag ends at the next "<" too, so a run of unclosed "<img" stays linear
_IMG_ALT = re.compile(
    r"<img\b[^<>]*?\balt=(?:\"([^\"]*)\"|'([^']*)'|([^\s>]+))[^<>]*>", re.IGNORECASE
)
_BR = re.compile(r"<br\s*/?>", re.IGNORECASE)
_TAG = re.compile(r"<[a-zA-Z/!][^>]*>")
# URLs are ASCII: a post's words may follow one without a space (http://t.cn/A6x好喝).
# (No IGNORECASE on the class: it would fold s and k into the non-ASCII ſ and K.)
_URL = re.compile(r"(?i:https?://|www\.)[^\s<>\"\[\]\x80-\U0010ffff]+")
_MENTION = re.compile(r"@[\w\u00b7\-]{1,30}")
_TOPIC = re.compile(r"#([^#\n]{1,64})#")
_EMOTICON = re.compile(r"\[[^\[\]\s]{1,8}\]")
_SPACE = re.compile(r"\s+")
# Emoji and pictographs (Weibo's mobile clients insert them as plain characters).
_EMOJI = re.compile("[\u2600-\u27bf\U0001f300-\U0001faff]")
_QUOTED = re.compile(r"//\s*@")
_REPLY_TO = re.compile(r"^\s*回复\s*@[^:：\s]+\s*[:：]")
# OpenCC encodes to UTF-8, which refuses lone surrogates.
_SURROGATE = re.compile("[\ud800-\udfff]")
# C0/C1 controls but tab, newline and carriage return (whitespace, collapsed later), and the
# invisible format characters (zero-width spaces and joiners, bidi marks, BOM, tags).
_INVISIBLE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u00ad\u200b-\u200f\u202a-\u202e"
    "\u2060-\u206f\ufeff\ufff9-\ufffb\U000e0000-\U000e007f]"
)


@dataclass(frozen=True)
class Normalized:
    """A post's text prepared for the models."""

    text: str  # simplified; no URLs, no @names, no # markers; emoticons and emoji kept
    topics: tuple[str, ...] = ()
    mentions: tuple[str, ...] = ()
    emoticons: tuple[str, ...] = ()  # "[哈哈]" names and emoji characters, in order


def own_words(text: str) -> str:
    """The writer's own words in a post: without the quoted repost chain (``//@name:...``)
    and without a leading ``回复@name:`` (a reply's address)."""
    return _REPLY_TO.sub("", _QUOTED.split(text, maxsplit=1)[0])


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


def sanitize(text: str) -> str:
    """``text`` safe for any encoder: lone surrogates -> U+FFFD, control characters dropped."""
    return _INVISIBLE.sub("", _SURROGATE.sub("\ufffd", text))


def normalize(text: str) -> Normalized:
    """Clean ``text`` (cached: the rules, the spam cues and the models each ask for it)."""
    return (
        _normalize_cached(text) if isinstance(text, str) and len(text) < 4096 else _normalize(text)
    )


@lru_cache(maxsize=4096)
def _normalize_cached(text: str) -> Normalized:
    return _normalize(text)


def _normalize(text: str) -> Normalized:
    """Clean ``text`` (plain text, as in ``Post.text_plain``) for segmentation and scoring."""
    text = to_simplified(sanitize(text or "")).replace("\ufe0f", "")  # emoji variation selector
    text = _URL.sub(" ", text)
    mentions = tuple(m[1:] for m in _MENTION.findall(text))
    text = _MENTION.sub(" ", text)
    topics = tuple(t.strip() for t in _TOPIC.findall(text) if t.strip())
    text = _TOPIC.sub(lambda m: f" {m.group(1).strip()} ", text)
    emoticons = _emoticons(text)
    text = _SPACE.sub(" ", text).strip()
    return Normalized(text=text, topics=topics, mentions=mentions, emoticons=emoticons)


def is_labellable(norm: Normalized) -> bool:
    """Whether a model has anything to read: a letter (any script, CJK included) or an
    emoticon. Posts that were only a URL, only @names or only digits and punctuation are not."""
    return bool(norm.emoticons) or any(ch.isalpha() for ch in norm.text)


def strip_emoticons(text: str) -> str:
    """``text`` without ``[emoticons]`` and emoji (for keywords: 哈哈 is not a topic)."""
    return _EMOJI.sub(" ", _EMOTICON.sub(" ", text))


def _emoticons(text: str) -> tuple[str, ...]:
    found = [(m.start(), m.group()) for m in _EMOTICON.finditer(text)]
    found += [(m.start(), m.group()) for m in _EMOJI.finditer(text)]
    return tuple(s for _, s in sorted(found))


#: The models read at most this many characters of a post (after normalizing).
MODEL_MAX_CHARS = 1000


def model_text(text: str) -> str:
    """What every trained model (linear or transformer) reads, in training and in labelling:
    the normalized text (simplified, no URLs or @names, #topic# words and emoticons kept), cut
    to ``MODEL_MAX_CHARS``."""
    return normalize(text or "").text[:MODEL_MAX_CHARS]
