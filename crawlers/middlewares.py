"""Downloader middlewares: the login cookie, and politeness (pauses, Retry-After, budgets,
proxies).

Order on the way out (``process_request``, low to high) and why:

* ``SourcePauseMiddleware`` (50, before robots.txt): refuses the crawl at spider open when the
  source is paused in the store, and drops any request to a source paused during this crawl.
* ``CookieHeaderMiddleware`` (540): the login cookie.
* ``RetryAfterMiddleware`` (570): holds requests to a source until its Retry-After has passed.
* ``BanDetectionMiddleware`` (575): on the way back, turns 403/418/432 and captcha pages into a
  pause of the source (before Scrapy's RetryMiddleware at 550 could retry them).
* ``ProxyRotationMiddleware`` (585): one proxy of ``TINGFENG_PROXIES`` per request, in turn
  (Scrapy's HttpProxyMiddleware at 750 moves its credentials into a header).
* ``BudgetMiddleware`` (595, last before the network): counts each request against the hourly
  budgets per IP and per account.

A spider crawls one platform, so a pause stops the crawl: the spider closes with reason
``banned``, ``rate_limited`` or ``budget``, every target's ``CrawlRun`` gets a note
``source paused until ... (kind)``, and requests already waiting are dropped, never sent.
The shared state lives in ``Politeness`` (one per crawler); the rules live in
``crawlers.politeness``. docs/politeness.md describes the behaviour per signal.
"""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Awaitable
from datetime import datetime, timedelta
from typing import Any, NoReturn

from pydantic import SecretStr
from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import CloseSpider, IgnoreRequest
from scrapy.http import Request, Response
from scrapy.utils.defer import deferred_from_coro, maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from sqlalchemy.engine import Engine
from sqlmodel import Session
from twisted.internet import defer, task

from crawlers import politeness as pol
from crawlers.config import Settings
from crawlers.politeness import Backoff, Clock
from crawlers.settings import SETTINGS_KEY, proxy_list
from crawlers.store import open_store

logger = logging.getLogger(__name__)

BAN_STATUSES = frozenset({403, 418, 432})
RETRY_AFTER_STATUSES = frozenset({429, 503})
#: a captcha JSON is small; bigger bodies are not inspected
CAPTCHA_MAX_BYTES = 4096
#: how much of an HTML page is searched for a verification marker
CAPTCHA_HTML_SCAN = 64 * 1024
CAPTCHA_MARKERS = ("验证码", "请完成验证", "安全验证")
#: a 429 without Retry-After waits this long (doubling per attempt)
DEFAULT_429_WAIT = 60.0
#: Retry-After is honoured this many times per request; then the source pauses
RETRY_AFTER_ATTEMPTS = 3
META_ATTEMPTS = "tingfeng_retry_after"
#: longest single wait on the reactor; a Retry-After wait is a loop of these
WAIT_STEP = 5.0


def source_of(request: Request) -> str:
    """The source a request belongs to: its host (``m.weibo.cn``), which is what pauses."""
    return urlparse_cached(request).hostname or ""


def _crawl_settings(crawler: Crawler) -> Settings:
    settings: Settings = crawler.settings[SETTINGS_KEY]
    return settings


# --- signals ---------------------------------------------------------------------------------


def is_captcha(response: Response) -> bool:
    """A JSON body that carries ``url`` and no ``data``."""
    body = response.body
    if len(body) > CAPTCHA_MAX_BYTES or b'"url"' not in body or not body.lstrip().startswith(b"{"):
        return False
    try:
        decoded = json.loads(body)
    except ValueError:
        return False
    return isinstance(decoded, dict) and "url" in decoded and "data" not in decoded


def is_captcha_page(response: Response) -> bool:
    """An HTML page with a verification marker (验证码, 请完成验证, captcha), in UTF-8 or GB18030."""
    content_type = response.headers.get(b"Content-Type", b"") or b""
    head = response.body[:CAPTCHA_HTML_SCAN]
    if b"html" not in content_type.lower() and not head.lstrip().startswith(b"<"):
        return False
    if b"captcha" in head.lower():
        return True
    return any(
        marker.encode(codec) in head for marker in CAPTCHA_MARKERS for codec in ("utf-8", "gb18030")
    )


