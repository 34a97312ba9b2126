"""Scrapy settings derived from Settings; the cookie and ban-detection middlewares."""

from __future__ import annotations

from unittest.mock import MagicMock

import pytest
from pydantic import SecretStr
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request, TextResponse

from crawlers.config import Secrets
from crawlers.middlewares import BanDetectionMiddleware, CookieHeaderMiddleware, is_captcha
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


def _resp(status: int, body: str) -> TextResponse:
    return TextResponse(
        "http://127.0.0.1/x",
        status=status,
        body=body.encode(),
        encoding="utf-8",
        request=Request("http://127.0.0.1/x"),
    )


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (418, "{}"),
        (432, ""),
        (403, "forbidden"),
        (
            200,
            '{"ok": 0, "url": "https://passport.weibo.cn/captcha"}',
        ),  # captcha JSON: url, no data
    ],
)
def test_ban_signals_close_the_spider(status: int, body: str, caplog) -> None:
    crawler = MagicMock()
    with pytest.raises(IgnoreRequest):
        BanDetectionMiddleware(crawler).process_response(
            Request("http://127.0.0.1/x"), _resp(status, body)
        )
    crawler.engine.close_spider_async.assert_called_once_with(reason="banned")
    assert "ban signal" in caplog.text


def test_ordinary_responses_pass() -> None:
    resp = _resp(200, '{"ok": 1, "data": {"url": "x"}}')
    assert not is_captcha(resp)
    assert BanDetectionMiddleware(MagicMock()).process_response(Request(resp.url), resp) is resp
