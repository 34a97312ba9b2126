"""The X-RateLimit middleware's decisions on a fake clock: no sleeping, no reactor."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from scrapy.http import Request, Response

from crawlers.mastodon_ratelimit import MastodonRateLimitMiddleware, RateLimitBook

T0 = datetime(2026, 8, 1, 13, 55, tzinfo=UTC)
HOST = "mastodon.test"


class FakeClock:
    def __init__(self) -> None:
        self.now = T0.timestamp()
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def headers(remaining: int, reset_in: float, limit: int = 300, **extra: str) -> dict[str, str]:
    reset = (T0 + timedelta(seconds=reset_in)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return {
        "x-ratelimit-limit": str(limit),
        "x-ratelimit-remaining": str(remaining),
        "x-ratelimit-reset": reset,
        **extra,
    }


@pytest.mark.parametrize(
    ("hdrs", "status", "held"),
    [
        (headers(299, 60), 200, 0.0),  # plenty left
        (headers(16, 60), 200, 0.0),  # just above 5% of 300
        (headers(15, 60), 200, 60.0),  # 5%: wait for the window
        (headers(0, 90.5), 200, 90.5),
        (headers(200, 30), 429, 30.0),  # a 429 holds whatever Remaining says
        (headers(0, -5), 200, 0.0),  # the window already restarted
        (headers(0, 99999), 200, 3600.0),  # never more than max_hold
        (headers(1, 60, limit=10), 200, 60.0),  # a small limit still keeps one in hand
        ({"x-ratelimit-remaining": "0"}, 200, 0.0),  # no Reset: nothing to wait for
        ({**headers(0, 60), "x-ratelimit-reset": "soon"}, 200, 0.0),
        ({"x-ratelimit-limit": "x", "x-ratelimit-remaining": "0"}, 200, 0.0),
        ({}, 200, 0.0),
    ],
)
def test_when_a_host_is_held(
    clock: FakeClock, hdrs: dict[str, str], status: int, held: float
) -> None:
    book = RateLimitBook(clock=clock)
    assert book.observe(HOST, hdrs, status) == pytest.approx(held)
    assert book.hold(HOST) == pytest.approx(held)
    assert book.hold("other.test") == 0.0


def test_hold_ends_at_reset(clock: FakeClock) -> None:
    book = RateLimitBook(clock=clock)
    book.observe(HOST, headers(0, 60))
    clock.now += 45
    assert book.hold(HOST) == pytest.approx(15)
    clock.now += 15
    assert book.hold(HOST) == 0.0 and HOST not in book.held_until


def test_server_date_corrects_clock_skew(clock: FakeClock) -> None:
    # the server's clock is 10 minutes behind ours: Reset in its time is still 60 s away
    behind = (T0 - timedelta(minutes=10)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    reset = (T0 - timedelta(minutes=10) + timedelta(seconds=60)).strftime("%Y-%m-%dT%H:%M:%SZ")
    hdrs = {**headers(0, 0), "x-ratelimit-reset": reset, "date": behind}
    assert RateLimitBook(clock=clock).observe(HOST, hdrs) == pytest.approx(60)
    # a Date within its one-second rounding is not skew
    near = T0.strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert RateLimitBook(clock=clock).observe(HOST, headers(0, 0.5, date=near)) == 0.5


def test_middleware_holds_requests_to_that_host_only(clock: FakeClock) -> None:
    mw = MastodonRateLimitMiddleware(RateLimitBook(clock=clock), sleep=clock.sleep)
    first = Request(f"http://{HOST}/api/v1/timelines/tag/x")
    response = Response(first.url, headers=headers(3, 40), request=first)
    assert mw.process_response(first, response) is response
    asyncio.run(mw.process_request(Request(f"http://{HOST}/api/v1/accounts/1")))
    asyncio.run(mw.process_request(Request("http://elsewhere.test/api/v1/accounts/1")))
    assert clock.slept == [pytest.approx(40)]
    asyncio.run(mw.process_request(Request(f"http://{HOST}/api/v1/accounts/2")))
    assert len(clock.slept) == 1  # the window has restarted
