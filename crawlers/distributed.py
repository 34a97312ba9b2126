"""Distributed mode: crawler processes on one or many machines share a frontier in Redis.

scrapy-redis keeps the queue of requests (a sorted set) and the dupefilter (a set of request
fingerprints) in Redis, so a request seeded or found by any worker is fetched once, by whichever
worker pops it. Start requests are seeded by every worker and filtered like any other request.
A spider may keep some requests to itself by answering ``keeps_local(request)``: those that
continue state held in its memory (Weibo holds a post's counts until its comment and repost
lists are stored) are fetched by the worker that made them, after the shared dupefilter.
What scrapy-redis lacks is knowing when a crawl is over: a worker whose queue is empty may only
be waiting for a busy worker to find more. ``Crew`` keeps a hash of workers, each ``busy`` or
``idle``; a pop marks the popping worker busy in the same atomic script, so a worker that finds
the queue empty and every worker idle knows the crawl is done. A worker idle for
``idle_close_seconds`` leaves anyway (a crashed worker's mark never clears; the rest finish).

The frontier persists after a crawl so that late workers join rather than restart; run
``reset_frontier`` (``python -m crawlers.distributed reset``) before the next crawl. Requests
travel as JSON, never pickle: whoever can write to Redis cannot run code in a worker.
Keys (``P`` = ``[distributed] key_prefix``, ``S`` = spider name): ``P:S:requests``,
``P:S:dupefilter``, ``P:S:workers``, ``P:S:finished``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import secrets
import socket
import sys
import time
from collections import deque
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from redis import Redis
from redis.exceptions import RedisError
from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DontCloseSpider
from scrapy.http import Request
from scrapy.utils.asyncio import CallLaterResult, call_later
from scrapy.utils.misc import load_object
from scrapy_redis.queue import PriorityQueue
from scrapy_redis.scheduler import Scheduler

from crawlers.config import Settings, load_settings
from crawlers.errors import CrawlError, TingfengError
from crawlers.settings import SETTINGS_KEY

logger = logging.getLogger(__name__)

BUSY, IDLE = "busy", "idle"
#: never written to Redis (lower-case header names; meta keys that hold proxy credentials)
SECRET_HEADERS = frozenset({"cookie", "authorization", "proxy-authorization"})
SECRET_META = frozenset({"proxy", "_auth_proxy"})
_warned: set[str] = set()
#: how often a waiting worker looks at the shared queue (Scrapy's own heartbeat: every 5 s)
POLL_SECONDS = 0.5

#: pop the best request and mark the worker busy, atomically (KEYS: queue, workers; ARGV: id)
CLAIM = """
local top = redis.call('ZRANGE', KEYS[1], 0, 0)
if top[1] == nil then return false end
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, 0)
redis.call('HSET', KEYS[2], ARGV[1], 'busy')
return top[1]
"""

#: mark the worker idle; 1 when the queue is empty and no worker is busy, after marking the
#: crawl finished (KEYS: queue, workers, finished; ARGV: id, now)
REST = """
redis.call('HSET', KEYS[2], ARGV[1], 'idle')
if redis.call('ZCARD', KEYS[1]) > 0 then return 0 end
for _, state in ipairs(redis.call('HVALS', KEYS[2])) do
  if state == 'busy' then return 0 end
end
redis.call('SET', KEYS[3], ARGV[2])
return 1
"""


@dataclass(frozen=True)
class FrontierKeys:
    """The Redis keys of one spider's shared crawl."""

    requests: str
    dupefilter: str
    workers: str
    finished: str

    @classmethod
    def of(cls, prefix: str, spider: str) -> FrontierKeys:
        base = f"{prefix}:{spider}"
        return cls(f"{base}:requests", f"{base}:dupefilter", f"{base}:workers", f"{base}:finished")


def distributed_settings(settings: Settings) -> dict[str, Any]:
    """The Scrapy settings overlay of distributed mode (merge it over ``scrapy_settings``).

    Checks that Redis answers first, so a wrong URL fails before the crawl starts. The URL
    itself stays out of Scrapy's settings (which Scrapy logs): the scheduler reads it from the
    ``Settings`` object, like the cookie middleware reads the cookie."""
    check_redis(settings)
    prefix = settings.distributed.key_prefix
    return {
        "SCHEDULER": "crawlers.distributed.SharedScheduler",
        "SCHEDULER_QUEUE_CLASS": "crawlers.distributed.SharedQueue",
        "SCHEDULER_QUEUE_KEY": f"{prefix}:%(spider)s:requests",
        "DUPEFILTER_CLASS": "scrapy_redis.dupefilter.RFPDupeFilter",
        "SCHEDULER_DUPEFILTER_KEY": f"{prefix}:%(spider)s:dupefilter",
        # the first worker to finish must not take the frontier away from the others
        "SCHEDULER_PERSIST": True,
        # a blocking pop would freeze the reactor; idle workers poll on the engine's heartbeat
        "SCHEDULER_IDLE_BEFORE_CLOSE": 0,
        "SCHEDULER_SERIALIZER": JsonRequests,
    }


