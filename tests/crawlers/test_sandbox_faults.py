"""The sandbox's failure modes, request log, guest caps and search types, over real HTTP.

Every test talks to a real server on 127.0.0.1 (in a thread, or ``SandboxProcess``). Replies
that never end are read with client timeouts and read limits, never waited out.
"""

from __future__ import annotations

import http.client
import json
import threading
import urllib.error
import urllib.request
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from crawlers.sandbox import faults as faults_
from crawlers.sandbox.containers import HOT_PAGES, engagement
from crawlers.sandbox.faults import Options, Reply
from crawlers.sandbox.process import SandboxProcess
from crawlers.sandbox.server import SandboxServer, make_server
from crawlers.sandbox.streams import HUGE
from crawlers.sandbox.world import World, build_world, hide_newest_posts

ROOT = Path(__file__).resolve().parents[2]
GB18030_SAMPLE = ROOT.parent / "shared" / "fixtures" / "encoding" / "weibo_gb18030_sample.csv"
LOGIN = {"Cookie": "SUB=_2A25sandbox; SUBP=0033"}
TOPIC = "#旅行日记#"  # 54 posts in the seed-3 world of 60 users: 6 pages


@pytest.fixture(scope="module")
def world() -> World:
    return build_world(3, 60)


@contextmanager
def serve(
    world: World, faults: dict[str, float] | None = None, **options: Any
) -> Iterator[SandboxServer]:
    server = make_server("127.0.0.1", 0, world, faults, Options(**options))
    # a short poll interval keeps shutdown() quick; the tests start many servers
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def open_server(world: World) -> Iterator[SandboxServer]:
    with serve(world, guest_caps=False) as server:
        yield server


