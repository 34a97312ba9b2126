"""Scrapy settings derived from Settings; the cookie middleware (politeness: test_politeness*)."""

from __future__ import annotations

import pytest
from pydantic import SecretStr
from scrapy.http import Request

from crawlers.config import Secrets
from crawlers.errors import CrawlError
from crawlers.middlewares import CookieHeaderMiddleware
from crawlers.settings import SETTINGS_KEY, scrapy_settings


def test_scrapy_settings_follow_crawl_settings(settings) -> None:
    settings._secrets = Secrets(weibo_cookie=SecretStr("SUB=secret-value"))
    derived = scrapy_settings(settings)
    assert derived["ROBOTSTXT_OBEY"] is True
    assert (
        derived["CONCURRENT_REQUESTS_PER_DOMAIN"] == settings.crawl.concurrent_requests_per_domain
    )
    assert (
        derived["DOWNLOAD_HANDLERS"]["file"] is None
        and derived["DOWNLOAD_HANDLERS"]["data"] is None
    )
    # one platform per spider: the global limit equals the per-domain one (no parked requests)
    assert derived["CONCURRENT_REQUESTS"] == derived["CONCURRENT_REQUESTS_PER_DOMAIN"]
    assert derived["TELNETCONSOLE_ENABLED"] is False and "JOBDIR" not in derived
    assert derived[SETTINGS_KEY] is settings
    assert "secret-value" not in repr(derived)  # the secret never enters Scrapy's settings


def test_cookie_header_only_when_set() -> None:
    request = Request("http://127.0.0.1/x")
    CookieHeaderMiddleware(None).process_request(request)
    assert b"Cookie" not in request.headers
    CookieHeaderMiddleware(SecretStr("SUB=abc").get_secret_value()).process_request(request)
    assert request.headers[b"Cookie"] == b"SUB=abc"


def test_politeness_is_on_by_default(settings) -> None:
    settings._secrets = Secrets(proxies=SecretStr("http://user:proxy-pass@127.0.0.1:3128"))
    derived = scrapy_settings(settings)
    assert derived["DOWNLOAD_VERIFY_CERTIFICATES"] is True  # TLS verified
    assert derived["DOWNLOAD_MAXSIZE"] == 16 * 1024 * 1024
    chain = derived["DOWNLOADER_MIDDLEWARES"]
    # the pause check runs before robots.txt is fetched; budgets are the last step before the wire
    assert chain["crawlers.middlewares.SourcePauseMiddleware"] < 100
    assert max(chain.values()) == chain["crawlers.middlewares.BudgetMiddleware"] < 750
    # ban detection and Retry-After see responses before Scrapy's RetryMiddleware (550)
    assert chain["crawlers.middlewares.BanDetectionMiddleware"] > 550
    assert chain["crawlers.middlewares.RetryAfterMiddleware"] > 550
    assert "proxy-pass" not in repr(derived)


def test_malformed_proxies_stop_the_crawl_before_it_starts(settings) -> None:
    settings._secrets = Secrets(proxies=SecretStr("ftp://user:proxy-pass@127.0.0.1:21"))
    with pytest.raises(CrawlError) as exc:
        scrapy_settings(settings)
    assert "TINGFENG_PROXIES entry 1" in str(exc.value) and "proxy-pass" not in str(exc.value)


def test_logins_go_only_to_their_own_platform() -> None:
    """The Weibo cookie never reaches the Mastodon instance, nor the token Weibo."""
    from crawlers.middlewares import MastodonTokenMiddleware

    weibo = Request("https://m.weibo.cn/api/container/getIndex")
    other = Request("https://mastodon.social/api/v1/timelines/tag/coffee")
    cookie = CookieHeaderMiddleware("SUB=abc", "m.weibo.cn")
    token = MastodonTokenMiddleware("tok", "mastodon.social")
    for request in (weibo, other):
        cookie.process_request(request)
        token.process_request(request)
    assert weibo.headers.get(b"Cookie") == b"SUB=abc" and b"Authorization" not in weibo.headers
    assert other.headers.get(b"Authorization") == b"Bearer tok" and b"Cookie" not in other.headers