def connect(url: str) -> Redis:
    return Redis.from_url(url, socket_timeout=30, socket_connect_timeout=10, retry_on_timeout=True)


def redacted(url: str) -> str:
    """``url`` without its user and password, for messages and logs."""
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    return f"{parts.scheme}://{host}:{parts.port or 6379}{parts.path}"


def check_redis(settings: Settings) -> Redis:
    """A client of the configured Redis, which has answered a ping."""
    url = settings.distributed.redis_url
    try:
        server = connect(url)
        server.ping()
    except (RedisError, ValueError) as exc:
        raise CrawlError(
            f"distributed mode cannot reach Redis at {redacted(url)} ({exc}): start redis-server "
            "or fix [distributed] redis_url, or set [distributed] enabled = false"
        ) from exc
    return server


def reset_frontier(settings: Settings, force: bool = False) -> int:
    """Delete every shared-crawl key under ``key_prefix`` (all spiders); returns how many.

    Refuses while workers are registered (a crawl is running) unless ``force``: a worker
    killed with -9 stays registered, and then ``force`` is the way out."""
    server = check_redis(settings)
    prefix = settings.distributed.key_prefix
    keys = list(server.scan_iter(match=f"{prefix}:*", count=500))
    workers = [k for k in keys if k.endswith(b":workers") and server.hlen(k)]
    if workers and not force:
        names = ", ".join(k.decode() for k in workers)
        raise CrawlError(
            f"workers are still registered in {names}: wait for the crawl to end, "
            "or reset with force if they were killed"
        )
    deleted = int(server.delete(*keys)) if keys else 0
    logger.info("reset the shared frontier: %d keys under %s:* deleted", deleted, prefix)
    return deleted


class JsonRequests:
    """Requests as JSON for the shared queue: bytes (headers, body) as latin-1 strings.

    Secrets stay out of Redis: a retried request carries the Cookie header (and a proxy URL
    with its password) that middlewares added; they are dropped here and added again by those
    middlewares when a worker downloads the request."""

    @staticmethod
    def dumps(obj: dict[str, Any]) -> str:
        out = dict(obj)
        out["headers"] = {
            _text(k): [_text(v) for v in vs]
            for k, vs in obj.get("headers", {}).items()
            if not _secret_header(_text(k))
        }
        out["body"] = _text(obj.get("body", b""))
        out["meta"] = {k: v for k, v in obj.get("meta", {}).items() if k not in SECRET_META}
        return json.dumps(out, ensure_ascii=False, default=_refuse)

    @staticmethod
    def loads(data: bytes | str) -> dict[str, Any]:
        obj: dict[str, Any] = json.loads(data)
        obj["headers"] = {_raw(k): [_raw(v) for v in vs] for k, vs in obj["headers"].items()}
        obj["body"] = _raw(obj["body"])
        return obj


def _secret_header(name: str) -> bool:
    if name.lower() not in SECRET_HEADERS:
        return False
    if name.lower() == "authorization" and name.lower() not in _warned:
        _warned.add(name.lower())
        logger.warning(
            "a request carried an Authorization header: dropped before the shared queue "
            "(set it in a downloader middleware, as the Weibo cookie is)"
        )
    return True


def _text(value: bytes | str) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else value


def _raw(value: str) -> bytes:
    return value.encode("latin-1")


def _refuse(value: Any) -> Any:
    raise TypeError(f"{type(value).__name__} in a request's meta cannot go to the shared queue")


class Crew:
    """The workers of one shared crawl, in a Redis hash: each ``busy`` or ``idle``."""

    def __init__(self, server: Redis, keys: FrontierKeys) -> None:
        self.server = server
        self.keys = keys
        self.me = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self._claim = server.register_script(CLAIM)
        self._rest = server.register_script(REST)

    def join(self) -> None:
        if self.server.exists(self.keys.finished) and not self.server.zcard(self.keys.requests):
            logger.warning(
                "the shared frontier %s holds a finished crawl: this worker will fetch only what "
                "is new; reset it first (python -m crawlers.distributed reset)",
                self.keys.requests,
            )
        self.server.hset(self.keys.workers, self.me, BUSY)
        logger.info("worker %s joined the shared crawl", self.me)

    def claim(self) -> bytes | None:
        """The next request's encoded form, this worker now marked busy; None when empty."""
        data = self._claim(keys=[self.keys.requests, self.keys.workers], args=[self.me])
        return data if isinstance(data, bytes) else None

    def rest(self) -> bool:
        """Mark this worker idle; True when the queue is empty and every worker idle."""
        keys = [self.keys.requests, self.keys.workers, self.keys.finished]
        return bool(self._rest(keys=keys, args=[self.me, str(time.time())]))

    def busy_workers(self) -> int:
        return sum(1 for state in self.server.hvals(self.keys.workers) if state == BUSY.encode())

    def leave(self) -> None:
        self.server.hdel(self.keys.workers, self.me)


