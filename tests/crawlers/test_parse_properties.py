"""Property tests: random JSON in each endpoint's shape fed to the parsers and the callbacks.

A crawl must go on past any strange body, so a parser may raise only the project's own
``ParseError`` (the callbacks catch it, count it and skip the object) and a spider callback may
raise nothing at all. The strategies build the real shapes of docs/weibo-api.md with fields
missing, mistyped or replaced by arbitrary JSON, which is where real responses go wrong.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scrapy.exceptions import CloseSpider
from scrapy.http import Request

from crawlers.config import Settings
from crawlers.spiders import weibo_parse as wp
from crawlers.spiders.text import parse_count, parse_created_at, text_plain
from crawlers.spiders.weibo import WeiboSpider
from tests.crawlers.helpers import response

PROFILE = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
)
anything = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)


def maybe(value: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A field as served, or broken: any JSON value instead."""
    return st.one_of(value, value, anything)


ids = st.one_of(st.integers(min_value=1, max_value=2**63), st.from_regex(r"\A[0-9]{1,18}\Z"))
counts = st.one_of(
    st.integers(min_value=-5, max_value=10**12),
    st.sampled_from(["6335万", "1.2亿", "100万+", "", "x"]),
)
dates = st.one_of(
    st.sampled_from(["Sat Jun 15 11:44:46 +0800 2019", "刚刚", "5分钟前", "昨天 12:00", "06-14"]),
    st.sampled_from(
        ["0001-01-01 00:00", "9999-12-31 23:59:59", "99999天前", "13-45", "今天 99:99"]
    ),
    st.text(max_size=20),
)
html_text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            '<a href="https://m.weibo.cn/search?containerid=231522type%3D1%26q%3D%23咖啡%23">'
            '<span class="surl-text">#咖啡#</span></a>',
            "<a href='/n/拿铁少女'>@拿铁少女</a><br />",
            '<span class="url-icon"><img alt=[哈哈] src="//h5.sinaimg.cn/x.png" /></span>',
            '<a href="https://m.weibo.cn/p/index?containerid=100808' + "a" * 32 + '">'
            '<span class="surl-text">咖啡</span></a>',
        ]
    ),
)