def ban_kind(
    response: Response, statuses: frozenset[int] = BAN_STATUSES, captcha_json: bool = True
) -> str | None:
    """``http_418`` / ``http_432`` / ``http_403`` / ``captcha_json`` / ``captcha_html``, or None.
    ``statuses``: the HTTP statuses that mean a ban on this platform; ``captcha_json``: whether
    a small JSON object with ``url`` and no ``data`` is Weibo's captcha (not on Mastodon)."""
    if response.status in statuses:
        return f"http_{response.status}"
    if captcha_json and is_captcha(response):
        return "captcha_json"
    if is_captcha_page(response):
        return "captcha_html"
    return None


# --- shared state ----------------------------------------------------------------------------


class Politeness:
    """One crawl's politeness state, shared by its middlewares: the sources paused during this
    crawl, the Retry-After holds, the requests waiting on them, and the store."""

    ATTR = "_tingfeng_politeness"

    def __init__(
        self,
        crawler: Crawler,
        settings: Settings,
        clock: Clock = pol.DEFAULT_CLOCK,
        reactor: Any = None,
        engine: Engine | None = None,
    ) -> None:
        self.crawler = crawler
        self.settings = settings
        self.clock = clock
        self.backoff = Backoff()
        self.paused: dict[str, datetime] = {}
        self._reactor = reactor
        self._injected_reactor = reactor is not None
        self._engine = engine
        self._own_engine = engine is None
        self._waits: set[defer.Deferred[None]] = set()
        crawler.signals.connect(self._closed, signal=signals.spider_closed)

    @classmethod
    def of(cls, crawler: Crawler) -> Politeness:
        """The crawler's one ``Politeness`` (made by the first middleware that asks)."""
        state = getattr(crawler, cls.ATTR, None)
        if state is None:
            state = cls(crawler, _crawl_settings(crawler))
            setattr(crawler, cls.ATTR, state)
        return state

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = open_store(self.settings)
        return self._engine

    def session(self) -> Session:
        return Session(self.engine)

    def is_paused(self, source: str) -> bool:
        until = self.paused.get(source)
        return until is not None and until > self.clock()

    def inc(self, key: str) -> None:
        if self.crawler.stats is not None:
            self.crawler.stats.inc_value(f"tingfeng/{key}")

    # --- waiting (the reactor's clock, never time.sleep) -------------------------------------

    async def wait(self, seconds: float) -> None:
        """Wait ``seconds`` on the reactor; IgnoreRequest if the crawl stops meanwhile."""
        waiting: defer.Deferred[None] = task.deferLater(self._get_reactor(), seconds, lambda: None)
        self._waits.add(waiting)
        try:
            await self._awaitable(waiting)
        except defer.CancelledError:
            raise IgnoreRequest("the crawl stopped while waiting for Retry-After") from None
        finally:
            self._waits.discard(waiting)
        if not getattr(self.crawler.engine, "running", True):
            raise IgnoreRequest("the crawl is stopping (Ctrl-C)")

    def _awaitable(self, waiting: defer.Deferred[None]) -> Awaitable[None]:
        # a reactor given by the caller (a test's task.Clock) drives no asyncio loop: await its
        # Deferreds as they are; under Scrapy's asyncio reactor they become asyncio futures
        return waiting if self._injected_reactor else maybe_deferred_to_future(waiting)

    def _get_reactor(self) -> Any:
        if self._reactor is None:
            from twisted.internet import reactor  # the one Scrapy installed

            self._reactor = reactor
        return self._reactor

    def cancel_waits(self) -> None:
        for waiting in list(self._waits):
            waiting.cancel()

    # --- stopping a source ------------------------------------------------------------------

    def pause(self, request: Request, kind: str, status: int, minutes: float, reason: str) -> None:
        """A ban-like signal: record a BanEvent + alert, stop every request to the source."""
        source = source_of(request)
        if self.is_paused(source):
            return  # one event per pause, however many in-flight responses repeat it
        with self.session() as session:
            event = pol.pause_source(
                session,
                source,
                self._platform(),
                kind,
                status,
                request.url,
                minutes,
                self.clock(),
                crawl_run_id=self._run_id(request),
            )
        self.halt(source, pol.as_utc(event.paused_until), kind, reason)

    def halt(self, source: str, until: datetime, kind: str, reason: str) -> None:
        """Stop sending to ``source`` until ``until``: note it on every target, drop what waits
        and close the spider with ``reason``."""
        self.paused[source] = until
        self.note_targets(f"source paused until {until:%Y-%m-%d %H:%M} UTC ({kind})")
        self.inc(f"paused/{kind}")
        self.cancel_waits()
        self._drop_queued(source)
        engine = self.crawler.engine
        if engine is not None and getattr(engine, "spider", None) is not None:
            deferred_from_coro(engine.close_spider_async(reason=reason))

    def note_targets(self, text: str) -> None:
        runbook = getattr(self.crawler.spider, "runbook", None)
        for target in getattr(runbook, "targets", {}).values():
            target.notes[text] += 1

    def _drop_queued(self, source: str) -> None:
        # requests that passed the middlewares and wait in the downloader's slot queue (download
        # delay, per-slot concurrency) would still be sent while the spider closes
        downloader = getattr(self.crawler.engine, "downloader", None)
        for slot in getattr(downloader, "slots", {}).values():
            kept = [(r, d) for r, d in slot.queue if source_of(r) != source]
            dropped = [(r, d) for r, d in slot.queue if source_of(r) == source]
            slot.queue.clear()
            slot.queue.extend(kept)
            for request, waiting in dropped:
                waiting.errback(IgnoreRequest(f"source {source} paused: {request.url}"))

    def _platform(self) -> str:
        return getattr(self.crawler.spider, "platform", "") or self.settings.crawl.platform

    def _run_id(self, request: Request) -> int | None:
        runbook = getattr(self.crawler.spider, "runbook", None)
        target = runbook.get(request.meta.get("target")) if runbook is not None else None
        return getattr(target, "run_id", None)

    def _closed(self, spider: Any, reason: str) -> None:
        self.cancel_waits()
        if self._own_engine and self._engine is not None:
            self._engine.dispose()
            self._engine = None


