"""Parse tests: hand-written m.weibo.cn-shaped fixtures fed to the parsers and spider callbacks."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qs, urlparse

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crawlers.models import ITEM_MODELS
from crawlers.spiders import weibo_parse as wp
from crawlers.spiders.text import parse_count, parse_created_at, text_plain
from tests.crawlers.helpers import fixture_response, items_and_requests, load, response, spider

NOW = datetime(2019, 6, 15, 4, 0, tzinfo=UTC)  # 12:00 in Beijing


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (12, 12),
        ("12", 12),
        ("1.2万", 12_000),
        ("6335万", 63_350_000),
        ("1.2亿", 120_000_000),
        ("100万+", 1_000_000),
        ("1,234", 1234),
        ("", None),
        ("很多", None),
        (None, None),
        (True, None),  # a bool is not a count even though it is an int in Python
        ([1], None),
    ],
)
def test_parse_count(raw: object, expected: int | None) -> None:
    assert parse_count(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Sat Jun 15 11:44:46 +0800 2019", datetime(2019, 6, 15, 3, 44, 46, tzinfo=UTC)),
        ("刚刚", NOW),
        ("5分钟前", datetime(2019, 6, 15, 3, 55, tzinfo=UTC)),
        ("3小时前", datetime(2019, 6, 15, 1, 0, tzinfo=UTC)),
        ("昨天 12:00", datetime(2019, 6, 14, 4, 0, tzinfo=UTC)),
        ("06-14", datetime(2019, 6, 13, 16, 0, tzinfo=UTC)),
        ("2019-06-14", datetime(2019, 6, 13, 16, 0, tzinfo=UTC)),
        ("12-31", datetime(2018, 12, 30, 16, 0, tzinfo=UTC)),  # a future month-day is last year
        ("明天见", None),
        ("13-45", None),
        (None, None),
        ("", None),
    ],
)
def test_parse_created_at(raw: object, expected: datetime | None) -> None:
    assert parse_created_at(raw, now=NOW) == expected


def test_text_plain_emoticons_breaks_entities() -> None:
    html = '好喝<span class="url-icon"><img alt=[哈哈] src="//x/y.png" /></span><br />第二行 &amp; <a href="/n/a">@a</a>'
    assert text_plain(html) == "好喝[哈哈]\n第二行 & @a"
    assert text_plain('<img alt="[心]" src="x"/>') == "[心]"


# Property tests: the parsers run on whatever a server sends, so they must never raise.
@given(st.one_of(st.text(), st.integers(), st.floats(), st.none(), st.booleans()))
def test_parse_count_never_raises(value: object) -> None:
    result = parse_count(value)
    assert result is None or isinstance(result, int)


@given(st.text())
def test_parse_created_at_never_raises(value: str) -> None:
    result = parse_created_at(value, now=NOW)
    assert result is None or result.tzinfo is not None


@given(st.text())
def test_text_plain_never_raises_and_drops_tags(value: str) -> None:
    out = text_plain(value)
    assert isinstance(out, str)


def test_post_from_topic_search() -> None:
    items = wp.mblog_items(load("topic_search.json")["data"]["cards"][0]["mblog"], now=NOW)
    author, post = items[0], items[1]
    assert author == {
        "item_type": "account",
        "platform": "weibo",
        "platform_id": "1000000001",
        "name": "豆子日记",
        "description": "每天一杯手冲",
        "followers_count": 12_000,
        "follows_count": 321,
        "posts_count": 856,
        "verified": True,
        "verified_reason": "咖啡博主",
        "gender": "f",
    }
    assert post["kind"] == "post" and post["author_id"] == "1000000001"
    assert post["text"].startswith("周末去了一家新店 <a href=")  # HTML as received
    assert (
        post["text_plain"]
        == "周末去了一家新店 #咖啡探店# 拿铁很顺滑[哈哈]\n推荐给 @拿铁少女 & 朋友们"
    )
    assert post["topics"] == ["咖啡探店"]
    assert post["mentions"] == ["拿铁少女"]
    assert post["comments_count"] == 3 and post["likes_count"] == 15_000
    assert post["created_at"] == datetime(2019, 6, 15, 3, 44, 46, tzinfo=UTC)
    assert "profile_tags" not in author  # only an INFO page may set (or clear) tags


def test_repost_with_retweeted_status() -> None:
    items = wp.mblog_items(load("topic_search.json")["data"]["cards"][2]["mblog"], now=NOW)
    posts = {i["platform_id"]: i for i in items if i["item_type"] == "post"}
    repost = posts["4990000000000003"]
    assert repost["kind"] == "repost"
    assert repost["parent_id"] == repost["root_id"] == "4990000000000001"
    assert posts["4990000000000001"]["kind"] == "post"
    [edge] = [i for i in items if i["item_type"] == "interaction"]
    assert (edge["kind"], edge["src_id"], edge["dst_id"], edge["post_id"]) == (
        "repost",
        "1000000003",
        "1000000001",
        "4990000000000003",
    )
    accounts = [i for i in items if i["item_type"] == "account"]
    assert {a["platform_id"] for a in accounts} == {"1000000001", "1000000003"}
    assert accounts[0]["followers_count"] == 63_350_000


def test_supertopic_link_and_long_text_flag() -> None:
    mblog = load("topic_search.json")["data"]["cards"][1]["card_group"][0]["mblog"]
    items = wp.mblog_items(mblog, now=NOW)
    post = items[1]
    assert post["group_id"] == "100808a1b2c3d4e5f60718293a4b5c6d7e8f90"
    assert post["truncated"] is True
    assert items[-1] == {
        "item_type": "group",
        "platform": "weibo",
        "platform_id": "100808a1b2c3d4e5f60718293a4b5c6d7e8f90",
        "name": "咖啡",
    }
    full = wp.long_text(load("extend.json")["data"], post)
    assert full["truncated"] is False and full["topics"] == ["冷萃"]
    assert full["text_plain"].splitlines() == [
        "冷萃季到了，这篇写得有点长。",
        "第一步：粗研磨",
        "第二步：冷水浸泡十二小时 #冷萃#",
    ]


def test_profile_info_tags() -> None:
    acc = wp.profile_info("1000000001", load("profile_info.json")["data"])
    assert acc["profile_tags"] == ["咖啡", "手冲", "旅行"]
    assert acc["location"] == "上海 徐汇区"
    empty = wp.profile_info("1000000001", {"cards": []})
    assert empty["profile_tags"] == []  # fetched and none: the stored tags are cleared


def test_comments_with_sub_comments() -> None:
    data = load("comments.json")["data"]
    items = [
        i
        for c in data["data"]
        for i in wp.comment_items(c, "4990000000000001", "1000000001", now=NOW)
    ]
    comments = {i["platform_id"]: i for i in items if i["item_type"] == "post"}
    assert set(comments) == {"4990000000000201", "4990000000000202", "4990000000000203"}
    sub = comments["4990000000000202"]
    assert sub["parent_id"] == "4990000000000201" and sub["root_id"] == "4990000000000001"
    assert sub["text_plain"] == "回复@路过的猫:真的好喝" and sub["mentions"] == ["路过的猫"]
    edges = {
        (i["src_id"], i["dst_id"], i["post_id"]) for i in items if i["item_type"] == "interaction"
    }
    assert edges == {
        ("1000000006", "1000000001", "4990000000000201"),
        ("1000000001", "1000000006", "4990000000000202"),
        ("1000000007", "1000000001", "4990000000000203"),
    }
    assert comments["4990000000000201"]["likes_count"] == 5


def test_every_item_validates() -> None:
    mblogs = [c.get("mblog") for c in wp.iter_cards(load("topic_search.json")["data"]["cards"])]
    for mblog in mblogs:
        for it in wp.mblog_items(mblog, now=NOW):
            fields = dict(it)
            ITEM_MODELS[fields.pop("item_type")][0].model_validate(fields)


def test_missing_fields_raise_parse_error() -> None:
    bad = load("supertopic_feed.json")["data"]["cards"][1]["mblog"]
    with pytest.raises(wp.ParseError):
        wp.mblog_items(bad)
    with pytest.raises(wp.ParseError):
        wp.account({"screen_name": "无名"})
    with pytest.raises(wp.ParseError):
        wp.list_data({"ok": 1})


# --- spider callbacks ------------------------------------------------------------------------


def test_parse_posts_follows_up_and_pages(settings) -> None:
    sp = spider(settings, max_pages=2, comment_pages=1, repost_pages=1, fan_pages=1)
    resp = fixture_response(
        "topic_search.json",
        target="topic:咖啡探店",
        kind="search",
        cid="100103type=1&q=#咖啡探店#",
        n=1,
    )
    items, requests = items_and_requests(sp.parse_posts(resp))
    assert {i["item_type"] for i in items} == {"account", "post", "interaction", "group"}
    paths = [urlparse(r.url).path for r in requests]
    assert paths.count("/statuses/extend") == 1  # only the isLongText post
    assert paths.count("/comments/hotflow") == 1  # only the post with comments_count != 0
    next_page = [r for r in requests if parse_qs(urlparse(r.url).query).get("page") == ["2"]]
    assert len(next_page) == 1 and next_page[0].meta["target"] == "topic:咖啡探店"
    cids = [parse_qs(urlparse(r.url).query).get("containerid", [""])[0] for r in requests]
    assert "2302831000000001_-_INFO" in cids and "231051_-_fans_-_1000000001" in cids


def test_page_limit_is_recorded_as_truncation(settings) -> None:
    sp = spider(settings, max_pages=1)
    sp.runbook.add("topic:咖啡探店", "shiguang")
    resp = fixture_response(
        "topic_search.json", target="topic:咖啡探店", kind="search", cid="c", n=1
    )
    _, requests = items_and_requests(sp.parse_posts(resp))
    assert not [r for r in requests if "page=2" in r.url]
    assert sp.runbook.targets["topic:咖啡探店"].truncated() == [
        "search: stopped at max_pages=1, more available"
    ]


def test_supertopic_feed_group_and_bad_card(settings) -> None:
    sp = spider(settings)
    sp.runbook.add("supertopic:咖啡", "shiguang")
    gid = "100808a1b2c3d4e5f60718293a4b5c6d7e8f90"
    resp = fixture_response(
        "supertopic_feed.json",
        target="supertopic:咖啡",
        kind="supertopic",
        cid=f"{gid}_-_sort_time",
        n=1,
        group_id=gid,
    )
    items, requests = items_and_requests(sp.parse_posts(resp))
    assert items[0] == {
        "item_type": "group",
        "platform": "weibo",
        "platform_id": gid,
        "name": "咖啡",
        "description": "咖啡爱好者的超话",
    }
    posts = [i for i in items if i["item_type"] == "post"]
    assert [p["group_id"] for p in posts] == [gid]  # the card without a user was skipped
    assert sp.runbook.targets["supertopic:咖啡"].errors == 1
    assert any("since_id=4990000000000100" in r.url for r in requests)


def test_comments_callback_pages_by_max_id(settings) -> None:
    sp = spider(settings, comment_pages=2)
    post = {
        "id": "4990000000000001",
        "author": "1000000001",
        "root": "4990000000000001",
        "kind": "post",
    }
    items, requests = items_and_requests(
        sp.parse_comments(fixture_response("comments.json", target="t", post=post, n=1))
    )
    assert len([i for i in items if i["item_type"] == "post"]) == 3
    [nxt] = requests
    assert parse_qs(urlparse(nxt.url).query)["max_id"] == ["139000000000"]
    _, requests = items_and_requests(
        sp.parse_comments(fixture_response("comments_last.json", target="t", post=post, n=2))
    )
    assert requests == []
    assert (
        list(sp.parse_comments(fixture_response("no_comments.json", target="t", post=post, n=1)))
        == []
    )


def test_reposts_callback(settings) -> None:
    sp = spider(settings, repost_pages=1)
    sp.runbook.add("t", "c")
    post = {
        "id": "4990000000000001",
        "author": "1000000001",
        "root": "4990000000000001",
        "kind": "post",
    }
    items, requests = items_and_requests(
        sp.parse_reposts(fixture_response("reposts.json", target="t", post=post, n=1))
    )
    reposts = [i for i in items if i["item_type"] == "post"]
    assert [r["parent_id"] for r in reposts] == ["4990000000000001"] * 2
    edges = [i for i in items if i["item_type"] == "interaction"]
    assert {(e["src_id"], e["dst_id"]) for e in edges} == {
        ("1000000009", "1000000001"),
        ("1000000003", "1000000001"),
    }
    assert requests == [] and sp.runbook.targets["t"].notes  # max=3 pages, limit 1: truncated


def test_fans_and_profile_callbacks(settings) -> None:
    sp = spider(settings, fan_pages=1)
    items, _ = items_and_requests(
        sp.parse_people(
            fixture_response(
                "fans.json",
                target="t",
                kind="fans",
                cid="231051_-_fans_-_1000000001",
                n=1,
                uid="1000000001",
            )
        )
    )
    follows = [
        (i["src_id"], i["dst_id"], i["post_id"]) for i in items if i["item_type"] == "interaction"
    ]
    assert follows == [("1000000010", "1000000001", ""), ("1000000011", "1000000001", "")]
    [acc] = sp.parse_info(fixture_response("profile_info.json", target="t", uid="1000000001"))
    assert acc["profile_tags"] == ["咖啡", "手冲", "旅行"]
    [prof] = sp.parse_profile(fixture_response("profile.json", target="t"))
    assert prof["followers_count"] == 12034


def test_tag_users_skip_bad_user(settings) -> None:
    sp = spider(settings, fetch_profiles=True, fan_pages=0)
    items, requests = items_and_requests(
        sp.parse_users(
            fixture_response("tag_users.json", target="tag:咖啡", kind="search", cid="c", n=1)
        )
    )
    assert [i["platform_id"] for i in items] == ["1000000001", "1000000005"]
    assert len(requests) == 4  # profile + INFO for each user, no fans, no next page


@pytest.mark.parametrize("body", ["{not json", "[1, 2]", '{"ok": 1}', '{"ok": 1, "data": "x"}'])
def test_malformed_bodies_are_counted_not_raised(settings, body: str, caplog) -> None:
    sp = spider(settings)
    sp.runbook.add("t", "c")
    resp = response(
        "http://sandbox.test/api/container/getIndex?containerid=x",
        body,
        target="t",
        kind="search",
        cid="x",
        n=1,
    )
    assert list(sp.parse_posts(resp)) == []
    assert sp.runbook.targets["t"].errors == 1
    assert "http://sandbox.test/api/container/getIndex?containerid=x" in caplog.text
