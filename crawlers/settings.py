"""Scrapy settings derived from the typed ``Settings`` (the only place they are decided)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from crawlers.config import Settings
from crawlers.errors import CrawlError

SETTINGS_KEY = "TINGFENG_SETTINGS"

#: 16 MiB: no JSON page of m.weibo.cn comes close; a bigger body is a fault, not data
MAX_BODY = 16 * 1024 * 1024

ITEM_PIPELINES = {
    "crawlers.pipelines.ValidatePipeline": 100,
    "crawlers.pipelines.DedupPipeline": 200,
    "crawlers.pipelines.StorePipeline": 300,
}

#: order and reasons: crawlers/middlewares.py's docstring
DOWNLOADER_MIDDLEWARES = {
    "crawlers.middlewares.SourcePauseMiddleware": 50,
    "crawlers.middlewares.CookieHeaderMiddleware": 540,
    "crawlers.middlewares.RetryAfterMiddleware": 570,
    "crawlers.middlewares.BanDetectionMiddleware": 575,
    "crawlers.middlewares.ProxyRotationMiddleware": 585,
    "crawlers.middlewares.BudgetMiddleware": 595,
}


def proxy_list(settings: Settings) -> list[str]:
    """The proxies of ``TINGFENG_PROXIES`` (comma-separated http(s):// URLs, credentials
    allowed). Raises ``CrawlError`` naming the bad entry by position, never by its text."""
    secret = settings.secrets.proxies
    entries = [p.strip() for p in (secret.get_secret_value() if secret else "").split(",")]
    proxies = [p for p in entries if p]
    for n, proxy in enumerate(proxies, 1):
        parts = urlsplit(proxy)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise CrawlError(
                f"TINGFENG_PROXIES entry {n} is not an http:// or https:// proxy URL "
                "(expected e.g. http://user:password@proxy.example:8080, comma-separated)"
            )
    return proxies


def scrapy_settings(settings: Settings) -> dict[str, Any]:
    """The Scrapy settings of a crawl. Secrets are not among them: the middlewares read the
    cookie and the proxies from the ``Settings`` object, so Scrapy never logs them. Raises
    ``CrawlError`` when ``TINGFENG_PROXIES`` is malformed (before any request is made)."""
    proxy_list(settings)
    crawl = settings.crawl
    return {
        SETTINGS_KEY: settings,
        "BOT_NAME": "tingfeng",
        "ROBOTSTXT_OBEY": crawl.obey_robots,
        "USER_AGENT": crawl.user_agent,
        "DOWNLOAD_DELAY": crawl.download_delay,
        "AUTOTHROTTLE_ENABLED": crawl.autothrottle,
        "AUTOTHROTTLE_START_DELAY": max(crawl.download_delay, 0.1) if crawl.autothrottle else 5.0,
        "AUTOTHROTTLE_TARGET_CONCURRENCY": crawl.autothrottle_target_concurrency,
        "CONCURRENT_REQUESTS_PER_DOMAIN": crawl.concurrent_requests_per_domain,
        # A spider crawls one platform: a larger global limit only parks requests in the domain
        # slot's queue, where Scrapy 2.19 serves them ~60 ms apart instead of ~5 (measured with
        # bench/crawl.py against the sandbox), and keeps no more politeness.
        "CONCURRENT_REQUESTS": crawl.concurrent_requests_per_domain,
        # Items go through synchronous pipelines, so parallel item processing buys nothing, while
        # Scrapy 2.19 starts CONCURRENT_ITEMS asyncio workers per response (100 by default: ~70%
        # of the crawl's CPU in bench/crawl.py). One keeps items in the order the spider yields
        # them, which the incremental counts rely on.
        "CONCURRENT_ITEMS": 1,
        "DOWNLOAD_TIMEOUT": crawl.download_timeout,
        "RETRY_TIMES": crawl.retry_times,
        "LOG_LEVEL": crawl.log_level,
        "DOWNLOAD_MAXSIZE": MAX_BODY,
        "DOWNLOAD_WARNSIZE": MAX_BODY // 4,
        # only http(s): a crawl never reads local files or data: URLs
        "DOWNLOAD_HANDLERS": {"file": None, "data": None, "s3": None, "ftp": None},
        # certificates checked against the system's CAs, host names matched (Scrapy 2.19's
        # switch; the older BrowserLikeContextFactory is deprecated and does the same)
        "DOWNLOAD_VERIFY_CERTIFICATES": True,
        "TELNETCONSOLE_ENABLED": False,
        "COOKIES_ENABLED": False,
        "ITEM_PIPELINES": dict(ITEM_PIPELINES),
        # the spider's rows travel the pipelines as one bundle per response (crawlers.bundles)
        "SPIDER_MIDDLEWARES": {"crawlers.bundles.ItemBundleMiddleware": 950},
        "DOWNLOADER_MIDDLEWARES": dict(DOWNLOADER_MIDDLEWARES),
        "DEFAULT_REQUEST_HEADERS": {
            "Accept": "application/json, text/plain, */*",
            "Accept-Language": "zh-CN,zh;q=0.9",
        },
    }