# --- middlewares -----------------------------------------------------------------------------


class _LoginHeaderMiddleware:
    """Adds a secret login header to requests for its own platform's host only: a login never
    leaks to another platform nor to a host a response names, and is never stored in a request
    (a shared frontier holds requests). Subclasses say which secret, header and host."""

    header = b""

    def __init__(self, secret: str | None, host: str | None = None) -> None:
        self.secret = secret
        self.host = host

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> _LoginHeaderMiddleware:
        settings = _crawl_settings(crawler)
        secret = cls.secret_of(settings)
        host = urlparse_cached(Request(cls.base_url_of(settings))).hostname
        return cls(secret.get_secret_value() if secret else None, host)

    @staticmethod
    def secret_of(settings: Settings) -> SecretStr | None:
        raise NotImplementedError

    @staticmethod
    def base_url_of(settings: Settings) -> str:
        raise NotImplementedError

    def value(self, secret: str) -> bytes:
        return secret.encode("utf-8")

    def process_request(self, request: Request, spider: Any = None) -> None:
        if not self.secret or self.header in request.headers:
            return
        if self.host is None or source_of(request) == self.host:
            request.headers[self.header] = self.value(self.secret)


class CookieHeaderMiddleware(_LoginHeaderMiddleware):
    """``TINGFENG_WEIBO_COOKIE`` as the Cookie header, to ``[crawl] base_url``'s host."""

    header = b"Cookie"

    @staticmethod
    def secret_of(settings: Settings) -> SecretStr | None:
        return settings.secrets.weibo_cookie

    @staticmethod
    def base_url_of(settings: Settings) -> str:
        return settings.crawl.base_url


class MastodonTokenMiddleware(_LoginHeaderMiddleware):
    """``TINGFENG_MASTODON_TOKEN`` as a Bearer token, to ``[mastodon] base_url``'s host."""

    header = b"Authorization"

    @staticmethod
    def secret_of(settings: Settings) -> SecretStr | None:
        return settings.secrets.mastodon_token

    @staticmethod
    def base_url_of(settings: Settings) -> str:
        return settings.mastodon.base_url

    def value(self, secret: str) -> bytes:
        return f"Bearer {secret}".encode()


