"""The parsers against six real m.weibo.cn responses (../shared/reference/weibo/response.js).

The file has no licence: it is read from ../shared, never copied here. It is JavaScript
(``let name = {...};`` with trailing commas), so each object is cut out and cleaned first.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from crawlers.spiders import weibo_parse as wp

pytestmark = pytest.mark.shared

NOW = datetime(2019, 6, 15, 4, 0, tzinfo=UTC)
_LET_RE = re.compile(r"^let (\w+) = ", re.M)
_TRAILING_COMMA_RE = re.compile(r",(\s*[}\]])")


def _objects(source: str) -> dict[str, Any]:
    """``{name: decoded object}`` of every ``let name = {...}`` in the file."""
    found: dict[str, Any] = {}
    marks = list(_LET_RE.finditer(source))
    for mark, nxt in zip(marks, [*marks[1:], None], strict=True):
        chunk = source[mark.end() : nxt.start() if nxt else len(source)].strip().rstrip(";").strip()
        if chunk.startswith("{"):
            found[mark.group(1)] = json.loads(_TRAILING_COMMA_RE.sub(r"\1", chunk))
    return found


@pytest.fixture
def ref(shared_dir: Path) -> dict[str, Any]:
    return _objects(
        (shared_dir / "reference" / "weibo" / "response.js").read_text(encoding="utf-8")
    )


def test_all_six_objects_decode(ref: dict[str, Any]) -> None:
    assert set(ref) == {"userInfo", "cards1", "statuses1", "retweet01", "comments1", "comments2"}


def test_profile(ref: dict[str, Any]) -> None:
    acc = wp.profile(ref["userInfo"]["data"])
    assert acc["platform_id"] == "1669879400"
    assert acc["name"] == "Dear-迪丽热巴"
    assert (
        acc["followers_count"] == 63357736
        and acc["follows_count"] == 240
        and acc["posts_count"] == 1008
    )
    assert acc["verified"] is True and acc["gender"] == "f"


def test_timeline_page(ref: dict[str, Any]) -> None:
    data = ref["cards1"]["data"]
    mblogs = list(wp.mblog_cards(data))
    assert mblogs
    items = [i for m in mblogs for i in wp.mblog_items(m, now=NOW)]
    first = next(
        i for i in items if i["item_type"] == "post" and i["platform_id"] == "4383183661430868"
    )
    assert first["author_id"] == "1669879400"
    assert first["text_plain"] == "搬完这块砖，就可以吃好吃的了[偷笑][偷笑][偷笑]"
    assert first["reposts_count"] == 240492 and first["comments_count"] == 95535
    assert first["created_at"] == datetime(
        2019, 6, 13, 16, 0, tzinfo=UTC
    )  # "06-14", Beijing midnight
    assert wp.next_cursor(data, "cardlistInfo", "page") == "2"


def test_long_text(ref: dict[str, Any]) -> None:
    ref_post = {"platform_id": "4383487819465288", "author_id": "1669879400", "kind": "post"}
    full = wp.long_text(ref["statuses1"]["data"], ref_post)
    assert full["truncated"] is False
    assert "\nNature\n" in full["text_plain"] and "<br />" not in full["text_plain"]


def test_single_status_repost(ref: dict[str, Any]) -> None:
    items = wp.mblog_items(ref["retweet01"]["data"], now=NOW)
    repost = next(i for i in items if i["platform_id"] == "4383411844046171")
    assert repost["kind"] == "repost" and repost["author_id"] == "5973737418"
    assert repost["created_at"] == datetime(2019, 6, 15, 3, 44, 46, tzinfo=UTC)
    assert repost["text_plain"] == "转发微博"
    edge = next(i for i in items if i["item_type"] == "interaction")
    assert edge["src_id"] == "5973737418" and edge["post_id"] == "4383411844046171"


def test_comments_show(ref: dict[str, Any]) -> None:
    comments = ref["comments1"]["data"]["data"]
    items = [
        i for c in comments for i in wp.comment_items(c, "4383183661430868", "1669879400", now=NOW)
    ]
    texts = {i["platform_id"]: i["text_plain"] for i in items if i["item_type"] == "post"}
    assert texts["4383932071637949"] == "吃的完吗？要不我帮你解决一点儿[太开心]"
    assert texts["4383931988671914"] == "我乘着风有晴天路过"
    created = {i["platform_id"]: i["created_at"] for i in items if i["item_type"] == "post"}
    assert created["4383932071637949"] == NOW  # "刚刚"


def test_comments_hotflow(ref: dict[str, Any]) -> None:
    data = ref["comments2"]["data"]
    items = [
        i
        for c in data["data"]
        for i in wp.comment_items(c, "4383183661430868", "1669879400", now=NOW)
    ]
    first = next(i for i in items if i["platform_id"] == "4383183984547669")
    assert first["text_plain"] == "宝宝陪你一起搬陪你一起吃[羞嗒嗒]"
    assert first["likes_count"] == 6183 and first["author_id"] == "1787569845"
    assert len([i for i in items if i["item_type"] == "post"]) > len(
        data["data"]
    )  # sub-comments too
    subs = [i for i in items if i["item_type"] == "post" and i["parent_id"] == "4383183984547669"]
    assert subs and all(s["root_id"] == "4383183661430868" for s in subs)
    commenter = next(
        i for i in items if i["item_type"] == "account" and i["platform_id"] == "1787569845"
    )
    assert commenter["name"] == "护舒宝" and commenter["followers_count"] == 514938
    assert wp.next_cursor({"d": data}, "d", "max_id") == "314345666829623"
