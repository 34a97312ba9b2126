"""The politeness middlewares on a test reactor (twisted's task.Clock) and an in-memory store.

The datetime clock of the middlewares reads the test reactor's clock, so "no request before
t0 + N" is checked by advancing time by hand: nothing sleeps.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any
from unittest.mock import MagicMock

import pytest
from pydantic import SecretStr
from scrapy.exceptions import CloseSpider, IgnoreRequest
from scrapy.http import HtmlResponse, Request, Response, TextResponse
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from twisted.internet import defer, task

from crawlers import politeness as pol
from crawlers.config import Secrets, Settings
from crawlers.errors import CrawlError
from crawlers.middlewares import (
    BanDetectionMiddleware,
    BudgetMiddleware,
    Politeness,
    ProxyRotationMiddleware,
    RetryAfterMiddleware,
    SourcePauseMiddleware,
    ban_kind,
)
from crawlers.models import Alert, BanEvent
from crawlers.settings import proxy_list
from crawlers.spiders.base import RunBook

T0 = datetime(2026, 3, 1, 8, 30, tzinfo=UTC)
URL = "http://weibo.test/api/container/getIndex?containerid=100103type%3D1%26q%3D%E5%92%96"
COOKIE = "SUB=_2A25-cookie-secret"
PROXY = "http://alice:proxy-secret@127.0.0.1:3128"


class World:
    """A crawler double, a test reactor, and the ``Politeness`` state under test."""

    def __init__(self, settings: Settings, engine: Engine) -> None:
        self.reactor = task.Clock()
        self.crawler = MagicMock()
        self.crawler.engine.downloader.slots = {}
        runbook = RunBook("weibo", "weibo")
        runbook.add("topic:咖啡", "c").run_id = 7
        runbook.add("tag:咖啡", "c")
        self.crawler.spider = SimpleNamespace(
            runbook=runbook, platform="weibo", base_url="http://weibo.test"
        )
        self.state = Politeness(
            self.crawler, settings, clock=self.now, reactor=self.reactor, engine=engine
        )

    def now(self) -> datetime:
        return T0 + timedelta(seconds=self.reactor.seconds())

    def closed_with(self) -> list[str]:
        calls = self.crawler.engine.close_spider_async.call_args_list
        return [c.kwargs["reason"] for c in calls]

    def notes(self) -> dict[str, list[str]]:
        return {k: list(t.notes) for k, t in self.crawler.spider.runbook.targets.items()}


@pytest.fixture
def world(bare_settings: Settings, engine: Engine) -> World:
    return World(bare_settings, engine)


def _request(url: str = URL, **meta: Any) -> Request:
    return Request(url, meta={"target": "topic:咖啡", **meta})


def _resp(status: int, body: str | bytes = "{}", headers: dict[str, str] | None = None) -> Response:
    raw = body.encode("utf-8") if isinstance(body, str) else body
    return TextResponse(URL, status=status, body=raw, headers=headers or {}, encoding="utf-8")


def _html(body: str, codec: str = "utf-8") -> HtmlResponse:
    return HtmlResponse(
        URL,
        body=body.encode(codec),
        headers={"Content-Type": f"text/html; charset={codec}"},
        encoding=codec,
    )


def _run(coro: Any) -> tuple[defer.Deferred[Any], list[Any]]:
    """Drive an ``async def`` middleware method on Deferreds; collect its outcome."""
    done: list[Any] = []
    d = defer.Deferred.fromCoroutine(coro)
    d.addBoth(done.append)
    return d, done


# --- ban signals -----------------------------------------------------------------------------

CAPTCHA_PAGE = "<html><title>验证码</title><body>请完成验证后继续访问</body></html>"


@pytest.mark.parametrize(
    ("response", "kind"),
    [
        (_resp(418), "http_418"),
        (_resp(432, ""), "http_432"),
        (_resp(403, "<html>forbidden</html>"), "http_403"),
        (_resp(200, '{"ok": 0, "url": "https://passport.weibo.cn/visitor"}'), "captcha_json"),
        (_html(CAPTCHA_PAGE), "captcha_html"),
        (_html(CAPTCHA_PAGE, "gb18030"), "captcha_html"),  # a GB18030 page says the same
        (_html("<html><body>Please solve the CAPTCHA</body></html>"), "captcha_html"),
    ],
)
def test_ban_signal_pauses_the_source_once(world: World, response: Response, kind: str) -> None:
    ban = BanDetectionMiddleware(world.state)
    with pytest.raises(IgnoreRequest):
        ban.process_response(_request(), response)
    # an in-flight request answered the same way: no second event, no second alert
    with pytest.raises(IgnoreRequest):
        ban.process_response(_request(URL + "&page=2"), response)
    with Session(world.state.engine) as s:
        (event,) = s.exec(select(BanEvent)).all()
        (alert,) = s.exec(select(Alert)).all()
    assert (event.kind, event.source, event.crawl_run_id) == (kind, "weibo.test", 7)
    assert pol.as_utc(event.paused_until) == T0 + timedelta(minutes=360)
    assert alert.kind == "ban" and alert.source == "weibo.test"
    assert world.closed_with() == ["banned"]
    note = f"source paused until 2026-03-01 14:30 UTC ({kind})"
    assert world.notes() == {"topic:咖啡": [note], "tag:咖啡": [note]}
    # and nothing more goes to that source during the pause
    with pytest.raises(IgnoreRequest):
        SourcePauseMiddleware(world.state).process_request(_request(URL + "&page=3"))


@pytest.mark.parametrize(
    "response",
    [
        _resp(200, '{"ok": 1, "data": {"url": "https://weibo.test/x"}}'),
        _resp(200, '{"ok": 0, "msg": "这里还没有内容"}'),  # end of a list, not a ban
        # a post that talks about captchas is data, not a verification page
        _resp(200, '{"ok": 1, "data": {"cards": [{"mblog": {"text": "收不到验证码 captcha"}}]}}'),
        _html("<html><body>普通页面</body></html>"),
        _resp(404, '{"ok": 0}'),
    ],
)
def test_ordinary_responses_pass(world: World, response: Response) -> None:
    assert ban_kind(response) is None
    assert BanDetectionMiddleware(world.state).process_response(_request(), response) is response
    assert world.closed_with() == []


def test_other_sources_are_not_paused(world: World) -> None:
    with pytest.raises(IgnoreRequest):
        BanDetectionMiddleware(world.state).process_response(_request(), _resp(418))
    SourcePauseMiddleware(world.state).process_request(_request("http://other.test/x"))


def test_a_pause_lapses_with_time(world: World) -> None:
    with pytest.raises(IgnoreRequest):
        BanDetectionMiddleware(world.state).process_response(_request(), _resp(418))
    assert world.state.is_paused("weibo.test")
    world.reactor.advance(360 * 60)
    assert not world.state.is_paused("weibo.test")


# --- spider open -----------------------------------------------------------------------------


def test_spider_open_refuses_a_paused_source(world: World, caplog) -> None:
    with Session(world.state.engine) as s:
        pol.pause_source(s, "weibo.test", "weibo", "http_432", 432, URL, 60, T0)
    world.reactor.advance(59 * 60)
    with pytest.raises(CloseSpider) as exc:
        SourcePauseMiddleware(world.state).spider_opened(world.crawler.spider)
    assert exc.value.reason == "paused"
    assert "not crawling: source weibo.test is paused until 2026-03-01 09:30:00" in caplog.text
    assert world.notes()["tag:咖啡"] == ["source paused until 2026-03-01 09:30 UTC (http_432)"]
    with pytest.raises(IgnoreRequest):  # robots.txt included: nothing is sent
        SourcePauseMiddleware(world.state).process_request(Request("http://weibo.test/robots.txt"))


def test_spider_open_goes_ahead_after_the_pause(world: World) -> None:
    with Session(world.state.engine) as s:
        pol.pause_source(s, "weibo.test", "weibo", "http_432", 432, URL, 60, T0)
        pol.pause_source(s, "other.test", "weibo", "http_432", 432, URL, 600, T0)
    world.reactor.advance(60 * 60)
    SourcePauseMiddleware(world.state).spider_opened(world.crawler.spider)
    assert world.notes()["tag:咖啡"] == []


# --- Retry-After -----------------------------------------------------------------------------


def _retry_after(world: World, seconds: str, status: int = 429, **meta: Any) -> Request:
    out = RetryAfterMiddleware(world.state).process_response(
        _request(**meta), _resp(status, headers={"Retry-After": seconds})
    )
    assert isinstance(out, Request)
    return out


def test_no_request_to_the_source_before_retry_after(world: World) -> None:
    retry = _retry_after(world, "5")
    assert retry.dont_filter and retry.meta["tingfeng_retry_after"] == 1
    mw = RetryAfterMiddleware(world.state)
    sent_at: list[datetime] = []

    def send(request: Request) -> Callable[[Any], None]:
        return lambda _: sent_at.append(world.now())

    _run(mw.process_request(retry))[0].addCallback(send(retry))
    other_page = _request(URL + "&page=2")
    _run(mw.process_request(other_page))[0].addCallback(send(other_page))
    world.reactor.advance(4.999)
    assert sent_at == []  # neither the retry nor any other request to weibo.test
    _, elsewhere = _run(mw.process_request(_request("http://other.test/x")))
    assert elsewhere == [None]  # another source is not held
    world.reactor.advance(0.001)
    assert sent_at == [T0 + timedelta(seconds=5)] * 2


def test_503_with_retry_after_is_honoured_and_plain_503_is_left_to_retry(world: World) -> None:
    assert _retry_after(world, "2", status=503).meta["tingfeng_retry_after"] == 1
    plain = _resp(503)
    assert RetryAfterMiddleware(world.state).process_response(_request(), plain) is plain


def test_429_without_retry_after_waits_the_default(world: World) -> None:
    mw = RetryAfterMiddleware(world.state)
    out = mw.process_response(_request(), _resp(429))
    assert isinstance(out, Request)
    assert world.state.backoff.not_before("weibo.test") == T0 + timedelta(seconds=60)


def test_a_long_retry_after_pauses_the_source(world: World) -> None:
    world.state.settings.crawl.retry_after_max_seconds = 600
    with pytest.raises(IgnoreRequest):
        _retry_after(world, "7200")
    with Session(world.state.engine) as s:
        (event,) = s.exec(select(BanEvent)).all()
        (alert,) = s.exec(select(Alert)).all()
    assert event.kind == "http_429" and alert.kind == "rate_limited"
    assert pol.as_utc(event.paused_until) == T0 + timedelta(hours=2)  # as long as it asked
    assert world.closed_with() == ["rate_limited"]


def test_repeated_rate_limits_pause_the_source(world: World) -> None:
    with pytest.raises(IgnoreRequest):
        _retry_after(world, "1", tingfeng_retry_after=3)
    with Session(world.state.engine) as s:
        (event,) = s.exec(select(BanEvent)).all()
    assert pol.as_utc(event.paused_until) == T0 + timedelta(minutes=360)
    assert world.closed_with() == ["rate_limited"]


def test_a_ban_drops_requests_waiting_for_retry_after(world: World) -> None:
    retry = _retry_after(world, "30")
    _, outcome = _run(RetryAfterMiddleware(world.state).process_request(retry))
    world.reactor.advance(1)
    with pytest.raises(IgnoreRequest):
        BanDetectionMiddleware(world.state).process_response(_request(), _resp(418))
    assert len(outcome) == 1 and outcome[0].check(IgnoreRequest)
    world.reactor.advance(60)  # nothing left on the reactor fires a request later
    assert len(outcome) == 1


# --- budgets ---------------------------------------------------------------------------------


def test_budget_per_ip_stops_the_source_until_the_next_hour(world: World) -> None:
    world.state.settings.crawl.budget_per_ip_per_hour = 2
    budget = BudgetMiddleware(world.state, cookie=None)
    budget.process_request(_request())
    budget.process_request(_request())
    with pytest.raises(IgnoreRequest):
        budget.process_request(_request())
    assert world.closed_with() == ["budget"]
    assert world.notes()["topic:咖啡"] == ["source paused until 2026-03-01 09:00 UTC (budget)"]
    with Session(world.state.engine) as s:
        (alert,) = s.exec(select(Alert)).all()
        assert s.exec(select(BanEvent)).all() == []  # a budget is not a ban
    assert alert.kind == "budget" and alert.detail["key"] == "ip:weibo.test"
    world.reactor.advance(30 * 60)  # 09:00: a new window, a new crawl may go
    fresh = World(world.state.settings, world.state.engine)
    fresh.reactor.advance(30 * 60)
    BudgetMiddleware(fresh.state, cookie=None).process_request(_request())


def test_budget_per_account_is_keyed_by_a_cookie_fingerprint(world: World, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    world.state.settings.crawl.budget_per_account_per_hour = 1
    budget = BudgetMiddleware(world.state, cookie=COOKIE)
    keys = dict(budget.keys(_request()))
    account = f"account:{pol.fingerprint(COOKIE)}:weibo.test"
    assert keys == {"ip:weibo.test": 900, account: 1}
    budget.process_request(_request())
    with pytest.raises(IgnoreRequest):
        budget.process_request(_request())
    with Session(world.state.engine) as s:
        (alert,) = s.exec(select(Alert)).all()
    assert alert.detail["key"] == account
    assert "cookie-secret" not in caplog.text + repr(alert)


def test_budget_zero_is_no_cap(world: World) -> None:
    world.state.settings.crawl.budget_per_ip_per_hour = 0
    budget = BudgetMiddleware(world.state, cookie=None)
    assert budget.keys(_request()) == []
    for _ in range(5):
        budget.process_request(_request())


def test_budget_behind_a_proxy_counts_per_proxy(world: World) -> None:
    budget = BudgetMiddleware(world.state, cookie=None)
    (key, _), *_ = budget.keys(_request(proxy=PROXY))
    assert key.startswith("ip:") and key.endswith(":weibo.test") and "secret" not in key


# --- proxies ---------------------------------------------------------------------------------


def test_proxies_rotate_per_request_and_a_retry_keeps_its_own() -> None:
    mw = ProxyRotationMiddleware(["http://a:1", "http://b:2", "http://c:3"])
    proxies = []
    for _ in range(4):
        request = _request()
        mw.process_request(request)
        proxies.append(request.meta["proxy"])
    assert proxies == ["http://a:1", "http://b:2", "http://c:3", "http://a:1"]
    kept = _request(proxy="http://c:3")
    mw.process_request(kept)
    assert kept.meta["proxy"] == "http://c:3"
    plain = _request()
    ProxyRotationMiddleware([]).process_request(plain)
    assert "proxy" not in plain.meta


def test_proxy_list_reads_the_secret_and_names_a_bad_entry_by_position(
    bare_settings: Settings,
) -> None:
    bare_settings._secrets = Secrets(proxies=SecretStr(f" {PROXY} , http://b.test:8080 ,"))
    assert proxy_list(bare_settings) == [PROXY, "http://b.test:8080"]
    bare_settings._secrets = Secrets(proxies=SecretStr(f"{PROXY},socks9://carol:pw-secret@x"))
    with pytest.raises(CrawlError) as exc:
        proxy_list(bare_settings)
    assert "entry 2" in str(exc.value) and "secret" not in str(exc.value)
    bare_settings._secrets = Secrets()
    assert proxy_list(bare_settings) == []


def test_a_ban_drops_requests_queued_in_the_downloader(world: World) -> None:
    # with a download delay, requests past the middlewares wait in the downloader's slot queue
    queued, elsewhere = _request(URL + "&page=2"), _request("http://other.test/x")
    waiting: list[defer.Deferred[Any]] = [defer.Deferred(), defer.Deferred()]
    failures: list[Any] = []
    waiting[0].addErrback(failures.append)
    slot = SimpleNamespace(queue=deque([(queued, waiting[0]), (elsewhere, waiting[1])]))
    world.crawler.engine.downloader.slots = {"weibo.test": slot}
    with pytest.raises(IgnoreRequest):
        BanDetectionMiddleware(world.state).process_response(_request(), _resp(432))
    assert len(failures) == 1 and failures[0].check(IgnoreRequest)
    assert list(slot.queue) == [(elsewhere, waiting[1])]  # another source's request stays


def test_the_middlewares_of_one_crawler_share_one_state(bare_settings: Settings) -> None:
    crawler = MagicMock()
    crawler.settings = {"TINGFENG_SETTINGS": bare_settings}
    del crawler._tingfeng_politeness  # a MagicMock would invent the attribute
    ban = BanDetectionMiddleware.from_crawler(crawler)
    assert RetryAfterMiddleware.from_crawler(crawler).state is ban.state
    assert SourcePauseMiddleware.from_crawler(crawler).state is ban.state


def test_a_long_wait_ends_when_the_crawl_stops(world: World) -> None:
    retry = _retry_after(world, "600")
    _, outcome = _run(RetryAfterMiddleware(world.state).process_request(retry))
    world.reactor.advance(5)
    assert outcome == []  # still waiting, in 5 s steps
    world.crawler.engine.running = False  # Ctrl-C: the engine stops
    world.reactor.advance(5)
    assert len(outcome) == 1 and outcome[0].check(IgnoreRequest)
