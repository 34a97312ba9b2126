"""m.weibo.cn JSON -> tingfeng items, as pure functions (no Scrapy, no network).

Each builder takes one decoded JSON object (a USER, MBLOG, COMMENT, card list ...) and returns
item dicts: ``{"item_type": "account" | "post" | "interaction" | "group", **fields}`` with the
fields of the matching ``*In`` model. A missing required field raises ``ParseError``; optional
fields that are absent are left out of the item, so the store keeps what it knew (an account
item without ``profile_tags`` never erases stored tags). See docs/weibo-api.md for the shapes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from crawlers.errors import CrawlError
from crawlers.spiders.text import (
    mentions,
    parse_count,
    parse_created_at,
    supertopic_links,
    text_plain,
    topics,
)

PLATFORM = "weibo"
Item = dict[str, Any]


class ParseError(CrawlError):
    """A response lacks a field the parser needs; the caller logs it and skips the object."""

    def __init__(self, what: str, detail: str) -> None:
        self.what = what
        super().__init__(f"cannot parse {what}: {detail}")


def item(item_type: str, **fields: Any) -> Item:
    """An item dict for the pipelines: ``None`` values are left out (unknown, keep stored)."""
    return {"item_type": item_type, "platform": PLATFORM} | {
        k: v for k, v in fields.items() if v is not None
    }


_DIGITS_RE = re.compile(r"[0-9]{1,64}")


def _id(obj: Any, key: str, what: str) -> str:
    if not isinstance(obj, dict):
        raise ParseError(what, f"expected an object, got {type(obj).__name__}")
    value = obj.get(key)
    if isinstance(value, bool) or value in (None, ""):
        raise ParseError(what, f"no {key!r}")
    # ASCII digits only: str.isdigit() also accepts "²" and other scripts' digits
    if not isinstance(value, int | str) or not _DIGITS_RE.fullmatch(str(value).strip()):
        raise ParseError(what, f"{key!r} is not an id: {value!r}")
    return str(value).strip()


def _str(obj: dict[str, Any], key: str) -> str | None:
    value = obj.get(key)
    return value.strip() if isinstance(value, str) else None


# --- accounts --------------------------------------------------------------------------------


def account(user: Any) -> Item:
    """An account item from a USER object (counts may be ``"6335万"`` strings)."""
    uid = _id(user, "id", "user")
    gender = user.get("gender")
    return item(
        "account",
        platform_id=uid,
        name=_str(user, "screen_name"),
        description=_str(user, "description"),
        followers_count=parse_count(user.get("followers_count")),
        follows_count=parse_count(user.get("follow_count")),
        posts_count=parse_count(user.get("statuses_count")),
        verified=user["verified"] if isinstance(user.get("verified"), bool) else None,
        verified_reason=_str(user, "verified_reason"),
        gender=gender if gender in ("f", "m") else None,
    )


_TAG_SPLIT_RE = re.compile(r"[\s,，、;；]+")
_INFO_FIELDS = {"所在地": "location", "简介": "description"}


def profile_info(uid: str, data: Any) -> Item:
    """The account item of a ``230283{uid}_-_INFO`` page: ``profile_tags`` always set (maybe [])."""
    fields: dict[str, Any] = {"profile_tags": []}
    for card in iter_cards(_dict(data, "profile info").get("cards")):
        name, content = card.get("item_name"), card.get("item_content")
        if not isinstance(name, str) or not isinstance(content, str):
            continue
        if name == "标签":
            fields["profile_tags"] = [t for t in _TAG_SPLIT_RE.split(content.strip()) if t]
        elif name in _INFO_FIELDS:
            fields[_INFO_FIELDS[name]] = content.strip()
    return item("account", platform_id=uid, **fields)


def profile(data: Any) -> Item:
    """The account item of a ``100505{uid}`` profile page (``data.userInfo``)."""
    return account(_dict(data, "profile").get("userInfo"))


def user_cards(data: Any) -> Iterator[Any]:
    """USER objects of a user list (tag search, fans)."""
    for card in iter_cards(_dict(data, "user list").get("cards")):
        if isinstance(card.get("user"), dict):
            yield card["user"]


# --- cards and paging ------------------------------------------------------------------------


def _dict(data: Any, what: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ParseError(what, f"'data' is {type(data).__name__}, not an object")
    return data


def iter_cards(cards: Any) -> Iterator[dict[str, Any]]:
    """Cards of a card list, ``card_group`` cards flattened, non-objects skipped."""
    if not isinstance(cards, list):
        return
    for card in cards:
        if not isinstance(card, dict):
            continue
        if isinstance(card.get("card_group"), list):
            yield from iter_cards(card["card_group"])
        else:
            yield card


def mblog_cards(data: Any) -> Iterator[Any]:
    """MBLOG objects of a post list (search, super-topic feed, timeline)."""
    for card in iter_cards(_dict(data, "post list").get("cards")):
        if "mblog" in card:
            yield card["mblog"]


#: ``100103type=N&q=...`` of each search list (实时 realtime, 热门 hot, 综合 all)
SEARCH_TYPES = {"realtime": "61", "hot": "60", "all": "1"}
#: the card Weibo puts where it dropped results it found too similar
SIMILAR_CARD_TYPE = 58
SIMILAR_TEXT = "过滤部分相似"


def search_containerid(search_type: str, q: str) -> str:
    """The containerid of one search list for ``q`` (a keyword or ``#topic#``)."""
    return f"100103type={SEARCH_TYPES[search_type]}&q={q}"


def similar_omitted(data: Any) -> bool:
    """Whether a result page says similar results were left out (card_type 58 or its text)."""
    cards = data.get("cards") if isinstance(data, dict) else None
    for card in iter_cards(cards):
        desc = card.get("desc")
        if card.get("card_type") == SIMILAR_CARD_TYPE or (
            isinstance(desc, str) and SIMILAR_TEXT in desc
        ):
            return True
    return False


def mid_number(obj: Any) -> int | None:
    """An MBLOG's id as a number (Weibo ids grow with time), or None when it has none."""
    value = obj.get("id") if isinstance(obj, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None
    text = str(value).strip()
    return int(text) if _DIGITS_RE.fullmatch(text) else None


def is_pinned(mblog: Any) -> bool:
    """A post pinned to the top of a timeline (``isTop``): out of time order."""
    return isinstance(mblog, dict) and mblog.get("isTop") in (1, True, "1")


def total_number(data: Any) -> int | None:
    """``data.total_number`` of a comment or repost page."""
    return parse_count(data.get("total_number")) if isinstance(data, dict) else None


def next_cursor(data: Any, section: str, key: str) -> str | None:
    """``data[section][key]`` as a string when it names a next page, else None."""
    block = data.get(section) if isinstance(data, dict) else None
    value = block.get(key) if isinstance(block, dict) else None
    if isinstance(value, bool) or value in (None, "", 0, "0"):
        return None
    return str(value) if isinstance(value, int | str) else None


# --- posts -----------------------------------------------------------------------------------


def post(
    mblog: Any,
    *,
    kind: str = "post",
    parent_id: str | None = None,
    root_id: str | None = None,
    group_id: str | None = None,
    now: datetime | None = None,
) -> Item:
    """A post item from an MBLOG (or a COMMENT when ``kind="comment"``)."""
    pid = _id(mblog, "id", kind)
    author = _id(mblog.get("user"), "id", f"{kind} {pid} user")
    html_text = mblog.get("text") if isinstance(mblog.get("text"), str) else ""
    plain = text_plain(html_text)
    links = supertopic_links(html_text)
    return item(
        "post",
        platform_id=pid,
        kind=kind,
        author_id=author,
        text=html_text,
        text_plain=plain,
        created_at=parse_created_at(mblog.get("created_at"), now),
        topics=topics(plain),
        mentions=mentions(html_text, plain),
        group_id=group_id or (links[0][0] if links else None),
        parent_id=parent_id,
        root_id=root_id,
        reposts_count=parse_count(mblog.get("reposts_count")),
        comments_count=parse_count(mblog.get("comments_count")),
        likes_count=parse_count(_first(mblog, "attitudes_count", "like_count", "like_counts")),
        truncated=mblog.get("isLongText") is True,
    )


def _first(obj: dict[str, Any], *keys: str) -> Any:
    return next((obj[k] for k in keys if obj.get(k) is not None), None)


def interaction(
    kind: str, src: str, dst: str, post_id: str = "", created_at: datetime | None = None
) -> Item:
    return item(
        "interaction", kind=kind, src_id=src, dst_id=dst, post_id=post_id, created_at=created_at
    )


def mblog_items(
    mblog: Any, *, group_id: str | None = None, now: datetime | None = None
) -> list[Item]:
    """Items of one MBLOG of a list: its author, the post, super-topic groups it links, and for
    a repost the original post, its author and the repost interaction."""
    retweeted = mblog.get("retweeted_status") if isinstance(mblog, dict) else None
    if not isinstance(retweeted, dict):
        items = [account(_get_user(mblog)), post(mblog, group_id=group_id, now=now)]
        return items + link_groups(mblog)
    original = mblog_items(retweeted, now=now)
    orig_post = next(i for i in original if i["item_type"] == "post")
    repost = post(
        mblog,
        kind="repost",
        parent_id=orig_post["platform_id"],
        root_id=orig_post.get("root_id") or orig_post["platform_id"],
        group_id=group_id,
        now=now,
    )
    edge = interaction(
        "repost",
        repost["author_id"],
        orig_post["author_id"],
        repost["platform_id"],
        repost.get("created_at"),
    )
    return [account(_get_user(mblog)), repost, edge, *original, *link_groups(mblog)]


def _get_user(obj: Any) -> Any:
    return obj.get("user") if isinstance(obj, dict) else None


def link_groups(mblog: Any) -> list[Item]:
    """Group items for super-topic links that carry a name."""
    text = mblog.get("text") if isinstance(mblog, dict) else None
    if not isinstance(text, str):
        return []
    return [
        item("group", platform_id=cid, name=name) for cid, name in supertopic_links(text) if name
    ]


def supertopic_group(data: Any, containerid: str) -> Item | None:
    """The group item of a super-topic feed page (``pageInfo.page_title`` is its name)."""
    info = _dict(data, "super-topic feed").get("pageInfo")
    if not isinstance(info, dict) or not isinstance(info.get("page_title"), str):
        return None
    return item(
        "group",
        platform_id=containerid[:38],
        name=info["page_title"].strip(),
        description=_str(info, "desc"),
    )


def long_text(data: Any, post_item: Item) -> Item:
    """``post_item`` with the full text of a ``/statuses/extend`` response."""
    content = _dict(data, "long text").get("longTextContent")
    if not isinstance(content, str):
        raise ParseError("long text", "no 'longTextContent'")
    plain = text_plain(content)
    return item(
        "post",
        platform_id=post_item["platform_id"],
        kind=post_item.get("kind", "post"),
        author_id=post_item["author_id"],
        text=content,
        text_plain=plain,
        truncated=False,
        topics=topics(plain),
        mentions=mentions(content, plain),
    )


# --- comments and reposts --------------------------------------------------------------------


def comment_items(
    comment: Any, post_id: str, post_author: str, now: datetime | None = None
) -> list[Item]:
    """A hotflow COMMENT: commenter, the comment, the comment interaction, and its sub-comments
    (each a reply to the comment: parent = the comment, interaction towards its author)."""
    c = post(comment, kind="comment", parent_id=post_id, root_id=post_id, now=now)
    items = [
        account(comment["user"]),
        c,
        interaction("comment", c["author_id"], post_author, c["platform_id"], c.get("created_at")),
    ]
    subs = comment.get("comments")
    for sub in subs if isinstance(subs, list) else []:
        s = post(sub, kind="comment", parent_id=c["platform_id"], root_id=post_id, now=now)
        items += [
            account(sub["user"]),
            s,
            interaction(
                "comment", s["author_id"], c["author_id"], s["platform_id"], s.get("created_at")
            ),
        ]
    return items


def repost_items(
    mblog: Any, post_id: str, root_id: str, post_author: str, now: datetime | None = None
) -> list[Item]:
    """A repostTimeline MBLOG: reposter, the repost (parent = the post) and the interaction."""
    r = post(mblog, kind="repost", parent_id=post_id, root_id=root_id, now=now)
    edge = interaction("repost", r["author_id"], post_author, r["platform_id"], r.get("created_at"))
    return [account(mblog["user"]), r, edge]


def fan_items(data: Any, uid: str) -> list[Item]:
    """Fans of ``uid``: each fan's account and a follow interaction fan -> uid."""
    items: list[Item] = []
    for user in user_cards(data):
        fan = account(user)
        items += [fan, interaction("follow", fan["platform_id"], uid)]
    return items


def follow_items(data: Any, uid: str) -> list[Item]:
    """Whom ``uid`` follows (``231051_-_followers_-_{uid}``): each account and uid -> it."""
    items: list[Item] = []
    for user in user_cards(data):
        followee = account(user)
        items += [followee, interaction("follow", uid, followee["platform_id"])]
    return items


def login_state(body: Any) -> bool:
    """Whether ``GET /api/config`` says the cookie is logged in (``data.login``)."""
    ok, data = list_data(body)
    login = _dict(data, "login state").get("login") if ok else None
    if not isinstance(login, bool):
        raise ParseError("login state", f"'data.login' is {login!r}, not true or false")
    return login


def list_data(body: Any) -> tuple[bool, Any]:
    """``(ok, data)`` of a decoded response; ``ok`` False means end of list / nothing here."""
    if not isinstance(body, dict):
        raise ParseError("response", f"body is {type(body).__name__}, not an object")
    ok = body.get("ok")
    if ok in (0, "0", False):
        return False, body.get("data")
    if "data" not in body:
        raise ParseError("response", "no 'data'")
    return True, body["data"]
