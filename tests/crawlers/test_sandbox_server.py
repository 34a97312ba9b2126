"""The sandbox over real HTTP on 127.0.0.1: every endpoint's shape, paging, robots.txt, faults."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from crawlers.config import load_settings, supertopic_containerid
from crawlers.sandbox.faults import Options
from crawlers.sandbox.process import SandboxError, SandboxProcess
from crawlers.sandbox.server import SandboxServer, make_server
from crawlers.sandbox.world import World, build_world

ROOT = Path(__file__).resolve().parents[2]
USER_KEYS = {
    "id",
    "screen_name",
    "description",
    "gender",
    "followers_count",
    "follow_count",
    "statuses_count",
    "verified",
    "verified_type",
    "verified_reason",
    "urank",
    "mbrank",
    "profile_image_url",
}
MBLOG_KEYS = {
    "id",
    "mid",
    "bid",
    "created_at",
    "text",
    "source",
    "user",
    "reposts_count",
    "comments_count",
    "attitudes_count",
    "isLongText",
    "textLength",
}
COMMENT_KEYS = {
    "id",
    "created_at",
    "text",
    "user",
    "like_count",
    "rootid",
    "floor_number",
    "comments",
    "total_number",
}


def _serve(world: World, faults: dict[str, float] | None = None) -> Iterator[SandboxServer]:
    # these tests page lists to the end; the guest caps have their own in test_sandbox_faults
    server = make_server("127.0.0.1", 0, world, faults, Options(guest_caps=False))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def world() -> World:
    s = load_settings(ROOT / "settings.toml").sandbox
    return build_world(s.seed, s.users)


@pytest.fixture(scope="module")
def server(world: World) -> Iterator[SandboxServer]:
    yield from _serve(world)


@pytest.fixture(scope="module")
def faulty(world: World) -> Iterator[SandboxServer]:
    yield from _serve(world, {"malformed_json": 0.3, "missing_field": 0.3})


def fetch(base: str, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(base + path, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def get(server: SandboxServer, path: str) -> Any:
    status, body = fetch(server.base_url, path)
    assert status == 200, path
    return json.loads(body)


def index(cid: str, **params: object) -> str:
    extra = "".join(f"&{k}={v}" for k, v in params.items())
    return f"/api/container/getIndex?containerid={quote(cid, safe='')}{extra}"


def mblogs(cards: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = [c["mblog"] for c in cards if c["card_type"] == 9]
    for group in (c for c in cards if c["card_type"] == 11):
        out += mblogs(group["card_group"])
    return out


def check_mblog(mblog: dict[str, Any]) -> None:
    assert set(mblog) >= MBLOG_KEYS
    assert set(mblog["user"]) >= USER_KEYS
    assert mblog["id"].isdigit() and mblog["id"] == mblog["mid"]
    datetime.strptime(mblog["created_at"], "%a %b %d %H:%M:%S %z %Y")


def pages_by_page(server: SandboxServer, cid: str) -> list[dict[str, Any]]:
    """Every page of a page=N list; the one after the last is ok:0."""
    found, page = [], 1
    while page is not None:
        data = get(server, index(cid, page=page))
        assert data["ok"] == 1
        found.append(data)
        page = data["data"]["cardlistInfo"]["page"]
    assert get(server, index(cid, page=len(found) + 1))["ok"] == 0
    return found


def test_robots_txt_disallows_private(server: SandboxServer) -> None:
    status, body = fetch(server.base_url, "/robots.txt")
    assert status == 200
    assert body.decode().splitlines() == ["User-agent: *", "Disallow: /private/", "Allow: /"]
    assert fetch(server.base_url, "/private/accounts.json")[0] == 200  # exists, but forbidden


def test_unknown_path_is_404_json(server: SandboxServer) -> None:
    status, body = fetch(server.base_url, "/nope")
    assert status == 404 and json.loads(body)["ok"] == 0


@pytest.mark.parametrize("topic", ["咖啡探店", "手冲咖啡", "护肤心得"])
def test_topic_search_pages_to_the_end(server: SandboxServer, world: World, topic: str) -> None:
    pages = pages_by_page(server, f"100103type=1&q=#{topic}#")
    found = [m for p in pages for m in mblogs(p["data"]["cards"])]
    for mblog in found:
        check_mblog(mblog)
        assert f'<span class="surl-text">#{topic}#</span>' in mblog["text"]
    assert len({m["id"] for m in found}) == len(world.by_topic[topic])


def test_keyword_search(server: SandboxServer) -> None:
    data = get(server, index("100103type=1&q=拿铁"))
    found = mblogs(data["data"]["cards"])
    assert len(found) == 10 and all("拿铁" in m["text"] for m in found)


@pytest.mark.parametrize("tag", ["咖啡", "手冲", "护肤"])
def test_user_search_by_tag(server: SandboxServer, tag: str) -> None:
    data = get(server, index(f"100103type=3&q={tag}&t="))
    group = data["data"]["cards"][0]
    assert group["card_type"] == 11
    users = [c["user"] for c in group["card_group"] if c["card_type"] == 10]
    assert users and all(set(u) >= USER_KEYS for u in users)
    info = get(server, index(f"230283{users[0]['id']}_-_INFO"))
    items = {i["item_name"]: i["item_content"] for i in info["data"]["cards"][0]["card_group"]}
    assert tag in items["标签"].split(" ")


@pytest.mark.parametrize("name", ["咖啡", "美妆"])
def test_supertopic_feed_pages_by_since_id(server: SandboxServer, world: World, name: str) -> None:
    cid = supertopic_containerid(name) + "_-_sort_time"
    seen: list[str] = []
    since = ""
    while True:
        data = get(server, index(cid) + since)
        assert data["ok"] == 1
        page_info = data["data"]["pageInfo"]
        assert page_info["page_title"] == name and page_info["desc"]
        posts = mblogs(data["data"]["cards"])
        assert f"containerid={supertopic_containerid(name)}" in posts[0]["text"]
        seen += [m["id"] for m in posts]
        if "since_id" not in page_info:
            break
        since = f"&since_id={page_info['since_id']}"
    assert len(seen) == len(set(seen)) == len(world.by_supertopic[name])


def test_profile_timeline_and_fans(server: SandboxServer, world: World) -> None:
    star = max(world.users, key=lambda u: u.followers_count)
    user = get(server, index(f"100505{star.uid}"))["data"]["userInfo"]
    assert set(user) >= USER_KEYS and user["id"] == star.uid and user["verified"]
    seen, since = [], ""
    while True:
        data = get(server, index(f"107603{star.uid}") + since)
        seen += [m["id"] for m in mblogs(data["data"]["cards"])]
        nxt = data["data"]["cardlistInfo"].get("since_id")
        if not nxt:
            break
        since = f"&since_id={nxt}"
    assert len(seen) == len(set(seen)) == len(world.timelines[star.uid])
    fans, page = [], 1
    while page:
        data = get(server, index(f"231051_-_fans_-_{star.uid}", since_id=page))
        fans += [c["user"]["id"] for c in data["data"]["cards"][0]["card_group"]]
        page = data["data"]["cardlistInfo"].get("since_id")
    assert len(set(fans)) == star.followers_count == user["followers_count"]


def test_comments_page_by_max_id(server: SandboxServer, world: World) -> None:
    post = max(world.posts, key=lambda p: len(p.comments))
    seen, max_id = [], None
    while max_id != 0:
        query = f"/comments/hotflow?id={post.mid}&mid={post.mid}&max_id_type=0"
        data = get(server, query + (f"&max_id={max_id}" if max_id else ""))["data"]
        assert data["total_number"] == post.comments_count
        for comment in data["data"]:
            assert set(comment) >= COMMENT_KEYS and set(comment["user"]) >= USER_KEYS
            for sub in comment["comments"] or []:
                assert sub["reply_id"] == str(comment["id"])
        seen += [c["id"] for c in data["data"]]
        max_id = data["max_id"]
    assert len(seen) == len(set(seen)) == len(post.comments)


def test_reposts_page_by_page(server: SandboxServer, world: World) -> None:
    post = max(world.posts, key=lambda p: len(p.reposts))
    first = get(server, f"/api/statuses/repostTimeline?id={post.mid}&page=1")["data"]
    assert first["total_number"] == len(post.reposts)
    seen = []
    for page in range(1, first["max"] + 1):
        data = get(server, f"/api/statuses/repostTimeline?id={post.mid}&page={page}")["data"]
        for mblog in data["data"]:
            check_mblog(mblog)
        seen += [m["id"] for m in data["data"]]
    assert len(set(seen)) == len(post.reposts)
    end = get(server, f"/api/statuses/repostTimeline?id={post.mid}&page={first['max'] + 1}")
    assert end["ok"] == 0


def test_long_text_is_cut_and_served_in_full(server: SandboxServer, world: World) -> None:
    post = next(p for p in world.posts if p.is_long)
    timeline = get(server, index(f"107603{post.uid}", since_id=post.mid))
    mblog = mblogs(timeline["data"]["cards"])[0]
    assert mblog["id"] == str(post.mid) and mblog["isLongText"] is True
    assert "全文" in mblog["text"]
    full = get(server, f"/statuses/extend?id={post.mid}")["data"]
    assert full["ok"] == 1 and "<br />" in full["longTextContent"]


def test_text_is_weibo_html(server: SandboxServer) -> None:
    data = get(server, index("100103type=1&q=#咖啡探店#"))
    texts = " ".join(m["text"] for m in mblogs(data["data"]["cards"]))
    pages = [get(server, index("100103type=1&q=#咖啡探店#", page=n)) for n in range(2, 6)]
    texts += " ".join(m["text"] for p in pages for m in mblogs(p["data"]["cards"]))
    assert 'href="https://m.weibo.cn/search?containerid=231522type%3D1%26q%3D%23' in texts
    assert '<span class="url-icon"><img alt=[' in texts
    assert "<a href='/n/" in texts


@pytest.mark.parametrize(
    "path",
    [
        index("100505123"),
        index("230283123_-_INFO"),
        index("107603123"),
        index("231051_-_fans_-_123"),
        index("100808" + "0" * 32),
        index("100103type=1&q=无此词"),
        "/comments/hotflow?id=1&mid=1&max_id_type=0",
        "/api/statuses/repostTimeline?id=1&page=1",
        "/statuses/extend?id=1",
        index("bogus"),
    ],
)
def test_unknown_ids_are_ok_0(server: SandboxServer, path: str) -> None:
    assert get(server, path)["ok"] == 0


def _topic_urls(count: int) -> list[str]:
    return [index("100103type=1&q=#咖啡探店#", page=n) for n in range(1, count + 1)]


def test_faults_are_deterministic_and_hit_about_the_rate(faulty: SandboxServer) -> None:
    urls = _topic_urls(60) + [index(f"100103type=1&q={k}") for k in ("拿铁", "护肤", "手冲")]
    first = [fetch(faulty.base_url, u) for u in urls]
    assert first == [fetch(faulty.base_url, u) for u in urls]
    broken = 0
    for _, body in first:
        try:
            json.loads(body)
        except json.JSONDecodeError:
            broken += 1
    assert 0.1 * len(urls) < broken < 0.5 * len(urls)


def test_missing_field_drops_user_or_id(faulty: SandboxServer, server: SandboxServer) -> None:
    damaged = 0
    for url in _topic_urls(10):
        _, body = fetch(faulty.base_url, url)
        try:
            data = json.loads(body)
        except json.JSONDecodeError:
            continue
        if data["ok"] == 1:
            found = mblogs(data["data"]["cards"])
            damaged += any("user" not in m or "id" not in m for m in found)
    assert damaged >= 1
    clean = mblogs(get(server, _topic_urls(1)[0])["data"]["cards"])
    assert all("user" in m and "id" in m for m in clean)


@pytest.mark.e2e
def test_sandbox_process_starts_serves_and_stops() -> None:
    with SandboxProcess(seed=3, users=40, faults={"malformed_json": 0.5}) as sandbox:
        status, body = fetch(sandbox.base_url, "/robots.txt")
        assert status == 200 and b"Disallow: /private/" in body
        assert sandbox.running
    assert not sandbox.running


@pytest.mark.e2e
def test_sandbox_process_reports_a_failed_start() -> None:
    with pytest.raises(SandboxError, match="exited"), SandboxProcess(users=40, faults={"nope": 1}):
        pass
