"""Run a crawl in this process and summarise it: ``run_crawl(settings, campaigns)``.

Twisted's reactor cannot be restarted, so a process runs at most one crawl; the scheduler
calls ``python -m crawlers.crawl --settings PATH [--campaign NAME]`` in a subprocess.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from crawlers.config import Settings, load_settings
from crawlers.errors import CrawlError, TingfengError
from crawlers.store import open_store

logger = logging.getLogger(__name__)

ITEM_TYPES = ("account", "post", "interaction", "group")


def run_crawl(settings: Settings, campaigns: list[str] | None = None) -> dict[str, int]:
    """Crawl the campaigns' targets (all campaigns when None) into the store; returns a summary:
    requests, pages, stored_<type> per item type, mentions, errors, dropped, duplicates."""
    from scrapy.crawler import CrawlerProcess

    from crawlers.settings import scrapy_settings

    if not settings.campaigns:
        raise CrawlError("no campaigns to crawl: add a [campaigns.NAME] table to the settings file")
    # the store first: a crawl that could not store anything must fail here, clearly (exit 3)
    open_store(settings).dispose()
    scrapy = scrapy_settings(settings)
    if settings.distributed.enabled:  # a shared frontier in Redis: docs/distributed.md
        from crawlers.distributed import distributed_settings

        scrapy |= distributed_settings(settings)
    process = CrawlerProcess(_with_logging(scrapy))
    _hold_levels(settings.crawl.log_level)
    crawlers = [process.create_crawler(spider) for spider in spiders_for(settings)]
    for crawler in crawlers:
        process.crawl(crawler, settings=settings, campaigns=campaigns)
    process.start()
    for crawler in crawlers:  # a spider that had to stop (an expired login) says why
        fatal = getattr(crawler.spider, "fatal", None)
        if isinstance(fatal, TingfengError):
            raise fatal
    summaries = [summarize(c.stats.get_stats() if c.stats else {}) for c in crawlers]
    return {key: sum(s[key] for s in summaries) for key in summaries[0]}


def spiders_for(settings: Settings) -> list[type]:
    """The spider classes a crawl runs: Weibo always, Mastodon when ``[mastodon] enabled``."""
    from crawlers.spiders.weibo import WeiboSpider

    spiders: list[type] = [WeiboSpider]
    if settings.mastodon.enabled:
        from crawlers.spiders.mastodon import MastodonSpider

        spiders.append(MastodonSpider)
    return spiders


def _with_logging(scrapy: dict[str, Any]) -> dict[str, Any]:
    # the caller's root handler when there is one (the CLI's), Scrapy's otherwise
    return {**scrapy, "LOG_INSTALL_ROOT_HANDLER": not logging.getLogger().handlers}


def _hold_levels(level: str) -> None:
    # CrawlerProcess resets Scrapy's logger to DEBUG; hold it (and ours) at the configured level
    for name in ("scrapy", "crawlers"):
        logging.getLogger(name).setLevel(level)


def summarize(stats: dict[str, Any]) -> dict[str, int]:
    """The crawl summary of Scrapy's stats (``tingfeng/*`` keys come from spider and pipelines)."""

    def tf(key: str) -> int:
        return int(stats.get(f"tingfeng/{key}", 0))

    summary = {
        "requests": int(stats.get("downloader/request_count", 0)),
        "pages": tf("pages"),
        **{f"stored_{t}": tf(f"stored/{t}") for t in ITEM_TYPES},
        "mentions": tf("mentions"),
        "mentions_unresolved": tf("mentions_unresolved"),
        "errors": tf("errors") + tf("store_failed"),
        "dropped": tf("dropped"),
        "duplicates": tf("duplicates"),
        "ban_signals": tf("ban_signals"),
    }
    reason = stats.get("finish_reason")
    summary["banned"] = int(reason == "banned")
    # why a crawl stopped early, beside a ban: the source was already paused, rate limits,
    # a spent request budget (see `tingfeng alerts`)
    for early in ("paused", "rate_limited", "budget"):
        summary[early] = int(reason == early)
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m crawlers.crawl", description=__doc__)
    parser.add_argument(
        "--settings", default="settings.toml", help="settings file (default: settings.toml)"
    )
    parser.add_argument("--campaign", action="append", help="crawl only this campaign (repeatable)")
    args = parser.parse_args(argv)
    try:
        summary = run_crawl(load_settings(args.settings), args.campaign)
    except TingfengError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    for key, value in summary.items():
        print(f"{key}={value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