class SourcePauseMiddleware:
    """No crawl of a paused source: checked in the store at spider open, and per request."""

    def __init__(self, state: Politeness) -> None:
        self.state = state

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SourcePauseMiddleware:
        mw = cls(Politeness.of(crawler))
        crawler.signals.connect(mw.spider_opened, signal=signals.spider_opened)
        return mw

    def spider_opened(self, spider: Any) -> None:
        """Raises CloseSpider("paused") when the spider's source is paused in the store."""
        base_url = getattr(spider, "base_url", None) or self.state.settings.crawl.base_url
        source = urlparse_cached(Request(base_url)).hostname or ""
        with self.state.session() as session:
            event = pol.latest_pause(session, source, self.state.clock())
        if event is None:
            return
        until = pol.as_utc(event.paused_until)
        self.state.paused[source] = until
        self.state.note_targets(f"source paused until {until:%Y-%m-%d %H:%M} UTC ({event.kind})")
        logger.error(
            "not crawling: source %s is paused until %s UTC after %s at %s; "
            "see `tingfeng alerts`, wait, or resume it early (docs/politeness.md)",
            source,
            f"{until:%Y-%m-%d %H:%M:%S}",
            event.kind,
            f"{pol.as_utc(event.at):%Y-%m-%d %H:%M:%S}",
        )
        raise CloseSpider("paused")

    def process_request(self, request: Request, spider: Any = None) -> None:
        source = source_of(request)
        if self.state.is_paused(source):
            self.state.inc("dropped_paused")
            raise IgnoreRequest(f"source {source} is paused")


class BanDetectionMiddleware:
    """403/418/432 (or the spider's ``ban_statuses``) or a captcha page: pause the source for
    ``ban_pause_minutes``, never retry."""

    def __init__(self, state: Politeness) -> None:
        self.state = state

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> BanDetectionMiddleware:
        return cls(Politeness.of(crawler))

    def process_response(
        self, request: Request, response: Response, spider: Any = None
    ) -> Response:
        # a spider may narrow the statuses (on Mastodon a 403 is an ordinary answer)
        spider_ = self.state.crawler.spider
        statuses = getattr(spider_, "ban_statuses", BAN_STATUSES)
        kind = ban_kind(response, statuses, getattr(spider_, "captcha_json", True))
        if kind is None:
            return response
        self.state.inc("ban_signals")
        minutes = self.state.settings.crawl.ban_pause_minutes
        self.state.pause(request, kind, response.status, minutes, reason="banned")
        raise IgnoreRequest(f"ban signal ({kind}) at {request.url}")


class RetryAfterMiddleware:
    """429 (and 503 with Retry-After): no request to that source before the time it names, then
    the same request again (at most ``RETRY_AFTER_ATTEMPTS`` times). A wait longer than
    ``retry_after_max_seconds``, or one too many, pauses the source instead."""

    def __init__(self, state: Politeness) -> None:
        self.state = state
        self.max_seconds = state.settings.crawl.retry_after_max_seconds

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RetryAfterMiddleware:
        return cls(Politeness.of(crawler))

    async def process_request(self, request: Request, spider: Any = None) -> None:
        source = source_of(request)
        while (seconds := self.state.backoff.wait_seconds(source, self.state.clock())) > 0:
            self.state.inc("retry_after_held")
            # in steps, so that a stopping crawl (Ctrl-C) is not held for the whole wait
            await self.state.wait(min(seconds, WAIT_STEP))
        if self.state.is_paused(source):
            raise IgnoreRequest(f"source {source} is paused")

    def process_response(
        self, request: Request, response: Response, spider: Any = None
    ) -> Response | Request:
        if response.status not in RETRY_AFTER_STATUSES:
            return response
        now = self.state.clock()
        attempts = int(request.meta.get(META_ATTEMPTS, 0))
        seconds = pol.parse_retry_after(response.headers.get(b"Retry-After"), now)
        if seconds is None:
            if response.status != 429:
                return response  # a plain server error: RetryMiddleware's business
            seconds = DEFAULT_429_WAIT * 2**attempts
        kind = f"http_{response.status}"
        if seconds > self.max_seconds or attempts >= RETRY_AFTER_ATTEMPTS:
            self._give_up(request, kind, response.status, seconds, attempts)
        return self._retry_later(request, now + timedelta(seconds=seconds), attempts)

    def _give_up(
        self, request: Request, kind: str, status: int, seconds: float, attempts: int
    ) -> NoReturn:
        too_long = seconds > self.max_seconds
        minutes = seconds / 60 if too_long else self.state.settings.crawl.ban_pause_minutes
        self.state.pause(request, kind, status, minutes, reason="rate_limited")
        why = f"Retry-After {seconds:.0f}s" if too_long else f"{attempts + 1} rate limits in a row"
        raise IgnoreRequest(f"{why} at {request.url}")

    def _retry_later(self, request: Request, until: datetime, attempts: int) -> Request:
        source = source_of(request)
        held = self.state.backoff.hold(source, until)
        self.state.inc("retry_after")
        logger.info(
            "rate limited at %s: no request to %s before %s UTC (retry %d of %d)",
            request.url,
            source,
            f"{held:%H:%M:%S.%f}"[:-3],
            attempts + 1,
            RETRY_AFTER_ATTEMPTS,
        )
        retry = request.replace(dont_filter=True)
        retry.meta[META_ATTEMPTS] = attempts + 1
        return retry


