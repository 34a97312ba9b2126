"""Mastodon REST API JSON -> tingfeng items, as pure functions (no Scrapy, no network).

Each builder takes one decoded JSON value (a Status, an Account, a Context, a list of them) and
returns item dicts ``{"item_type": ..., "platform": "mastodon", **fields}`` with the fields of
the matching ``*In`` model. Malformed input raises ``ParseError`` and nothing else; optional
fields that are absent or unreadable are left out of the item, so the store keeps what it knew.

Mapping: a status is a post (``kind="comment"`` when it answers another status, ``"repost"``
for a boost, whose ``reblog`` is the original status); ``text`` is the HTML ``content`` as
received. Mastodon names mentioned accounts by id, so mention edges come straight from the
status. A boost edge is keyed by the *boosted* status (an account can boost a status once), so
the same boost seen in a timeline and in ``reblogged_by`` is one edge.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlparse

from crawlers.errors import CrawlError
from crawlers.spiders.text import text_plain as _weibo_plain

PLATFORM = "mastodon"
Item = dict[str, Any]

#: ids are stored in 64-character columns; Mastodon's are digits, Pleroma's alphanumeric
MAX_ID_LEN = 64
#: the largest count SQLite and PostgreSQL BIGINT hold
MAX_COUNT = 2**63 - 1


class ParseError(CrawlError):
    """A response lacks a field the parser needs; the caller logs it and skips the object."""

    def __init__(self, what: str, detail: str) -> None:
        self.what = what
        super().__init__(f"cannot parse Mastodon {what}: {detail}")


def item(item_type: str, **fields: Any) -> Item:
    """An item dict for the pipelines: ``None`` values are left out (unknown, keep stored)."""
    return {"item_type": item_type, "platform": PLATFORM} | {
        k: v for k, v in fields.items() if v is not None
    }


# --- field readers ---------------------------------------------------------------------------


def _obj(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ParseError(what, f"expected an object, got {type(value).__name__}")
    return value


def _id(obj: Any, key: str, what: str) -> str:
    value = _obj(obj, what).get(key)
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ParseError(what, f"no {key!r} id (got {value!r:.40})")
    text = str(value).strip()
    if not text or len(text) > MAX_ID_LEN or any(c.isspace() for c in text):
        raise ParseError(what, f"{key!r} is not an id: {value!r:.40}")
    return text


def _opt_id(obj: dict[str, Any], key: str, what: str) -> str | None:
    return None if obj.get(key) is None else _id(obj, key, what)


def _count(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if 0 <= value <= MAX_COUNT else None


def _str(obj: dict[str, Any], key: str) -> str:
    value = obj.get(key)
    return value.strip() if isinstance(value, str) else ""


def parse_time(value: Any) -> datetime | None:
    """``"2026-08-01T13:53:49.918Z"`` -> aware UTC datetime; anything unreadable -> None."""
    if not isinstance(value, str):
        return None
    try:
        found = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if found.tzinfo is None:
        found = found.replace(tzinfo=UTC)
    try:
        return found.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


_PARAGRAPH_RE = re.compile(r"</p>\s*<p[^>]*>", re.I)


def text_plain(content: Any) -> str:
    """Readable text of a status's HTML: tags stripped, entities unescaped, paragraphs and
    ``<br>`` as line breaks."""
    if not isinstance(content, str):
        return ""
    return _weibo_plain(_PARAGRAPH_RE.sub("\n\n", content))


def _names(values: Any, key: str) -> list[str]:
    """``values[*][key]`` strings, in order, unique (non-objects skipped)."""
    if not isinstance(values, list):
        return []
    found = (v.get(key) for v in values if isinstance(v, dict))
    return list(dict.fromkeys(n.strip() for n in found if isinstance(n, str) and n.strip()))


# --- accounts --------------------------------------------------------------------------------


def account(obj: Any) -> Item:
    """An account item from an Account entity (lookup, a status's author, a follower)."""
    acc = _obj(obj, "account")
    return item(
        "account",
        platform_id=_id(acc, "id", "account"),
        name=_str(acc, "display_name") or _str(acc, "username"),
        handle=_str(acc, "acct"),
        description=text_plain(acc.get("note")),
        followers_count=_count(acc.get("followers_count")),
        follows_count=_count(acc.get("following_count")),
        posts_count=_count(acc.get("statuses_count")),
        verified=False,
        profile_tags=_names(acc.get("featured_tags"), "name"),
    )


# --- statuses --------------------------------------------------------------------------------


def post(status: Any, *, root_id: str | None = None) -> Item:
    """The post item of a Status (the outer one for a boost: ``kind="repost"``)."""
    st = _obj(status, "status")
    pid = _id(st, "id", "status")
    author = _id(st.get("account"), "id", f"status {pid} account")
    original = st.get("reblog")
    parent = _opt_id(st, "in_reply_to_id", f"status {pid}")
    kind = "comment" if parent else "post"
    if original is not None:
        kind, parent = "repost", _id(original, "id", f"status {pid} reblog")
        root_id = parent
    content = st.get("content") if isinstance(st.get("content"), str) else ""
    return item(
        "post",
        platform_id=pid,
        kind=kind,
        author_id=author,
        text=content,
        text_plain=text_plain(content),
        created_at=parse_time(st.get("created_at")),
        topics=_names(st.get("tags"), "name"),
        mentions=_names(st.get("mentions"), "acct"),
        parent_id=parent,
        root_id=root_id if kind != "post" else None,
        reposts_count=_count(st.get("reblogs_count")),
        comments_count=_count(st.get("replies_count")),
        likes_count=_count(st.get("favourites_count")),
    )


def interaction(
    kind: str, src: str, dst: str, post_id: str = "", created_at: datetime | None = None
) -> Item:
    return item(
        "interaction", kind=kind, src_id=src, dst_id=dst, post_id=post_id, created_at=created_at
    )


def status_items(status: Any, *, root_id: str | None = None) -> list[Item]:
    """Items of one Status: its author, the post, reply and mention edges, and for a boost the
    original status's items and the repost edge."""
    st = _obj(status, "status")
    main = post(st, root_id=root_id)
    items = [account(st.get("account")), main]
    if main["kind"] == "repost":
        original = status_items(st["reblog"])
        orig = original[1]
        edge = interaction(
            "repost",
            main["author_id"],
            orig["author_id"],
            orig["platform_id"],
            main.get("created_at"),
        )
        return [*items, edge, *original]
    return items + _reply_edge(st, main) + _mention_edges(st, main)


def _reply_edge(st: dict[str, Any], main: Item) -> list[Item]:
    if main["kind"] != "comment":
        return []
    dst = _opt_id(st, "in_reply_to_account_id", f"status {main['platform_id']}")
    if dst is None:
        return []
    return [
        interaction("comment", main["author_id"], dst, main["platform_id"], main.get("created_at"))
    ]


def _mention_edges(st: dict[str, Any], main: Item) -> list[Item]:
    mentions = st.get("mentions")
    if not isinstance(mentions, list):
        return []
    what = f"status {main['platform_id']} mention"
    dsts = dict.fromkeys(_id(m, "id", what) for m in mentions)
    return [
        interaction("mention", main["author_id"], dst, main["platform_id"], main.get("created_at"))
        for dst in dsts
    ]


# --- lists -----------------------------------------------------------------------------------


def object_list(body: Any, what: str) -> list[Any]:
    """A list response (timeline, statuses, followers, reblogged_by) as a list."""
    if not isinstance(body, list):
        raise ParseError(what, f"expected a list, got {type(body).__name__}")
    return body


def context(body: Any, status_id: str) -> tuple[str, list[Any]]:
    """``(root id, descendants)`` of a Context: the root is the thread's first status (the
    first ancestor), or ``status_id`` itself when it starts the thread."""
    ctx = _obj(body, "context")
    ancestors = ctx.get("ancestors", [])
    descendants = object_list(ctx.get("descendants", []), "context descendants")
    if not isinstance(ancestors, list):
        raise ParseError("context", "'ancestors' is not a list")
    root = _id(ancestors[0], "id", "context ancestor") if ancestors else status_id
    return root, descendants


def follower_items(follower: Any, account_id: str) -> list[Item]:
    """A follower of ``account_id``: its account and the follow edge follower -> account."""
    acc = account(follower)
    return [acc, interaction("follow", acc["platform_id"], account_id)]


def reblogger_items(reblogger: Any, status_id: str, author_id: str) -> list[Item]:
    """An account of ``reblogged_by``: its account and the repost edge towards the author."""
    acc = account(reblogger)
    return [acc, interaction("repost", acc["platform_id"], author_id, status_id)]


_LINK_RE = re.compile(r"<([^>]*)>\s*;([^,<]*)")
_REL_NEXT_RE = re.compile(r"""\brel\s*=\s*"?([^";]*)"?""", re.I)


def next_max_id(link: Any) -> str | None:
    """``max_id`` of the ``rel="next"`` URL of a ``Link`` header, or None (end of list)."""
    if not isinstance(link, str):
        return None
    for url, params in _LINK_RE.findall(link):
        rel = _REL_NEXT_RE.search(params)
        if rel and "next" in rel.group(1).split():
            try:
                values = parse_qs(urlparse(url).query).get("max_id") or [""]
            except ValueError:  # an unparsable URL (e.g. a broken IPv6 host) names no page
                return None
            max_id = values[0].strip()
            return max_id if max_id and len(max_id) <= MAX_ID_LEN else None
    return None