class SharedQueue(PriorityQueue):
    """scrapy-redis' priority queue whose pop also marks the popping worker busy."""

    crew: Crew | None = None

    def pop(self, timeout: int = 0) -> Request | None:
        if self.crew is None:
            return super().pop(timeout)
        data = self.crew.claim()
        return self._decode_request(data) if data else None


class SharedScheduler(Scheduler):
    """scrapy-redis' scheduler that closes its worker only when the shared crawl is over."""

    def __init__(
        self, server: Redis, prefix: str, idle_close_seconds: float, **kwargs: Any
    ) -> None:
        super().__init__(server, **kwargs)
        self.prefix = prefix
        self.idle_close_seconds = idle_close_seconds
        self.crew: Crew | None = None
        self.crawler: Crawler | None = None
        #: requests the spider keeps to itself: they pass the shared dupefilter, not the queue
        self.local: deque[Request] = deque()
        self._idle_since: float | None = None
        self._poll: CallLaterResult | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SharedScheduler:
        options = crawler.settings[SETTINGS_KEY].distributed
        s = crawler.settings
        scheduler = cls(
            connect(options.redis_url),
            options.key_prefix,
            options.idle_close_seconds,
            persist=s.getbool("SCHEDULER_PERSIST"),
            queue_key=s["SCHEDULER_QUEUE_KEY"],
            queue_cls=s["SCHEDULER_QUEUE_CLASS"],
            dupefilter_key=s["SCHEDULER_DUPEFILTER_KEY"],
            dupefilter_cls=s["DUPEFILTER_CLASS"],
            serializer=s["SCHEDULER_SERIALIZER"],
        )
        scheduler.stats, scheduler.crawler = crawler.stats, crawler
        crawler.signals.connect(scheduler.on_idle, signal=signals.spider_idle)
        return scheduler

    def open(self, spider: Spider) -> None:
        # built here, not by scrapy-redis from Scrapy's settings, which do not hold the URL
        self.df = load_object(self.dupefilter_cls)(
            self.server, key=self.dupefilter_key % {"spider": spider.name}
        )
        super().open(spider)
        self.crew = Crew(self.server, FrontierKeys.of(self.prefix, spider.name))
        self.queue.crew = self.crew
        self.crew.join()

    def close(self, reason: str) -> None:
        if self._poll is not None:
            self._poll.cancel()
        if self.crew is not None:
            self.crew.leave()
        super().close(reason)

    # (scrapy-redis 0.9.1 passes ``spider=`` to the stats, which Scrapy 2.19 deprecates)
    def enqueue_request(self, request: Request) -> bool:
        if not request.dont_filter and self.df.request_seen(request):
            self.df.log(request, self.spider)
            return False
        if self._keeps_local(request):
            self._count("scheduler/enqueued/local")
            self.local.append(request)
        else:
            self._count("scheduler/enqueued/redis")
            self.queue.push(request)
        return True

    def next_request(self) -> Request | None:
        request: Request | None = self.local.popleft() if self.local else self.queue.pop()
        if request is not None:
            self._count("scheduler/dequeued")
            self._idle_since = None
        return request

    def has_pending_requests(self) -> bool:
        return bool(self.local) or len(self.queue) > 0

    def _keeps_local(self, request: Request) -> bool:
        keeps_local = getattr(self.spider, "keeps_local", None)
        return bool(keeps_local(request)) if keeps_local is not None else False

    def _count(self, key: str) -> None:
        if self.stats is not None:
            self.stats.inc_value(key)

    def on_idle(self, spider: Spider) -> None:
        """spider_idle: keep the worker open while other workers may still add requests."""
        if self.crew is None or self.crew.rest():
            logger.info("shared frontier drained and every worker idle: closing")
            return
        now = time.monotonic()
        self._idle_since = self._idle_since or now
        if now - self._idle_since >= self.idle_close_seconds:
            logger.info(
                "idle for %.0f s while %d other worker(s) are busy: closing; they finish the crawl",
                now - self._idle_since,
                self.crew.busy_workers(),
            )
            return
        self._poll = call_later(POLL_SECONDS, self._wake)
        raise DontCloseSpider

    def _wake(self) -> None:
        # Scrapy has no public "look at the scheduler now"; should the attribute go away, the
        # engine's 5 s heartbeat still does it, only later
        slot = getattr(self.crawler.engine if self.crawler else None, "_slot", None)
        nextcall = getattr(slot, "nextcall", None)
        if nextcall is not None:
            nextcall.schedule()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m crawlers.distributed", description="Manage the shared crawl frontier."
    )
    parser.add_argument("action", choices=["reset"], help="reset: delete the shared frontier")
    parser.add_argument("--settings", default="settings.toml", help="settings file")
    parser.add_argument("--force", action="store_true", help="reset even if workers registered")
    args = parser.parse_args(argv)
    try:
        deleted = reset_frontier(load_settings(args.settings), force=args.force)
    except TingfengError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    print(f"deleted={deleted}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