def fetch(base: str, path: str, headers: dict[str, str] | None = None) -> tuple[int, Any, bytes]:
    """Status, headers and raw body of a GET (HTTP errors included)."""
    request = urllib.request.Request(base + path, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read()


def get(server: SandboxServer, path: str, headers: dict[str, str] | None = None) -> Any:
    status, _, body = fetch(server.base_url, path, headers)
    assert status == 200, path
    return json.loads(body)


def index(cid: str, **params: object) -> str:
    extra = "".join(f"&{k}={v}" for k, v in params.items())
    return f"/api/container/getIndex?containerid={quote(cid, safe='')}{extra}"


def search(q: str, kind: int = 1, page: int = 1) -> str:
    return index(f"100103type={kind}&q={q}", page=page)


def mids(payload: Any) -> list[int]:
    return [int(c["mblog"]["mid"]) for c in payload["data"]["cards"] if "mblog" in c]


def log(server: SandboxServer) -> list[dict[str, Any]]:
    return get(server, "/_sandbox/log")["requests"]


def raw_get(server: SandboxServer, path: str, timeout: float) -> http.client.HTTPResponse:
    host, port = server.server_address[:2]
    conn = http.client.HTTPConnection(str(host), port, timeout=timeout)
    conn.request("GET", path)
    return conn.getresponse()


# -- counters ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name, status", [("ban_418", 418), ("ban_432", 432), ("ban_403", 403)])
def test_bans_start_after_n_requests_and_last(world: World, name: str, status: int) -> None:
    with serve(world, {name: 3}) as server:
        seen = []
        for _ in range(6):
            fetch(server.base_url, "/robots.txt")  # robots.txt is not counted
            seen.append(fetch(server.base_url, "/api/config")[0])
        assert seen == [200, 200, 200, status, status, status]
        assert fetch(server.base_url, "/robots.txt")[0] == 200
        assert [e["status"] for e in log(server) if e["path"] == "/api/config"] == seen


def test_captcha_after_n_requests_is_json_with_url_and_no_data(world: World) -> None:
    with serve(world, {"captcha_after": 2}) as server:
        replies = [get(server, search(TOPIC, page=n)) for n in (1, 2, 3, 1)]
    assert [r["ok"] for r in replies] == [1, 1, 0, 0]
    for late in replies[2:]:
        assert late["url"].startswith("https://passport.weibo.cn/") and "data" not in late


def test_rate_limit_answers_every_nth_request_with_429_and_retry_after(world: World) -> None:
    with serve(world, {"rate_limit": 3}, retry_after=7) as server:
        replies = [fetch(server.base_url, "/api/config") for _ in range(7)]
    assert [r[0] for r in replies] == [200, 200, 429, 200, 200, 429, 200]
    assert [r[1]["Retry-After"] for r in replies if r[0] == 429] == ["7", "7"]


@pytest.mark.parametrize(
    "faults, message",
    [
        ({"ban_418": 1.5}, "whole number"),
        ({"rate_limit": 0}, "whole number"),
        ({"malformed_json": 2}, "between 0 and 1"),
        ({"teapot": 1}, "unknown fault"),
    ],
)
def test_bad_fault_values_are_refused(faults: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        faults_.check(faults)


# -- per-URL faults that swap the reply -------------------------------------------------------


def test_captcha_json_and_html(world: World) -> None:
    with serve(world, {"captcha_json": 1}) as server:
        payload = get(server, search(TOPIC))
    assert payload["ok"] == 0 and "url" in payload and "data" not in payload
    with serve(world, {"captcha_html": 1}) as server:
        status, headers, body = fetch(server.base_url, search(TOPIC))
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert "验证码" in body.decode("utf-8") and "请完成验证" in body.decode("utf-8")


def test_status_429_carries_retry_after(world: World) -> None:
    with serve(world, {"status_429": 1}, retry_after=5) as server:
        status, headers, body = fetch(server.base_url, search(TOPIC))
    assert (status, headers["Retry-After"], json.loads(body)["ok"]) == (429, "5", 0)


@pytest.mark.parametrize("name", ["captcha_json", "status_429", "gb18030", "slow"])
def test_per_url_faults_are_deterministic_and_hit_about_the_rate(world: World, name: str) -> None:
    urls = [search(TOPIC, page=n) for n in range(1, 7)] + [f"/api/config?n={n}" for n in range(34)]
    with serve(world, {name: 0.5}, slow_seconds=0) as server:
        for url in urls * 2:
            fetch(server.base_url, url)
        entries = log(server)
    hit = [name in e["faults"] for e in entries]
    assert hit[: len(urls)] == hit[len(urls) :]  # the same URLs fail on the second pass
    assert 0.2 * len(urls) < sum(hit[: len(urls)]) < 0.8 * len(urls)


# -- encodings ----------------------------------------------------------------------------------


def test_gb18030_body_decodes_to_the_same_text(world: World, open_server: SandboxServer) -> None:
    path = search(TOPIC)
    _, _, clean = fetch(open_server.base_url, path)
    with serve(world, {"gb18030": 1}, guest_caps=False) as server:
        _, headers, body = fetch(server.base_url, path)
    assert headers["Content-Type"] == "application/json; charset=GB18030"
    assert body != clean and body.decode("gb18030") == clean.decode("utf-8")


@pytest.mark.skipif(not GB18030_SAMPLE.exists(), reason="../shared fixtures are not checked out")
def test_real_gb18030_text_survives_the_encoder() -> None:
    text = GB18030_SAMPLE.read_bytes().decode("gb18030")
    reply = Reply(payload={"ok": 1, "data": {"text": text}})
    reply.encode()
    faults_.apply(reply, ["gb18030"], 0, "/x", "body")
    assert reply.body is not None
    assert json.loads(reply.body.decode("gb18030"))["data"]["text"] == text


# -- replies that are slow, stop short or never end ---------------------------------------------


def test_slow_reply_outlasts_a_short_client_timeout(world: World) -> None:
    with serve(world, {"slow": 1}, slow_seconds=30) as server, pytest.raises(TimeoutError):
        raw_get(server, "/api/config", timeout=0.3)
    with serve(world, {"slow": 1}, slow_seconds=0.01) as server:
        assert get(server, "/api/config")["ok"] == 1


def test_hang_sends_headers_then_no_body(world: World) -> None:
    with serve(world, {"hang": 1}) as server:
        resp = raw_get(server, search(TOPIC), timeout=0.3)
        assert resp.status == 200 and int(resp.headers["Content-Length"]) > 0
        with pytest.raises(TimeoutError):
            resp.read()
        resp.close()


def test_truncated_body_is_shorter_than_declared(world: World) -> None:
    with serve(world, {"truncated": 1}) as server:
        resp = raw_get(server, search(TOPIC), timeout=5)
        with pytest.raises(http.client.IncompleteRead) as err:
            resp.read()
    assert 0 < len(err.value.partial) < int(resp.headers["Content-Length"])


def test_huge_body_streams_and_stops_when_the_client_leaves(world: World) -> None:
    with serve(world, {"huge_body": 1}, guest_caps=False) as server:
        resp = raw_get(server, search(TOPIC), timeout=5)
        assert int(resp.headers["Content-Length"]) == HUGE
        assert len(resp.read(2**20)) == 2**20
        resp.close()
        statuses = [fetch(server.base_url, "/robots.txt")[0] for _ in range(3)]
    assert statuses == [200, 200, 200]  # the server carries on


def test_gzip_bomb_is_small_and_inflates_to_a_gigabyte(world: World) -> None:
    with serve(world, {"gzip_bomb": 1}) as server:
        resp = raw_get(server, search(TOPIC), timeout=10)
        body = resp.read(4 * 2**20)  # a read limit, as a careful client would set
    assert resp.headers["Content-Encoding"] == "gzip" and len(body) < 2 * 2**20
    inflate, size, rest = zlib.decompressobj(31), 0, body
    while rest:
        size += len(inflate.decompress(rest, 2**24))  # bounded output per step
        rest = inflate.unconsumed_tail
    assert inflate.eof and size >= 10**9


# -- request log, login and guest caps --------------------------------------------------------


def test_log_records_each_request_but_not_its_own(world: World) -> None:
    with serve(world) as server:
        fetch(server.base_url, "/robots.txt", {"User-Agent": "probe/1"})
        fetch(server.base_url, search(TOPIC), {"User-Agent": "probe/1"} | LOGIN)
        fetch(server.base_url, "/_sandbox/stats")
        entries = log(server)
        assert log(server) == entries  # reading the log is not logged
    assert [(e["path"], e["status"], e["cookie"], e["ua"]) for e in entries] == [
        ("/robots.txt", 200, False, "probe/1"),
        ("/api/container/getIndex", 200, True, "probe/1"),
    ]
    assert entries[1]["query"] == search(TOPIC).partition("?")[2]
    assert entries[0]["t"] <= entries[1]["t"]


def test_api_config_reports_login_by_sub_cookie(world: World) -> None:
    with serve(world) as server:
        guest = get(server, "/api/config", {"Cookie": "SUBP=1; _T_WM=2"})["data"]
        member = get(server, "/api/config", LOGIN)["data"]
    assert guest == {"login": False, "uid": ""}
    assert member["login"] is True and member["uid"].isdigit()


def test_guests_see_three_search_pages_and_one_timeline_page(world: World) -> None:
    uid = max(world.users, key=lambda u: len(world.timelines[u.uid])).uid
    with serve(world) as server:
        pages = [get(server, search(TOPIC, page=n))["ok"] for n in range(1, 6)]
        first = get(server, index(f"107603{uid}"))
        nxt = first["data"]["cardlistInfo"]["since_id"]
        assert get(server, index(f"107603{uid}", since_id=nxt))["ok"] == 0
        assert get(server, index(f"107603{uid}", since_id=nxt), LOGIN)["ok"] == 1
        assert [get(server, search(TOPIC, page=n), LOGIN)["ok"] for n in (4, 5)] == [1, 1]
    assert pages == [1, 1, 1, 0, 0] and len(mids(first)) == 10


def test_guest_caps_can_be_switched_off(open_server: SandboxServer) -> None:
    assert get(open_server, search(TOPIC, page=5))["ok"] == 1


# -- search types, follow lists ----------------------------------------------------------------


def created(payload: Any) -> list[datetime]:
    return [
        datetime.strptime(c["mblog"]["created_at"], "%a %b %d %H:%M:%S %z %Y")
        for c in payload["data"]["cards"]
        if "mblog" in c
    ]


def test_realtime_search_is_newest_first(open_server: SandboxServer) -> None:
    times = [t for n in (1, 2, 3) for t in created(get(open_server, search(TOPIC, 61, n)))]
    assert len(times) == 30 and times == sorted(times, reverse=True)


def test_hot_search_is_most_engaged_first_and_ends_with_similar_omitted(
    open_server: SandboxServer, world: World
) -> None:
    pages = [get(open_server, search(TOPIC, 60, n)) for n in range(1, HOT_PAGES + 2)]
    found = [m for page in pages[:HOT_PAGES] for m in mids(page)]
    scores = [engagement(world.post_by_mid[m]) for m in found]
    assert len(found) == HOT_PAGES * 10 and scores == sorted(scores, reverse=True)
    assert scores[0] > min(engagement(p) for p in world.by_topic[TOPIC.strip("#")])
    last = pages[HOT_PAGES - 1]["data"]["cards"][-1]
    assert last == {"card_type": 58, "desc": "已为你过滤部分相似结果"}
    assert all(c["card_type"] != 58 for p in pages[: HOT_PAGES - 1] for c in p["data"]["cards"])
    assert pages[HOT_PAGES]["ok"] == 0


@pytest.mark.parametrize("kind", ["fans", "followers"])
def test_follow_lists_page_by_since_id(open_server: SandboxServer, world: World, kind: str) -> None:
    lists = world.fans if kind == "fans" else world.followees
    uid = max(lists, key=lambda u: len(lists[u]))
    found, page = [], 1
    while page:
        data = get(open_server, index(f"231051_-_{kind}_-_{uid}", since_id=page))["data"]
        found += [c["user"]["id"] for g in data["cards"] for c in g["card_group"]]
        page = data["cardlistInfo"].get("since_id")
    assert found == lists[uid] and len(found) > 10


# -- hiding the newest posts --------------------------------------------------------------------


def test_hide_newest_serves_the_past_and_the_full_world_adds_only_new(world: World) -> None:
    past = hide_newest_posts(world, 0.25)
    hidden = world.posts[: len(world.posts) - len(past.posts)]
    newest = hidden[0]
    with serve(past, guest_caps=False) as before, serve(world, guest_caps=False) as after:
        assert get(before, f"/statuses/extend?id={newest.mid}")["ok"] == 0
        assert get(before, f"/comments/hotflow?id={newest.mid}&mid={newest.mid}")["ok"] == 0
        assert get(after, f"/statuses/extend?id={newest.mid}")["ok"] == 1
        old = {m for n in range(1, 7) for m in mids(get(before, search(TOPIC, page=n)))}
        new = {m for n in range(1, 7) for m in mids(get(after, search(TOPIC, page=n)))}
    assert old < new and new - old == {p.mid for p in hidden if TOPIC.strip("#") in p.topics}
    assert min(p.created_at for p in hidden) >= max(p.created_at for p in past.posts)


@pytest.mark.e2e
def test_sandbox_process_passes_the_new_switches() -> None:
    with SandboxProcess(
        seed=3, users=40, faults={"ban_432": 2}, guest_caps=False, hide_newest=0.5
    ) as sandbox:
        statuses = [fetch(sandbox.base_url, "/api/config")[0] for _ in range(3)]
        _, _, body = fetch(sandbox.base_url, "/_sandbox/log")
    assert statuses == [200, 200, 432]
    assert [e["status"] for e in json.loads(body)["requests"]] == statuses
