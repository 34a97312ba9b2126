"""Parse tests: recorded Mastodon bodies (tests/fixtures/mastodon/) fed to the parsers and to the
spider's callbacks, plus property tests on random JSON in the endpoint shapes."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scrapy.http import Request, TextResponse
from scrapy.settings import Settings as ScrapySettings

from crawlers.config import Campaign, Settings
from crawlers.models import ITEM_MODELS
from crawlers.settings import scrapy_settings
from crawlers.spiders import mastodon_parse as mp
from crawlers.spiders.mastodon import MastodonSpider, hashtag_query
from tests.crawlers.helpers import items_and_requests

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "mastodon"
TEST_2 = "117020566092212359"  # mastodonpy_test_2
ADMIN = "117020565693913441"


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def by_type(items: list[dict[str, Any]], item_type: str) -> list[dict[str, Any]]:
    return [i for i in items if i["item_type"] == item_type]


def validate(items: list[dict[str, Any]]) -> None:
    for i in items:
        fields = {k: v for k, v in i.items() if k != "item_type"}
        ITEM_MODELS[i["item_type"]][0].model_validate(fields)


# --- parsers on recorded bodies --------------------------------------------------------------


def test_hashtag_status() -> None:
    items = mp.status_items(load("timeline_tag_hoot.json")[0])
    validate(items)
    acc, post = items
    assert acc == {
        "item_type": "account",
        "platform": "mastodon",
        "platform_id": TEST_2,
        "name": "mastodonpy_test_2",  # no display name: the username
        "handle": "mastodonpy_test_2",
        "description": "",
        "followers_count": 0,
        "follows_count": 0,
        "posts_count": 3,
        "verified": False,
        "profile_tags": [],
    }
    assert post["platform_id"] == "117020593741189701" and post["kind"] == "post"
    assert post["text"].startswith('<p><a href="http://localhost:3000/tags/hoot"')
    assert post["text_plain"] == "#hoot (hashtag toot)"
    assert post["topics"] == ["hoot"] and post["mentions"] == []
    assert post["created_at"] == datetime(2026, 8, 1, 13, 55, 55, 867000, tzinfo=UTC)
    assert (post["comments_count"], post["reposts_count"], post["likes_count"]) == (0, 0, 0)
    assert "parent_id" not in post and "root_id" not in post


def test_reply_gives_comment_and_mention_edges() -> None:
    items = mp.status_items(load("status_reply.json"), root_id="117020583245459824")
    validate(items)
    post = by_type(items, "post")[0]
    assert post["kind"] == "comment" and post["author_id"] == ADMIN
    assert post["parent_id"] == post["root_id"] == "117020583245459824"
    assert post["text_plain"] == "@mastodonpy_test_2 same!"
    assert post["mentions"] == ["mastodonpy_test_2"]
    edges = {
        (e["kind"], e["src_id"], e["dst_id"], e["post_id"]) for e in by_type(items, "interaction")
    }
    assert edges == {
        ("comment", ADMIN, TEST_2, "117020583258292382"),
        ("mention", ADMIN, TEST_2, "117020583258292382"),
    }


def test_reblog_is_a_repost_of_the_original() -> None:
    items = mp.status_items(load("status_reblog.json"))
    validate(items)
    outer, original = by_type(items, "post")
    assert (outer["platform_id"], outer["kind"], outer["text"]) == (
        "117020585512776006",
        "repost",
        "",
    )
    assert outer["parent_id"] == outer["root_id"] == "117020585505579935"
    assert (original["platform_id"], original["kind"]) == ("117020585505579935", "post")
    assert original["text_plain"] == "Toot, finally!" and original["reposts_count"] == 1
    # keyed by the boosted status, so reblogged_by's view of the same boost is the same edge
    [edge] = by_type(items, "interaction")
    assert (edge["kind"], edge["src_id"], edge["dst_id"], edge["post_id"]) == (
        "repost",
        TEST_2,
        TEST_2,
        "117020585505579935",
    )
    assert mp.reblogger_items(load("reblogged_by_117020585505579935.json")[0], *_orig(original))[
        1
    ] == {k: v for k, v in edge.items() if k != "created_at"}


def _orig(post: dict[str, Any]) -> tuple[str, str]:
    return post["platform_id"], post["author_id"]


def test_public_timeline_entities_and_mentions() -> None:
    statuses = load("timeline_public.json")
    texts = [by_type(mp.status_items(s), "post")[0]["text_plain"] for s in statuses]
    assert texts[1] == "you can't say that on television"  # &#39; unescaped
    jeep = mp.status_items(statuses[4])
    assert by_type(jeep, "interaction") == [
        mp.interaction(
            "mention", ADMIN, "117020565966271181", "117020588169351887", jeep[1]["created_at"]
        )
    ]


def test_account_with_display_name_note_and_paragraphs() -> None:
    acc = mp.account(load("status_sensitive.json")["account"])
    assert (acc["platform_id"], acc["name"], acc["handle"]) == (
        "117020565966271181",
        "John Lennon",
        "mastodonpy_test",
    )
    assert acc["description"] == "I walk funny" and acc["posts_count"] == 9
    assert mp.text_plain("<p>one</p><p>two<br>three &amp; more</p>") == "one\n\ntwo\nthree & more"


def test_followers_and_context() -> None:
    items = [i for f in load(f"followers_{TEST_2}.json") for i in mp.follower_items(f, TEST_2)]
    follows = {(e["src_id"], e["dst_id"], e["post_id"]) for e in by_type(items, "interaction")}
    assert follows == {("117020457624302809", TEST_2, ""), ("117020457767579295", TEST_2, "")}
    assert [a["name"] for a in by_type(items, "account")] == ["admin", "admin2"]
    root, descendants = mp.context(load("context_117020583245459824.json"), "117020583245459824")
    assert root == "117020583245459824" and [d["id"] for d in descendants] == ["117020583258292382"]
    assert mp.context(load("context_empty.json"), "1") == ("1", [])
    assert mp.context({"ancestors": [{"id": "7"}], "descendants": []}, "9") == ("7", [])


@pytest.mark.parametrize(
    ("link", "expected"),
    [
        (
            '<http://localhost:3000/api/v1/timelines/tag/hoot?max_id=117020593741189701>; rel="next", '
            '<http://localhost:3000/api/v1/timelines/tag/hoot?min_id=117020593741189701>; rel="prev"',
            "117020593741189701",
        ),
        # the recorded reblogged_by end of list: only a prev link
        (
            '<http://localhost:3000/api/v1/statuses/1/reblogged_by?since_id=117020585512776006>; rel="prev"',
            None,
        ),
        ("<https://x/y?limit=2&max_id=5>; rel=next", "5"),
        ("<http://[broken/y?max_id=5>; rel=next", None),  # urlparse raises on this host
        ("", None),
        (None, None),
    ],
)
def test_next_max_id(link: str | None, expected: str | None) -> None:
    assert mp.next_max_id(link) == expected


@pytest.mark.parametrize(
    ("camp", "expected"),
    [
        ({"hashtags": ["#coffee", "latte"]}, ("coffee", [("any[]", "latte")])),
        (
            {"hashtags": ["coffee"], "hashtags_all": ["bean"], "hashtags_none": ["ad"]},
            ("coffee", [("all[]", "bean"), ("none[]", "ad")]),
        ),
        ({"hashtags_all": ["a", "b"]}, ("a", [("all[]", "b")])),  # no any-tags: an all-tag leads
        ({"hashtags_none": ["ad"]}, None),
    ],
)
def test_hashtag_query(camp: dict[str, Any], expected: Any) -> None:
    assert hashtag_query(Campaign(brand="b", **camp)) == expected


# --- the spider's callbacks ------------------------------------------------------------------


BASE = "http://mastodon.test"


def mastodon_settings(bare_settings: Settings, **mastodon: Any) -> Settings:
    bare_settings.campaigns["c"] = Campaign(
        brand="b", hashtags=["hoot"], mastodon_accounts=["mastodonpy_test_2@localhost"]
    )
    bare_settings.mastodon.base_url = BASE
    for key, value in mastodon.items():
        setattr(bare_settings.mastodon, key, value)
    return bare_settings


def response(
    url: str, body: bytes, meta: dict[str, Any], link: str | None = None, callback: Any = None
) -> TextResponse:
    request = Request(url, meta=meta, callback=callback)
    headers = {"Link": link} if link else {}
    return TextResponse(url, body=body, headers=headers, encoding="utf-8", request=request)


def test_timeline_page_requests_context_reblogs_and_next_page(bare_settings: Settings) -> None:
    spider = MastodonSpider(mastodon_settings(bare_settings, max_pages=2))
    meta = {"target": "hashtag:hoot", "kind": "hashtag", "path": "/t", "params": [], "n": 1}
    link = f'<{BASE}/t?max_id=117020593741189701>; rel="next"'
    resp = response(
        f"{BASE}/t",
        (FIXTURES / "timeline_tag_hoot.json").read_bytes(),
        meta,
        link,
        spider.parse_statuses,
    )
    items, requests = items_and_requests(spider.parse_statuses(resp))
    assert [i["item_type"] for i in items] == ["account", "post"]
    urls = [urlsplit(r.url) for r in requests]
    assert [u.path for u in urls] == [
        "/api/v1/statuses/117020593741189701/context",
        "/api/v1/statuses/117020593741189701/reblogged_by",
        "/t",
    ]
    assert parse_qs(urls[2].query) == {"limit": ["40"], "max_id": ["117020593741189701"]}
    # the last allowed page notes the truncation instead of asking for more
    last = response(f"{BASE}/t", b"[]", {**meta, "n": 2}, link, spider.parse_statuses)
    assert items_and_requests(spider.parse_statuses(last)) == ([], [])
    assert spider.runbook.targets["hashtag:hoot"].notes == {"hashtag: stopped at max_pages=2": 1}


def test_bad_bodies_are_counted_not_raised(bare_settings: Settings) -> None:
    spider = MastodonSpider(mastodon_settings(bare_settings))
    meta = {"target": "hashtag:hoot", "kind": "hashtag", "path": "/t", "params": [], "n": 1}
    for body in (b"<html>", b'{"error": "x"}', b'[1, {"id": "2"}]'):
        list(spider.parse_statuses(response(f"{BASE}/t", body, meta)))
    assert spider.runbook.targets["hashtag:hoot"].errors == 4


def test_requests_never_carry_the_token(
    bare_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the token is added at download (MastodonTokenMiddleware), so a request that travels
    # through a shared frontier never holds it
    monkeypatch.setenv("TINGFENG_MASTODON_TOKEN", "t0ken")
    spider = MastodonSpider(mastodon_settings(bare_settings))
    assert (
        b"Authorization"
        not in spider._request(f"{BASE}/api/v1/x", spider.parse_lookup, "t").headers
    )


def test_spider_settings_keep_the_project_middlewares(bare_settings: Settings) -> None:
    s = mastodon_settings(bare_settings, download_delay=3.0, obey_robots=False)
    scrapy = ScrapySettings(scrapy_settings(s), priority="project")
    MastodonSpider.update_settings(scrapy)
    mws = scrapy.getdict("DOWNLOADER_MIDDLEWARES")
    assert mws["crawlers.mastodon_ratelimit.MastodonRateLimitMiddleware"] == 580
    # the project's politeness middlewares are kept, not replaced by the spider's
    for name in (
        "SourcePauseMiddleware",
        "RetryAfterMiddleware",
        "BudgetMiddleware",
        "ProxyRotationMiddleware",
    ):
        assert f"crawlers.middlewares.{name}" in mws
    assert mws["crawlers.middlewares.MastodonTokenMiddleware"] == 541
    # ban detection stays on, narrowed by the spider (a 403 is an ordinary Mastodon answer)
    assert mws["crawlers.middlewares.BanDetectionMiddleware"] is not None
    assert MastodonSpider.ban_statuses == frozenset() and MastodonSpider.captcha_json is False
    assert scrapy.getfloat("DOWNLOAD_DELAY") == 3.0 and scrapy.getbool("ROBOTSTXT_OBEY") is False
    assert "crawlers.pipelines.StorePipeline" in scrapy.getdict("ITEM_PIPELINES")


# --- property tests --------------------------------------------------------------------------

# Servers send anything: a parser may refuse an object only with its own ParseError, and what
# it accepts must validate, so the pipelines never drop half of a status.
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
IDS = st.one_of(st.from_regex(r"[0-9]{1,20}", fullmatch=True), st.integers(), JSON)
ACCOUNT = st.fixed_dictionaries(
    {"id": IDS},
    optional={
        "username": JSON | st.text(),
        "display_name": JSON | st.text(),
        "acct": JSON | st.text(),
        "note": JSON | st.text(),
        "followers_count": JSON,
        "featured_tags": st.lists(st.fixed_dictionaries({"name": JSON | st.text()}) | JSON),
    },
)
TAGS = st.lists(st.fixed_dictionaries({"name": JSON | st.text()}) | JSON, max_size=3)
MENTIONS = st.lists(st.fixed_dictionaries({"id": IDS, "acct": JSON}) | JSON, max_size=3)
BASE_STATUS = {
    "id": IDS,
    "account": ACCOUNT | JSON,
    "content": st.text() | JSON,
    "created_at": st.datetimes().map(lambda d: d.isoformat()) | st.text() | JSON,
    "in_reply_to_id": IDS | st.none(),
    "in_reply_to_account_id": IDS | st.none(),
    "tags": TAGS | JSON,
    "mentions": MENTIONS | JSON,
    "replies_count": st.integers() | JSON,
}
STATUS = st.fixed_dictionaries(
    {"id": IDS, "account": ACCOUNT},
    optional={k: v for k, v in BASE_STATUS.items() if k not in ("id", "account")}
    | {"reblog": st.fixed_dictionaries(BASE_STATUS) | JSON},
)


def parses_or_refuses(fn: Any, *args: Any) -> None:
    try:
        items = fn(*args)
    except mp.ParseError:
        return
    validate(items if isinstance(items, list) else [items])


@settings(max_examples=150, deadline=None)
@given(STATUS | JSON, st.from_regex(r"[0-9]{1,20}", fullmatch=True))
def test_status_items_never_raise_anything_else(status: Any, root: str) -> None:
    # the root id comes from our own parse of a context (``context``), never raw JSON
    parses_or_refuses(mp.status_items, status)
    parses_or_refuses(lambda s: mp.status_items(s, root_id=root), status)


@settings(max_examples=100, deadline=None)
@given(ACCOUNT | JSON)
def test_account_parsers_never_raise_anything_else(acc: Any) -> None:
    parses_or_refuses(mp.account, acc)
    parses_or_refuses(mp.follower_items, acc, "1")
    parses_or_refuses(mp.reblogger_items, acc, "2", "3")


@settings(max_examples=100, deadline=None)
@given(
    st.fixed_dictionaries({}, optional={"ancestors": st.lists(STATUS | JSON), "descendants": JSON})
    | JSON,
    st.text() | JSON,
)
def test_lists_context_and_links_never_raise_anything_else(body: Any, link: Any) -> None:
    for fn in (lambda b: mp.context(b, "1"), lambda b: mp.object_list(b, "list")):
        with contextlib.suppress(mp.ParseError):
            fn(body)
    assert mp.next_max_id(link) is None or isinstance(mp.next_max_id(link), str)