def fields(**shape: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """An object with each field of ``shape`` present or not, and well-formed or not."""
    return st.fixed_dictionaries({}, optional={k: maybe(v) for k, v in shape.items()})


users = fields(
    id=ids,
    screen_name=st.text(max_size=10),
    description=st.text(max_size=10),
    gender=st.sampled_from(["f", "m", "x"]),
    followers_count=counts,
    follow_count=counts,
    statuses_count=counts,
    verified=st.booleans(),
    verified_reason=st.text(max_size=5),
)
base_mblog = fields(
    id=ids,
    mid=ids,
    created_at=dates,
    text=html_text,
    user=users,
    reposts_count=counts,
    comments_count=counts,
    attitudes_count=counts,
    isLongText=st.booleans(),
    isTop=st.sampled_from([0, 1, True]),
)
mblogs = st.one_of(
    base_mblog, st.builds(lambda m, r: {**m, "retweeted_status": r}, base_mblog, maybe(base_mblog))
)
comment_objects = st.builds(
    lambda c, subs: {**c, "comments": subs},
    fields(
        id=ids, created_at=dates, text=html_text, user=users, like_count=counts, total_number=counts
    ),
    maybe(
        st.one_of(st.just(False), st.lists(fields(id=ids, text=html_text, user=users), max_size=2))
    ),
)
cards = st.one_of(
    st.builds(lambda m: {"card_type": 9, "mblog": m}, maybe(mblogs)),
    st.builds(lambda u: {"card_type": 10, "user": u, "desc1": "x"}, maybe(users)),
    st.just({"card_type": 58, "desc": "已为你过滤部分相似结果"}),
    anything,
)
card_groups = st.one_of(
    cards,
    st.builds(lambda g: {"card_type": 11, "card_group": g}, maybe(st.lists(cards, max_size=3))),
)
get_index = fields(
    cards=st.lists(card_groups, max_size=4),
    cardlistInfo=fields(page=st.one_of(st.integers(0, 9), st.none()), since_id=ids),
    pageInfo=fields(page_title=st.text(max_size=8), desc=st.text(max_size=8), since_id=ids),
    userInfo=users,
)
info_data = fields(
    cards=st.lists(
        st.builds(
            lambda g: {"card_type": 11, "card_group": g},
            st.lists(
                fields(
                    card_type=st.just(41),
                    item_name=st.sampled_from(["标签", "所在地", "简介"]),
                    item_content=st.text(max_size=12),
                ),
                max_size=4,
            ),
        ),
        max_size=2,
    )
)
hotflow = fields(data=st.lists(maybe(comment_objects), max_size=3), total_number=counts, max_id=ids)
repost_timeline = fields(data=st.lists(maybe(mblogs), max_size=3), total_number=counts, max=counts)
extend = fields(ok=st.just(1), longTextContent=html_text, reposts_count=counts)
config = fields(login=st.booleans(), uid=ids)


def envelope(data: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A response body: ``{"ok": 1, "data": ...}``, an end of list, or not an envelope at all."""
    return st.one_of(
        st.builds(lambda d: {"ok": 1, "data": d}, maybe(data)),
        st.builds(
            lambda ok, d: {"ok": ok, "data": d}, maybe(st.sampled_from([0, 1, "0", "1"])), data
        ),
        st.just({"ok": 0, "msg": "这里还没有内容"}),
        anything,
    )


def only_parse_errors(fn: Callable[[], Any]) -> None:
    with contextlib.suppress(wp.ParseError):
        fn()


# --- the pure parsers ------------------------------------------------------------------------


@PROFILE
@given(user=maybe(users))
def test_account(user: Any) -> None:
    only_parse_errors(lambda: wp.account(user))


@PROFILE
@given(mblog=maybe(mblogs))
def test_mblog_items(mblog: Any) -> None:
    only_parse_errors(lambda: wp.mblog_items(mblog))
    only_parse_errors(lambda: wp.repost_items(mblog, "1", "1", "2"))
    # the paging helpers read any MBLOG without raising at all
    wp.mid_number(mblog), wp.is_pinned(mblog)


@PROFILE
@given(data=maybe(get_index))
def test_get_index_lists(data: Any) -> None:
    only_parse_errors(lambda: list(wp.mblog_cards(data)))
    only_parse_errors(lambda: list(wp.user_cards(data)))
    only_parse_errors(lambda: wp.fan_items(data, "1"))
    only_parse_errors(lambda: wp.follow_items(data, "1"))
    only_parse_errors(lambda: wp.profile(data))
    only_parse_errors(lambda: wp.supertopic_group(data, "100808" + "a" * 32))
    wp.similar_omitted(data), wp.next_cursor(data, "cardlistInfo", "page")


@PROFILE
@given(data=maybe(info_data))
def test_profile_info(data: Any) -> None:
    only_parse_errors(lambda: wp.profile_info("1", data))


@PROFILE
@given(comment=maybe(comment_objects))
def test_comment_items(comment: Any) -> None:
    only_parse_errors(lambda: wp.comment_items(comment, "1", "2"))


@PROFILE
@given(data=maybe(extend))
def test_long_text(data: Any) -> None:
    only_parse_errors(lambda: wp.long_text(data, {"platform_id": "1", "author_id": "2"}))


@PROFILE
@given(body=envelope(config))
def test_login_state(body: Any) -> None:
    only_parse_errors(lambda: wp.login_state(body))


@PROFILE
@given(value=anything, date=dates)
def test_text_helpers_never_raise(value: Any, date: str) -> None:
    parse_count(value), parse_created_at(value), parse_created_at(date), text_plain(value)


# --- the spider callbacks --------------------------------------------------------------------

LIST_META = {"target": "topic:x", "kind": "search", "cid": "100103type=61&q=x", "n": 1}
CALLBACKS: dict[str, tuple[str, st.SearchStrategy[Any], dict[str, Any]]] = {
    "posts": ("parse_posts", get_index, {**LIST_META, "list_name": "realtime", "ordered": True}),
    "feed": (
        "parse_posts",
        get_index,
        {**LIST_META, "kind": "supertopic", "group_id": "100808" + "a" * 32},
    ),
    "users": ("parse_users", get_index, LIST_META),
    "fans": ("parse_people", get_index, {**LIST_META, "kind": "fans", "uid": "1", "fetched": 0}),
    "follows": ("parse_people", get_index, {**LIST_META, "kind": "follows", "uid": "1"}),
    "profile": ("parse_profile", get_index, {"target": "t", "uid": "1"}),
    "info": ("parse_info", info_data, {"target": "t", "uid": "1"}),
    "comments": (
        "parse_comments",
        hotflow,
        {"target": "t", "post": {"id": "1", "author": "2"}, "n": 1},
    ),
    "reposts": (
        "parse_reposts",
        repost_timeline,
        {"target": "t", "post": {"id": "1", "author": "2", "root": "1"}, "n": 1},
    ),
    "extend": (
        "parse_extend",
        extend,
        {"target": "t", "post": {"id": "1", "author": "2", "kind": "post"}},
    ),
}


@pytest.fixture
def weibo(bare_settings: Settings) -> WeiboSpider:
    return WeiboSpider(bare_settings)


@pytest.mark.parametrize("name", sorted(CALLBACKS))
def test_callbacks_survive_any_body(weibo: WeiboSpider, name: str) -> None:
    method, shape, meta = CALLBACKS[name]

    @PROFILE
    @given(body=st.one_of(envelope(shape), st.text(max_size=30)))
    def check(body: Any) -> None:
        raw = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)
        out = list(getattr(weibo, method)(response("http://sandbox.test/x", raw, **meta)))
        assert all(isinstance(x, dict | Request) for x in out)

    check()


@PROFILE
@given(body=st.one_of(envelope(config), st.text(max_size=30)))
def test_login_callback_starts_or_stops(weibo: WeiboSpider, body: Any) -> None:
    # the login check either lets the crawl start or stops it with the project's error
    raw = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)
    weibo.fatal = None
    try:
        list(weibo.parse_config(response("http://sandbox.test/api/config", raw)))
    except CloseSpider:
        assert weibo.fatal is not None and weibo.fatal.exit_code == 4
