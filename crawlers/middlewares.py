"""Downloader middlewares: the login cookie, and the seam for ban detection.

``BanDetectionMiddleware`` recognises the ban signals of docs/weibo-api.md (HTTP 418, 432, 403;
a captcha JSON with ``url`` and no ``data``), logs an ERROR and closes the spider. Pausing the
source, Retry-After back-off and budgets come in a later issue.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request, Response
from scrapy.utils.defer import deferred_from_coro

from crawlers.settings import SETTINGS_KEY

logger = logging.getLogger(__name__)

BAN_STATUSES = frozenset({403, 418, 432})
#: a captcha page is small; bigger bodies are not inspected
CAPTCHA_MAX_BYTES = 4096


class CookieHeaderMiddleware:
    """Sends ``TINGFENG_WEIBO_COOKIE`` as the Cookie header, only when it is set."""

    def __init__(self, cookie: str | None) -> None:
        self.cookie = cookie

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CookieHeaderMiddleware:
        secret = crawler.settings[SETTINGS_KEY].secrets.weibo_cookie
        return cls(secret.get_secret_value() if secret else None)

    def process_request(self, request: Request, spider: Any = None) -> None:
        if self.cookie and b"Cookie" not in request.headers:
            request.headers[b"Cookie"] = self.cookie.encode("utf-8")


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


class BanDetectionMiddleware:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> BanDetectionMiddleware:
        return cls(crawler)

    def process_response(
        self, request: Request, response: Response, spider: Any = None
    ) -> Response:
        if response.status in BAN_STATUSES or is_captcha(response):
            signal = (
                f"HTTP {response.status}" if response.status in BAN_STATUSES else "a captcha page"
            )
            logger.error("ban signal (%s) at %s: closing the crawl", signal, request.url)
            if self.crawler.stats is not None:
                self.crawler.stats.inc_value("tingfeng/ban_signals")
            if self.crawler.engine is not None:
                deferred_from_coro(self.crawler.engine.close_spider_async(reason="banned"))
            raise IgnoreRequest(f"ban signal at {request.url}")
        return response
