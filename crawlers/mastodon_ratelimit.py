"""Honour Mastodon's ``X-RateLimit-*`` headers: hold requests to a host until its window resets.

Mastodon answers every API call with ``X-RateLimit-Limit`` (calls per window),
``X-RateLimit-Remaining`` and ``X-RateLimit-Reset`` (an ISO 8601 time when the window restarts).
When Remaining falls to a few percent of Limit, or a 429 arrives, ``RateLimitBook`` marks the
host held until Reset; ``MastodonRateLimitMiddleware`` then delays every request to that host
with the reactor's ``callLater`` (never ``time.sleep``), so the rest of the crawl keeps running.
The decisions live in ``RateLimitBook`` with an injectable clock, so they are tested without
waiting.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlparse

from scrapy.crawler import Crawler
from scrapy.http import Request, Response

from crawlers.spiders.mastodon_parse import parse_time

logger = logging.getLogger(__name__)

#: hold when Remaining is at most this share of Limit (15 of Mastodon's 300 per 5 minutes)
LOW_FRACTION = 0.05
#: never hold longer than this, whatever Reset says (Mastodon's longest window is 30 minutes)
MAX_HOLD_S = 3600.0
#: a Date header this close to our clock is rounding, not skew
DATE_SKEW_S = 2.0
HEADERS = ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset", "date")


def _int(value: str | None) -> int | None:
    try:
        return int(value.strip()) if value is not None else None
    except ValueError:
        return None


def _http_date(value: str | None) -> datetime | None:
    try:
        found = parsedate_to_datetime(value) if value else None
    except (TypeError, ValueError, IndexError):
        return None
    return found if found is None or found.tzinfo else found.replace(tzinfo=UTC)


def host_of(url: str) -> str:
    return urlparse(url).netloc.lower()


@dataclass
class RateLimitBook:
    """Which hosts are held, and until when (seconds of ``clock``)."""

    clock: Callable[[], float] = time.time
    low_fraction: float = LOW_FRACTION
    max_hold: float = MAX_HOLD_S
    held_until: dict[str, float] = field(default_factory=dict)

    def threshold(self, limit: int) -> int:
        """Remaining at or below this holds the host."""
        return max(1, int(limit * self.low_fraction))

    def observe(self, host: str, headers: Mapping[str, str | None], status: int = 200) -> float:
        """Note a response's headers (lower-case names); returns the seconds ``host`` is now
        held for, 0 when it is not."""
        limit = _int(headers.get("x-ratelimit-limit"))
        remaining = _int(headers.get("x-ratelimit-remaining"))
        low = limit is not None and remaining is not None and remaining <= self.threshold(limit)
        reset = parse_time(headers.get("x-ratelimit-reset"))
        if not (low or status == 429) or reset is None:
            return 0.0
        wait = min(max((reset - self._server_now(headers)).total_seconds(), 0.0), self.max_hold)
        if wait > 0:
            until = self.clock() + wait
            self.held_until[host] = max(self.held_until.get(host, until), until)
        return wait

    def _server_now(self, headers: Mapping[str, str | None]) -> datetime:
        """Now on the server's clock: Reset is the server's time. Its Date header (whole
        seconds) is trusted only when it differs from ours by more than its rounding."""
        local = datetime.fromtimestamp(self.clock(), UTC)
        date = _http_date(headers.get("date"))
        if date is None or abs((date - local).total_seconds()) <= DATE_SKEW_S:
            return local
        return date

    def hold(self, host: str) -> float:
        """Seconds a request to ``host`` must wait now (0: send it)."""
        until = self.held_until.get(host)
        if until is None:
            return 0.0
        wait = until - self.clock()
        if wait <= 0:
            del self.held_until[host]
            return 0.0
        return wait


def reactor_sleep(seconds: float) -> Awaitable[Any]:
    """Wait ``seconds`` on the running reactor (``callLater``), awaitable from a coroutine."""
    from scrapy.utils.defer import maybe_deferred_to_future
    from twisted.internet import reactor
    from twisted.internet.task import deferLater

    return maybe_deferred_to_future(deferLater(reactor, seconds, lambda: None))  # type: ignore[arg-type]


class MastodonRateLimitMiddleware:
    """Downloader middleware: reads the headers of each response, delays requests to a held
    host until its window resets."""

    def __init__(
        self,
        book: RateLimitBook | None = None,
        sleep: Callable[[float], Awaitable[Any]] = reactor_sleep,
        crawler: Crawler | None = None,
    ) -> None:
        self.book = book or RateLimitBook()
        self.sleep = sleep
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> MastodonRateLimitMiddleware:
        return cls(crawler=crawler)

    async def process_request(self, request: Request) -> None:
        host = host_of(request.url)
        # a hold may be extended while we wait (a slower response reported a later Reset)
        while (wait := self.book.hold(host)) > 0:
            logger.info("rate limit: holding %s for %.1f s", request.url, wait)
            self._count("ratelimit_holds")
            await self.sleep(wait)

    def process_response(self, request: Request, response: Response) -> Response:
        headers = {name: _header(response, name) for name in HEADERS}
        wait = self.book.observe(host_of(request.url), headers, response.status)
        if wait > 0:
            logger.info(
                "rate limit low at %s (remaining %s of %s): requests wait %.0f s",
                host_of(request.url),
                headers["x-ratelimit-remaining"],
                headers["x-ratelimit-limit"],
                wait,
            )
        return response

    def _count(self, key: str) -> None:
        if self.crawler is not None and self.crawler.stats is not None:
            self.crawler.stats.inc_value(f"tingfeng/{key}")


def _header(response: Response, name: str) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value is not None else None
