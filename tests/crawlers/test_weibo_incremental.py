"""The Weibo spider in depth: search lists, login check, coverage notes, incremental cursors."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from pydantic import SecretStr
from scrapy.exceptions import CloseSpider
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from crawlers.config import Campaign, Settings
from crawlers.models import CrawlRun
from crawlers.spiders.base import RunBook, mark_dead_runs
from crawlers.spiders.weibo import WeiboSpider
from tests.crawlers.helpers import fixture_response, items_and_requests, load, response

SEARCH_META = {"target": "topic:咖啡探店", "kind": "search", "cid": "c", "n": 1}


def make(bare_settings: Settings, cookie: str | None = None, **crawl: Any) -> WeiboSpider:
    bare_settings.campaigns = {"c": Campaign(brand="b", topics=["咖啡探店"], accounts=["42"])}
    for key, value in crawl.items():
        setattr(bare_settings.crawl, key, value)
    bare_settings.secrets.weibo_cookie = SecretStr(cookie) if cookie else None
    return WeiboSpider(bare_settings)


def containerids(requests: list[Any]) -> list[str]:
    return [parse_qs(urlsplit(r.url).query).get("containerid", [""])[0] for r in requests]


async def started(sp: WeiboSpider) -> list[Any]:
    return [r async for r in sp.start()]


def test_targets_read_each_search_type_and_the_account_lists(bare_settings) -> None:
    sp = make(bare_settings, search_types=["realtime", "hot", "all"], follow_pages=1)
    cids = containerids(asyncio.run(started(sp)))
    assert cids[:3] == [
        "100103type=61&q=#咖啡探店#",
        "100103type=60&q=#咖啡探店#",
        "100103type=1&q=#咖啡探店#",
    ]
    assert {"107603" + "42", "231051_-_fans_-_42", "231051_-_followers_-_42"} <= set(cids)
    assert set(sp.runbook.targets) == {"topic:咖啡探店", "account:42"}


def test_login_check_first_then_targets(bare_settings) -> None:
    sp = make(bare_settings, cookie="SUB=secret-value")
    first = asyncio.run(started(sp))
    assert [urlsplit(r.url).path for r in first] == ["/api/config"]
    body = json.dumps({"ok": 1, "data": {"login": True, "uid": "1"}})
    _, requests = items_and_requests(sp.parse_config(response(first[0].url, body)))
    assert "100103type=61&q=#咖啡探店#" in containerids(requests)


def test_expired_cookie_stops_with_a_crawl_error(bare_settings) -> None:
    sp = make(bare_settings, cookie="SUB=secret-value")
    body = json.dumps({"ok": 1, "data": {"login": False, "uid": ""}})
    with pytest.raises(CloseSpider):
        list(sp.parse_config(response("http://sandbox.test/api/config", body)))
    assert sp.fatal is not None and sp.fatal.exit_code == 4
    assert "expired" in str(sp.fatal) and "TINGFENG_WEIBO_COOKIE" in str(sp.fatal)
    assert "secret-value" not in str(sp.fatal)


def test_guest_cap_note_only_without_cookie(bare_settings) -> None:
    end = json.dumps({"ok": 0, "msg": "登录后查看更多内容", "data": {"cards": []}})
    guest = make(bare_settings)
    list(guest.parse_posts(response("http://x/y", end, **SEARCH_META | {"n": 4})))
    assert list(guest.runbook.targets["topic:咖啡探店"].notes) == [
        "search: guest cap after 3 pages; set TINGFENG_WEIBO_COOKIE to see more"
    ]
    member = make(bare_settings, cookie="SUB=x")
    list(member.parse_posts(response("http://x/y", end, **SEARCH_META | {"n": 4})))
    assert not member.runbook.targets["topic:咖啡探店"].notes


def test_similar_results_and_short_comment_lists_are_noted(bare_settings) -> None:
    sp = make(bare_settings)
    body = load("topic_search.json")
    body["data"]["cards"].append({"card_type": 58, "desc": "已为你过滤部分相似结果"})
    list(sp.parse_posts(response("http://x/y", json.dumps(body), **SEARCH_META)))
    comments = load("comments_last.json")
    comments["data"]["total_number"] = 999
    post = {"id": "4990000000000001", "author": "1", "root": "4990000000000001", "kind": "post"}
    meta = {"target": "topic:咖啡探店", "post": post, "n": 1}
    list(sp.parse_comments(response("http://x/c", json.dumps(comments), **meta)))
    notes = sp.runbook.targets["topic:咖啡探店"].notes
    assert notes["search: similar results omitted by the platform"] == 1
    assert notes["comments: list ended before total_number"] == 1


def test_counts_follow_the_comment_list_they_describe(bare_settings) -> None:
    sp = make(bare_settings, comment_pages=1, repost_pages=1)
    items, requests = items_and_requests(
        sp.parse_posts(fixture_response("topic_search.json", **SEARCH_META))
    )
    first = next(i for i in items if i.get("platform_id") == "4990000000000001")
    assert "comments_count" not in first and "reposts_count" not in first
    post = next(r for r in requests if "hotflow" in r.url).meta["post"]
    meta = {"target": "topic:咖啡探店", "post": post, "n": 1}
    comment_items, _ = items_and_requests(
        sp.parse_comments(fixture_response("comments_last.json", **meta))
    )
    assert not any("comments_count" in i for i in comment_items)  # reposts still pending
    reposts, _ = items_and_requests(
        sp.parse_reposts(fixture_response("reposts.json", **meta | {"n": 99}))
    )
    counts = reposts[-1]
    assert counts["platform_id"] == "4990000000000001" and counts["comments_count"] == 3


def test_incremental_stops_at_the_stored_cursor(bare_settings) -> None:
    sp = make(bare_settings)
    target = sp.runbook.targets["topic:咖啡探店"]
    meta = SEARCH_META | {"list_name": "realtime", "ordered": True}
    _, requests = items_and_requests(sp.parse_posts(fixture_response("topic_search.json", **meta)))
    assert any("page=2" in r.url for r in requests)  # no cursor yet: pages on
    assert target.newest["realtime"] == 4990000000000003
    again = make(bare_settings)
    again.runbook.targets["topic:咖啡探店"].previous = {"realtime": {"id": "4990000000000003"}}
    _, requests = items_and_requests(
        again.parse_posts(fixture_response("topic_search.json", **meta))
    )
    assert not any("getIndex" in r.url for r in requests)  # the page is all old: stop
    assert not any("231051_-_fans" in r.url for r in requests)  # old posts' authors done


def test_cursor_advances_only_after_a_clean_run(engine: Engine) -> None:
    book = RunBook("weibo", "weibo")
    book.add("topic:x", "c")
    book.open(engine)
    book.targets["topic:x"].saw("realtime", 7)
    book.targets["topic:x"].errors = 1
    book.close(engine, "finished")
    again = RunBook("weibo", "weibo")
    again.add("topic:x", "c")
    again.open(engine)
    assert again.targets["topic:x"].previous == {}
    again.targets["topic:x"].saw("realtime", 9)
    again.close(engine, "finished")
    third = RunBook("weibo", "weibo")
    third.add("topic:x", "c")
    third.open(engine)
    assert third.targets["topic:x"].last_seen("realtime") == 9


def test_runs_of_dead_processes_are_marked_interrupted(engine: Engine) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    with Session(engine) as s:
        s.add(
            CrawlRun(
                platform="weibo",
                spider="weibo",
                target="t",
                cursor={"owner": {"host": socket.gethostname(), "pid": int(dead.stdout)}},
            )
        )
        s.add(
            CrawlRun(
                platform="weibo",
                spider="weibo",
                target="u",
                cursor={"owner": {"host": "elsewhere", "pid": 1}},
            )
        )
        s.commit()
        assert mark_dead_runs(s) == 1
        s.commit()
        statuses = {r.target: r.status for r in s.exec(select(CrawlRun))}
    assert statuses == {"t": "interrupted", "u": "running"}
