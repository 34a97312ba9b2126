"""The world's objects as m.weibo.cn JSON: USER, MBLOG, COMMENT and the HTML inside ``text``."""

from __future__ import annotations

import hashlib
import html
import re
from datetime import datetime
from typing import Any
from urllib.parse import quote

from crawlers.config import supertopic_containerid
from crawlers.sandbox.catalog import EMOTICONS
from crawlers.sandbox.model import SHORT_TEXT, Comment, Post, Repost, User

_TOKEN = re.compile(r"#([^#\n]+)#|@([\w\-]+)|(\[[^\[\]\s]{1,8}\])|(\n)")
_B62 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def weibo_time(when: datetime) -> str:
    """``Sat Jun 15 11:44:46 +0800 2019``."""
    return when.strftime("%a %b %d %H:%M:%S %z %Y")


def bid(mid: int) -> str:
    """Weibo's short post id: base62 of the mid in groups of seven digits."""
    digits, parts = str(mid), []
    while digits:
        chunk, digits = int(digits[-7:]), digits[:-7]
        code = ""
        while chunk:
            chunk, r = divmod(chunk, 62)
            code = _B62[r] + code
        parts.append(code.rjust(4, "0") if digits else code)
    return "".join(reversed(parts))


def _topic(name: str) -> str:
    q = "type%3D1%26q%3D%23" + quote(name, safe="") + "%23"
    return (
        f'<a href="https://m.weibo.cn/search?containerid=231522{q}">'
        f'<span class="surl-text">#{html.escape(name)}#</span></a>'
    )


def _emoticon(code: str) -> str:
    slug = EMOTICONS.get(code)
    if slug is None:
        return html.escape(code)
    digest = hashlib.md5(slug.encode()).hexdigest()[:10]
    src = f"//h5.sinaimg.cn/m/emoticon/icon/default/{slug}-{digest}.png"
    return (
        f'<span class="url-icon"><img alt={code} src="{src}" '
        f'style="width:1em; height:1em;" /></span>'
    )


def _token(m: re.Match[str]) -> str:
    topic, name, emo, newline = m.groups()
    if topic is not None:
        return _topic(topic)
    if name is not None:
        return f"<a href='/n/{html.escape(name)}'>@{html.escape(name)}</a>"
    if emo is not None:
        return _emoticon(emo)
    return "<br />" if newline else ""


def supertopic_link(name: str) -> str:
    cid = supertopic_containerid(name)
    return (
        f'<a href="https://m.weibo.cn/p/index?extparam={quote(name)}&containerid={cid}">'
        f'<span class="surl-text">{html.escape(name)}</span></a>'
    )


def to_html(text: str, supertopic: str | None = None) -> str:
    """Plain world text -> Weibo HTML (topics, mentions, emoticons, ``<br />``)."""
    out, pos = [], 0
    for m in _TOKEN.finditer(text):
        out.append(html.escape(text[pos : m.start()], quote=False))
        out.append(_token(m))
        pos = m.end()
    out.append(html.escape(text[pos:], quote=False))
    body = "".join(out)
    return f"{supertopic_link(supertopic)} {body}" if supertopic else body


def count(n: int) -> int | str:
    """Counts as Weibo shows them: ints, but ``"1.2万"`` / ``"3亿"`` once they are large."""
    if n >= 100_000_000:
        return f"{n / 100_000_000:.1f}".rstrip("0").rstrip(".") + "亿"
    if n >= 10_000:
        return f"{n / 10_000:.1f}".rstrip("0").rstrip(".") + "万"
    return n


def _avatar(uid: int) -> str:
    digest = hashlib.md5(str(uid).encode()).hexdigest()[:20]
    return f"https://tvax1.sinaimg.cn/crop.0.0.180.180.180/{digest}ly8h.jpg"


def user_json(user: User) -> dict[str, Any]:
    return {
        "id": user.uid,
        "screen_name": user.screen_name,
        "profile_image_url": _avatar(user.uid),
        "profile_url": f"https://m.weibo.cn/u/{user.uid}?uid={user.uid}",
        "description": user.description,
        "gender": user.gender,
        "followers_count": count(user.followers_count),
        "follow_count": count(user.follow_count),
        "statuses_count": count(user.statuses_count),
        "verified": user.verified,
        "verified_type": 0 if user.verified else -1,
        "verified_reason": user.verified_reason,
        "urank": user.urank,
        "mbrank": user.mbrank,
        "follow_me": False,
        "following": False,
    }


def _visible(post: Post) -> tuple[str, bool]:
    """The feed's text: long posts are cut at 140 characters with a 全文 link."""
    if not post.is_long:
        return to_html(post.text, post.supertopic), False
    cut = to_html(post.text[:SHORT_TEXT], post.supertopic)
    more = f'...<a href="/status/{bid(post.mid)}">全文</a>'
    return cut + more, True


def mblog_json(post: Post, author: User) -> dict[str, Any]:
    text, is_long = _visible(post)
    return {
        "id": str(post.mid),
        "mid": str(post.mid),
        "bid": bid(post.mid),
        "created_at": weibo_time(post.created_at),
        "text": text,
        "textLength": len(post.text.encode("gbk", "replace")),
        "source": post.source,
        "user": user_json(author),
        "reposts_count": len(post.reposts),
        "comments_count": post.comments_count,
        "attitudes_count": post.attitudes_count,
        "isLongText": is_long,
        "favorited": False,
        "pic_num": 0,
    }


def repost_json(repost: Repost, author: User) -> dict[str, Any]:
    return {
        "id": str(repost.id),
        "mid": str(repost.id),
        "bid": bid(repost.id),
        "created_at": weibo_time(repost.created_at),
        "text": to_html(repost.text),
        "textLength": len(repost.text.encode("gbk", "replace")),
        "source": repost.source,
        "user": user_json(author),
        "reposts_count": 0,
        "comments_count": 0,
        "attitudes_count": repost.attitudes_count,
        "isLongText": False,
        "pid": repost.mid,
    }


def comment_json(comment: Comment, users: dict[int, User]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": comment.id,
        "mid": str(comment.mid),
        "rootid": str(comment.root_id),
        "created_at": weibo_time(comment.created_at),
        "text": to_html(comment.text),
        "source": "",
        "user": user_json(users[comment.uid]),
        "like_count": comment.like_count,
        "floor_number": 0,
        "total_number": len(comment.replies),
        "comments": [comment_json(r, users) for r in comment.replies] or False,
        "liked": False,
        "isLikedByMblogAuthor": False,
    }
    if comment.reply_id:
        out["reply_id"] = str(comment.reply_id)
    return out
