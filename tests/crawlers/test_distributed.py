"""Distributed mode end to end: a real redis-server, the sandbox, and crawl subprocesses.

One worker crawls into database A; after a reset of the shared frontier two workers crawl
together into database B. B must hold exactly what A holds, no URL may be fetched twice across
the workers, and both must have fetched something. redis-server comes from Debian's
``redis-server`` package; without it the tests skip, unless ``TINGFENG_REQUIRE_REDIS=1`` (for
CI) turns the skip into a failure.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.error import HTTPError
from urllib.request import urlopen

import pytest
from redis import Redis
from redis.exceptions import RedisError
from scrapy import Request
from scrapy.utils.request import request_from_dict
from sqlmodel import Session, select

from crawlers.config import load_settings
from crawlers.distributed import FrontierKeys, JsonRequests, reset_frontier
from crawlers.errors import CrawlError
from crawlers.models import Account, CrawlRun, Interaction, Post
from crawlers.sandbox.process import SandboxProcess
from crawlers.store import make_engine, migrate
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
#: Scrapy's DEBUG line for every response a worker received
CRAWLED = re.compile(r"Crawled \(\d+\) <GET (\S+)>")

SETTINGS = """
[store]
url = "sqlite:///{db}"
[crawl]
base_url = "{base_url}"
# a little delay so that the second worker starts before the first has done everything
download_delay = 0.04
autothrottle = false
concurrent_requests_per_domain = 4
retry_times = 0
max_pages = 2
log_level = "DEBUG"
[distributed]
enabled = true
redis_url = "{redis_url}"
key_prefix = "tftest"
idle_close_seconds = 20
[campaigns.shiguang]
brand = "拾光咖啡"
interests = ["coffee"]
tags = ["咖啡"]
topics = ["咖啡探店"]
supertopics = ["咖啡"]
keywords = ["拿铁"]
"""


def _unavailable(reason: str) -> None:
    if os.environ.get("TINGFENG_REQUIRE_REDIS") == "1":
        pytest.fail(f"Redis is required here but {reason}")
    pytest.skip(f"Redis not available: {reason} (apt-get install redis-server)")


def _wait_for_redis(proc: subprocess.Popen[str], url: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            _unavailable(f"redis-server exited: {proc.stdout.read() if proc.stdout else ''}")
        try:
            Redis.from_url(url, socket_connect_timeout=1).ping()
            return
        except RedisError:
            time.sleep(0.1)
    _unavailable(f"redis-server did not answer within {timeout:.0f} s")


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    """A throw-away redis-server on 127.0.0.1 (no persistence), stopped after the module."""
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not Path(binary).exists():
        _unavailable("redis-server was not found")
    port, root = free_port(), Path(tempfile.mkdtemp(prefix="tingfeng-redis-"))
    cmd = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    cmd += ["--appendonly", "no", "--dir", str(root)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        _wait_for_redis(proc, url)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Any]:
    with SandboxProcess(seed=7, users=120) as sb:
        yield sb


def settings_file(tmp_path: Path, name: str, base_url: str, redis_url: str) -> Path:
    path = tmp_path / f"{name}.toml"
    text = SETTINGS.format(db=tmp_path / f"{name}.db", base_url=base_url, redis_url=redis_url)
    path.write_text(text, encoding="utf-8")
    return path


def start_worker(path: Path, log: Path) -> subprocess.Popen[str]:
    # stderr to a file: a worker blocked on a full pipe would look busy to the others
    with log.open("w", encoding="utf-8") as err:
        return subprocess.Popen(
            [sys.executable, "-m", "crawlers.crawl", "--settings", str(path)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )


def finish(proc: subprocess.Popen[str], log: Path) -> list[str]:
    """The URLs the worker fetched (robots.txt excluded), once it has exited cleanly."""
    out, _ = proc.communicate(timeout=120)
    err = log.read_text(encoding="utf-8")
    assert proc.returncode == 0, err[-3000:]
    assert "stored_post=" in out and "Traceback" not in err, err[-3000:]
    return [url for url in CRAWLED.findall(err) if not url.endswith("/robots.txt")]


def server_log(base_url: str) -> list[str] | None:
    """Every request the sandbox served (``path?query``), or None on a sandbox without a log."""
    try:
        with urlopen(f"{base_url}/_sandbox/log", timeout=10) as resp:  # noqa: S310 - 127.0.0.1
            entries = json.loads(resp.read())["requests"]
    except HTTPError:
        return None
    return [f"{e['path']}?{e['query']}" if e.get("query") else e["path"] for e in entries]


def server_hits(base_url: str) -> Counter[str]:
    with urlopen(f"{base_url}/_sandbox/stats", timeout=10) as resp:  # noqa: S310 - 127.0.0.1
        return Counter(json.loads(resp.read())["hits"])


def snapshot(db: Path) -> dict[str, set[str]]:
    """Stored posts and interactions, all columns but the row's own id and time; account ids.

    Account columns are left out: endpoints disagree on some (a profile's description versus
    a user card's) and the last page stored wins, in whatever order the workers stored them."""
    own = {"id", "first_seen", "updated_at"}
    with Session(make_engine(f"sqlite:///{db}")) as s:
        rows = {
            model.__name__: {
                json.dumps(row.model_dump(exclude=own), sort_keys=True, default=str)
                for row in s.exec(select(model))
            }
            for model in (Post, Interaction)
        }
        return rows | {"Account": {a.platform_id for a in s.exec(select(Account))}}


def runs(db: Path) -> list[CrawlRun]:
    with Session(make_engine(f"sqlite:///{db}")) as s:
        return list(s.exec(select(CrawlRun)))


def served_since(base_url: str, log_before: list[str] | None, hits_before: Counter[str]) -> Any:
    """What the sandbox served since the snapshot: URLs from its log, else hits per path."""
    log = server_log(base_url)
    if log is not None and log_before is not None:
        return Counter(u for u in log[len(log_before) :] if not u.startswith("/robots.txt"))
    hits = server_hits(base_url) - hits_before
    del hits["/robots.txt"]
    return hits


@pytest.mark.e2e
def test_two_workers_store_what_one_stores(sandbox: Any, redis_url: str, tmp_path: Path) -> None:
    one = settings_file(tmp_path, "one", sandbox.base_url, redis_url)
    solo = finish(start_worker(one, tmp_path / "one.log"), tmp_path / "one.log")
    assert solo and len(solo) == len(set(solo))
    reset_frontier(load_settings(one))

    two = settings_file(tmp_path, "two", sandbox.base_url, redis_url)
    # the schema first: workers that start together on an empty database race to create it
    migrate(make_engine(f"sqlite:///{tmp_path / 'two.db'}"))
    log_before, hits_before = server_log(sandbox.base_url), server_hits(sandbox.base_url)
    logs = [tmp_path / "two-1.log", tmp_path / "two-2.log"]
    workers = [start_worker(two, log) for log in logs]
    first, second = (finish(w, log) for w, log in zip(workers, logs, strict=True))

    assert first and second, "both workers must have fetched something"
    assert not set(first) & set(second), "a URL was fetched by both workers"
    assert sorted(first + second) == sorted(solo)
    served = served_since(sandbox.base_url, log_before, hits_before)
    assert served.total() == len(solo)  # the server saw each request once, as the workers say
    two_rows, one_rows = snapshot(tmp_path / "two.db"), snapshot(tmp_path / "one.db")
    differ = {
        t: (sorted(two_rows[t] - one_rows[t])[:3], sorted(one_rows[t] - two_rows[t])[:3])
        for t in one_rows
        if two_rows[t] != one_rows[t]
    }
    assert not differ, f"stored rows differ (two workers, one worker): {differ}"

    # each worker keeps its own CrawlRun row per target; together they count every page
    solo_runs, shared_runs = runs(tmp_path / "one.db"), runs(tmp_path / "two.db")
    assert len(shared_runs) == 2 * len(solo_runs)
    assert all(r.status == "finished" for r in shared_runs)
    assert sum(r.pages for r in shared_runs) == sum(r.pages for r in solo_runs)


@pytest.mark.e2e
def test_reset_refuses_while_workers_are_registered(redis_url: str, tmp_path: Path) -> None:
    settings = load_settings(settings_file(tmp_path, "r", "http://127.0.0.1:9", redis_url))
    settings.distributed.key_prefix = "tfreset"
    keys = FrontierKeys.of(settings.distributed.key_prefix, "weibo")
    server = Redis.from_url(redis_url)
    server.hset(keys.workers, "gone:1:abc", "busy")  # a worker killed with -9 stays registered
    server.sadd(keys.dupefilter, "fp")
    with pytest.raises(CrawlError, match="still registered"):
        reset_frontier(settings)
    assert reset_frontier(settings, force=True) == 2
    assert not server.exists(keys.workers, keys.dupefilter)


@pytest.mark.e2e
def test_unreachable_redis_is_a_crawl_error(tmp_path: Path) -> None:
    url = f"redis://:hunter2@127.0.0.1:{free_port()}/0"
    settings = load_settings(settings_file(tmp_path, "u", "http://127.0.0.1:9", url))
    with pytest.raises(CrawlError, match="cannot reach Redis") as err:
        reset_frontier(settings)
    assert "hunter2" not in str(err.value)


def test_requests_travel_as_json_without_secrets() -> None:
    """A retried request carries the cookie and proxy a middleware added: not into Redis."""
    request = Request(
        "http://127.0.0.1:9/api/container/getIndex?containerid=1",
        headers={"Cookie": "SUB=secret", "Accept": "application/json"},
        meta={"target": "tag:咖啡", "post": {"id": "1"}, "proxy": "http://u:pw@proxy:3128"},
        body=b"\xff\x00",
        priority=3,
    )
    encoded = JsonRequests.dumps(request.to_dict())
    assert "secret" not in encoded and "pw@" not in encoded
    back = request_from_dict(JsonRequests.loads(encoded))
    assert (back.url, back.body, back.priority) == (request.url, request.body, 3)
    assert back.meta == {"target": "tag:咖啡", "post": {"id": "1"}}
    assert back.headers[b"Accept"] == b"application/json" and b"Cookie" not in back.headers


def test_unserialisable_meta_is_refused() -> None:
    with pytest.raises(TypeError, match="cannot go to the shared queue"):
        JsonRequests.dumps(Request("http://127.0.0.1:9/", meta={"x": object()}).to_dict())