class ProxyRotationMiddleware:
    """Each request through the next proxy of ``TINGFENG_PROXIES``, in turn; a request that
    already names a proxy (a retry) keeps it. Proxy URLs are never logged."""

    def __init__(self, proxies: list[str]) -> None:
        self.count = len(proxies)
        self._next = itertools.cycle(proxies) if proxies else None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ProxyRotationMiddleware:
        proxies = proxy_list(_crawl_settings(crawler))
        if proxies:
            logger.info("sending requests through %d proxies in turn", len(proxies))
        return cls(proxies)

    def process_request(self, request: Request, spider: Any = None) -> None:
        if self._next is not None and "proxy" not in request.meta:
            request.meta["proxy"] = next(self._next)


class BudgetMiddleware:
    """Hourly request budgets shared through the store: ``ip:<host>`` (``ip:<proxy>:<host>``
    behind a proxy) and, with a cookie, ``account:<cookie fingerprint>:<host>``. An exhausted
    budget stops the crawl of that source until the next hour (alert kind ``budget``)."""

    def __init__(self, state: Politeness, cookie: str | None) -> None:
        self.state = state
        crawl = state.settings.crawl
        self.per_ip = crawl.budget_per_ip_per_hour
        self.per_account = crawl.budget_per_account_per_hour
        self.account = pol.fingerprint(cookie) if cookie else None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> BudgetMiddleware:
        state = Politeness.of(crawler)
        secret = state.settings.secrets.weibo_cookie
        return cls(state, secret.get_secret_value() if secret else None)

    def keys(self, request: Request) -> list[tuple[str, int]]:
        """The budget keys this request counts against, with their hourly limits."""
        source = source_of(request)
        proxy = request.meta.get("proxy")
        via = f"{pol.fingerprint(pol.safe_url(proxy))}:" if proxy else ""
        keys = [(f"ip:{via}{source}", self.per_ip)]
        if self.account:
            keys.append((f"account:{self.account}:{source}", self.per_account))
        return [(key, limit) for key, limit in keys if limit > 0]

    def process_request(self, request: Request, spider: Any = None) -> None:
        source = source_of(request)
        if self.state.is_paused(source):
            raise IgnoreRequest(f"source {source} is paused")
        keys = self.keys(request)
        if not keys:
            return
        now = self.state.clock()
        with self.state.session() as session:
            for key, limit in keys:
                if not pol.take_budget(session, key, limit, now):
                    self._exhausted(session, request, key, limit, now)

    def _exhausted(
        self, session: Session, request: Request, key: str, limit: int, now: datetime
    ) -> None:
        source = source_of(request)
        until = pol.hour_window(now) + pol.HOUR
        pol.raise_alert(
            session,
            kind="budget",
            source=source,
            message=f"request budget {key} ({limit}/h) spent: {source} waits until "
            f"{until:%Y-%m-%d %H:%M} UTC",
            detail={"key": key, "limit": limit, "until": until.isoformat()},
            dedup_key=f"budget:{key}:{pol.hour_window(now):%Y%m%d%H}",
            now=now,
        )
        session.commit()
        logger.warning(
            "request budget %s (%d/h) spent; %s waits until %s", key, limit, source, until
        )
        self.state.halt(source, until, "budget", reason="budget")
        raise IgnoreRequest(f"request budget {key} spent")


__all__ = [
    "BAN_STATUSES",
    "BanDetectionMiddleware",
    "BudgetMiddleware",
    "CookieHeaderMiddleware",
    "Politeness",
    "ProxyRotationMiddleware",
    "RetryAfterMiddleware",
    "SourcePauseMiddleware",
    "ban_kind",
    "is_captcha",
    "is_captcha_page",
    "source_of",
]
