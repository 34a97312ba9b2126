"""Checks on the text of a draft before anyone may approve it (KAWO-style pre-publish filter).

* **Sensitive words** (``[bot] sensitive_words``): matched on the normalised text (simplified,
  lower-cased) with spaces, punctuation, emoji and zero-width characters taken out, so
  ``加 微-信`` and ``加\u200b微信`` still match ``加微信``.
* **Links** (``[bot] allowed_link_domains``): every URL or bare domain must be on an allowed
  domain (or a subdomain of one); none is allowed by default.
* **Hidden characters**: bidi controls and zero-width characters change what a reviewer sees
  (a reversed or invisibly padded text); a draft holding any cannot be approved.
* **Near-duplicates** (``[bot] duplicate_similarity``, ``duplicate_window_days``): the same
  words sent to different people read as spam. Texts are compared as sets of character
  3-grams (Jaccard) after the addressee's name is taken out, against the texts the account
  approved or sent on the platform recently.

Each check returns problems as sentences naming what to change; an empty list means fine.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

#: bidi embedding/override/isolate controls and zero-width characters
HIDDEN = {
    "\u200b": "ZERO WIDTH SPACE",
    "\u200c": "ZERO WIDTH NON-JOINER",
    "\u200d": "ZERO WIDTH JOINER",
    "\u2060": "WORD JOINER",
    "\ufeff": "ZERO WIDTH NO-BREAK SPACE",
    "\u200e": "LEFT-TO-RIGHT MARK",
    "\u200f": "RIGHT-TO-LEFT MARK",
    "\u202a": "LEFT-TO-RIGHT EMBEDDING",
    "\u202b": "RIGHT-TO-LEFT EMBEDDING",
    "\u202c": "POP DIRECTIONAL FORMATTING",
    "\u202d": "LEFT-TO-RIGHT OVERRIDE",
    "\u202e": "RIGHT-TO-LEFT OVERRIDE",
    "\u2066": "LEFT-TO-RIGHT ISOLATE",
    "\u2067": "RIGHT-TO-LEFT ISOLATE",
    "\u2068": "FIRST STRONG ISOLATE",
    "\u2069": "POP DIRECTIONAL ISOLATE",
}
# a URL's characters: not space, quotes, brackets, CJK or full-width punctuation
_URL_CHARS = r"[^\s<>\"'()\u3000-\u9fff\uff00-\uffef]"
_URL = re.compile(
    rf"(?:https?://|www\.){_URL_CHARS}+"
    r"|\b(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+"
    r"(?:com|cn|net|org|io|me|co|cc|tv|info|top|xyz|ly|app|shop|vip)\b"
    rf"(?:/{_URL_CHARS}*)?",
    re.IGNORECASE | re.ASCII,
)
SHINGLE = 3


@dataclass(frozen=True)
class TextChecks:
    """The settings the checks read (``[bot]``)."""

    sensitive_words: tuple[str, ...] = ()
    allowed_link_domains: tuple[str, ...] = ()
    duplicate_similarity: float = 0.8

    @classmethod
    def of(cls, bot: object) -> TextChecks:
        """From a ``BotSettings``."""
        return cls(
            tuple(getattr(bot, "sensitive_words", ())),
            tuple(getattr(bot, "allowed_link_domains", ())),
            float(getattr(bot, "duplicate_similarity", 0.8)),
        )


def squeeze(text: str) -> str:
    """Lower-cased NFKC text with only letters and digits left (the form words are matched in).

    >>> squeeze("加 微-信\u200b：ABC１２")
    '加微信abc12'
    """
    folded = unicodedata.normalize("NFKC", text).lower()
    return "".join(ch for ch in folded if ch.isalnum())


def _simplified(text: str) -> str:
    from nlp.normalize import to_simplified

    return to_simplified(text)


def sensitive_hits(text: str, words: Iterable[str]) -> list[str]:
    """The sensitive words ``text`` contains, in the given order (traditional forms match too).

    >>> sensitive_hits("點我加 微信，領取返現", ["加微信", "返现", "代购"])
    ['加微信', '返现']
    """
    plain = squeeze(_simplified(text))
    return [w for w in words if (key := squeeze(_simplified(w))) and key in plain]


def links(text: str) -> list[str]:
    """URLs and bare domains in ``text``.

    >>> links("看这里 https://t.cn/A6x 或 shop.example.com/x，不是 3.5 元")
    ['https://t.cn/A6x', 'shop.example.com/x']
    """
    return [m.group(0).rstrip(".,;:!?") for m in _URL.finditer(text)]


def host(link: str) -> str:
    """The host of a URL or bare domain, lower-cased, without port or ``www.``."""
    rest = re.sub(r"^[a-z]+://", "", link.lower())
    name = re.split(r"[/?#:]", rest, maxsplit=1)[0]
    return name.removeprefix("www.")


def disallowed_links(text: str, allowed: Iterable[str]) -> list[str]:
    """Links in ``text`` whose host is not an allowed domain or a subdomain of one.

    >>> disallowed_links("官网 https://www.brand.cn/a 和 http://evil.com", ["brand.cn"])
    ['http://evil.com']
    """
    domains = [d.lower().removeprefix("www.") for d in allowed]
    out = []
    for link in links(text):
        h = host(link)
        if not any(h == d or h.endswith("." + d) for d in domains):
            out.append(link)
    return out


def hidden_characters(text: str) -> list[str]:
    """Names of the bidi controls and zero-width characters in ``text``, once each.

    >>> hidden_characters("ok\u202egnp.exe\u200b")
    ['RIGHT-TO-LEFT OVERRIDE', 'ZERO WIDTH SPACE']
    """
    seen: list[str] = []
    for ch in text:
        name = HIDDEN.get(ch)
        if name and name not in seen:
            seen.append(name)
    return seen


def shingles(text: str, remove: Sequence[str] = ()) -> frozenset[str]:
    """Character 3-grams of the squeezed, simplified text, with the ``remove`` strings (e.g.
    the addressee's name) taken out first."""
    plain = squeeze(_simplified(text))
    for name in remove:
        key = squeeze(_simplified(name))
        if key:
            plain = plain.replace(key, "\x00")
    if len(plain) < SHINGLE:
        return frozenset({plain}) if plain else frozenset()
    return frozenset(plain[i : i + SHINGLE] for i in range(len(plain) - SHINGLE + 1))


def similarity(a: frozenset[str], b: frozenset[str]) -> float:
    """Jaccard similarity of two shingle sets (0 when both are empty).

    >>> similarity(shingles("你好阿一，谢谢分享", ["阿一"]), shingles("你好小明，谢谢分享", ["小明"]))
    1.0
    """
    if not a and not b:
        return 0.0
    return len(a & b) / len(a | b)


def closest(
    text: str, name: str, recent: Iterable[tuple[int, str, str]]
) -> tuple[int | None, float]:
    """The most similar of ``recent`` ``(draft id, text, addressee name)`` to ``text`` (whose
    addressee is ``name``), and the similarity."""
    mine = shingles(text, [name])
    best_id, best = None, 0.0
    for draft_id, other, other_name in recent:
        score = similarity(mine, shingles(other, [other_name]))
        if score > best:
            best_id, best = draft_id, score
    return best_id, best


def problems(text: str, checks: TextChecks) -> list[str]:
    """Everything that stops ``text`` from being approved, each with what to do."""
    out = []
    if hits := sensitive_hits(text, checks.sensitive_words):
        out.append(
            f"contains sensitive words {', '.join(hits)} ([bot] sensitive_words): rewrite it"
        )
    if bad := disallowed_links(text, checks.allowed_link_domains):
        allowed = ", ".join(checks.allowed_link_domains) or "none"
        out.append(
            f"links to {', '.join(bad)}, not an allowed domain (allowed: {allowed}; "
            "[bot] allowed_link_domains): remove the link"
        )
    if hidden := hidden_characters(text):
        out.append(f"holds hidden characters ({', '.join(hidden)}): retype the text")
    return out
