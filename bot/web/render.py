"""Untrusted text made safe and honest for the review pages.

Everything a crawl, a drafter or a user typed is escaped (the templates autoescape; ``reveal``
escapes itself), and characters that change what a reviewer sees without being seen (bidi
controls, zero-width characters, other format and control characters) are shown as visible
badges naming them, so ``ok\u202egnp.exe`` cannot pass for something else.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from markupsafe import Markup, escape

from bot.textcheck import HIDDEN

#: invisible characters that are neither format (Cf) nor control (Cc) characters
_BLANKS = {
    "\u034f": "COMBINING GRAPHEME JOINER",
    "\u115f": "HANGUL CHOSEONG FILLER",
    "\u1160": "HANGUL JUNGSEONG FILLER",
    "\u3164": "HANGUL FILLER",
    "\uffa0": "HALFWIDTH HANGUL FILLER",
}
_VISIBLE_CONTROLS = frozenset("\n\t\r")


def hidden_name(ch: str) -> str | None:
    """The name of ``ch`` if it is a hidden character, else ``None``."""
    if ch in HIDDEN:
        return HIDDEN[ch]
    if ch in _BLANKS:
        return _BLANKS[ch]
    if ch in _VISIBLE_CONTROLS:
        return None
    cat = unicodedata.category(ch)
    if cat in ("Cf", "Cc", "Co", "Cs", "Zl", "Zp"):
        return unicodedata.name(ch, f"{cat} CHARACTER")
    return None


def hidden_in(text: str) -> list[str]:
    """``U+XXXX NAME`` of each hidden character in ``text``, once each, in order."""
    seen: list[str] = []
    for ch in text:
        name = hidden_name(ch)
        if name is not None:
            label = f"U+{ord(ch):04X} {name}"
            if label not in seen:
                seen.append(label)
    return seen


def reveal(value: Any) -> Markup:
    """``value`` as escaped HTML with each hidden character shown as a ``.hidden-char`` badge."""
    text = "" if value is None else str(value)
    out: list[str] = []
    plain: list[str] = []
    for ch in text:
        name = hidden_name(ch)
        if name is None:
            plain.append(ch)
            continue
        out.append(str(escape("".join(plain))))
        plain = []
        code = f"U+{ord(ch):04X}"
        out.append(
            f'<span class="hidden-char" title="{escape(code + " " + name)}">{escape(code)}</span>'
        )
    out.append(str(escape("".join(plain))))
    return Markup("".join(out))


def texts_of(value: Any) -> Iterable[str]:
    """Every string inside a JSON-like value (keys too)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from texts_of(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from texts_of(v)


def has_hidden(*values: Any) -> bool:
    return any(hidden_in(t) for v in values for t in texts_of(v))


def utc(when: datetime | None) -> str:
    """``2024-05-01 08:00:00 UTC``; naive values are UTC already (SQLite)."""
    if when is None:
        return ""
    from bot.review import as_utc

    return as_utc(when).strftime("%Y-%m-%d %H:%M:%S UTC")


def compact(value: Any) -> str:
    """A JSON-ish one-line form of any evidence value (escaped later by the template)."""
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return f"{value:.4g}"
    return json.dumps(value, ensure_ascii=False, default=str, sort_keys=True)


def pairs(value: Any) -> list[tuple[str, str]]:
    """A dict's items as ``(key, compact value)``; anything else as one ``("value", ...)``."""
    if isinstance(value, dict):
        return [(str(k), compact(v)) for k, v in value.items()]
    return [] if value in (None, "", [], {}) else [("value", compact(value))]


_POST_ID = re.compile(r"^[0-9A-Za-z]{1,32}$")


def post_link(platform: str, post_id: str | None) -> str | None:
    """A link to the draft's target post, built only from ids we trust the shape of."""
    if platform == "weibo" and post_id and _POST_ID.match(post_id):
        return f"https://m.weibo.cn/detail/{post_id}"
    return None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _post(value: Any) -> dict[str, Any] | None:
    post = _dict(value)
    if not post:
        return None
    labels = _dict(post.get("labels"))
    return {
        "id": post.get("id"),
        "kind": post.get("kind"),
        "text": post.get("text", ""),
        "created_at": post.get("created_at"),
        "topics": post.get("topics") or [],
        "labels": [(k, compact(v)) for k, v in labels.items()],
        "hidden": has_hidden(post.get("text", "")),
    }


#: evidence keys shown in their own place; the rest are listed as key and value
KNOWN = ("rule", "account", "influence", "post", "posts", "matched")


def evidence_view(evidence: Any) -> dict[str, Any]:
    """The evidence dict split into what the draft page shows nicely and the rest."""
    ev = _dict(evidence)
    rule = _dict(ev.get("rule"))
    inf = _dict(ev.get("influence"))
    posts = [p for p in (_post(x) for x in ev.get("posts") or [] if isinstance(x, dict)) if p]
    single = _post(ev.get("post"))
    if single:
        posts.insert(0, single)
    matched = _dict(ev.get("matched"))
    return {
        "rule_name": rule.get("name", ""),
        "why": rule.get("why", ""),
        "account": _dict(ev.get("account")),
        "influence": {
            "score": compact(inf.get("score")) if "score" in inf else "",
            "rank": inf.get("rank", ""),
            "explanation": inf.get("explanation", ""),
            "parts": [(k, compact(v)) for k, v in _dict(inf.get("parts")).items()],
        }
        if inf
        else None,
        "posts": posts,
        "matched": [(k, compact(v)) for k, v in matched.items()],
        "rest": [(k, compact(v)) for k, v in ev.items() if k not in KNOWN],
    }


def score_of(evidence: Any) -> float | None:
    score = _dict(_dict(evidence).get("influence")).get("score")
    return float(score) if isinstance(score, int | float) else None


def interests_of(evidence: Any) -> set[str]:
    ev = _dict(evidence)
    found = set()
    for source in (
        _dict(ev.get("matched")).get("interests"),
        _dict(_dict(ev.get("post")).get("labels")).get("interests"),
    ):
        if isinstance(source, list):
            found |= {str(i) for i in source}
    return found


#: the only links the hand-off page makes: Weibo pages whose path and query hold nothing but
#: ids (letters, digits, ``_``, ``-``), so a crawled id cannot turn a link into anything else
_WEIBO_LINK = re.compile(
    r"^https://(?:m\.weibo\.cn|weibo\.com)/[0-9A-Za-z_\-/]{1,120}(?:\?containerid=[0-9A-Za-z]{1,64})?$"
)


def handoff_links(draft: Any) -> list[str]:
    """Where a person acts on a hand-off (``bot.handoff.links``: the post, else the profile or
    the super-topic), keeping only links built entirely from ids of a trusted shape."""
    from bot.handoff import links

    return [url for url in links(draft) if _WEIBO_LINK.match(url) and "//" not in url[8:]]
