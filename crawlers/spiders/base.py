"""What every tingfeng spider shares: targets, per-target ``CrawlRun`` bookkeeping, JSON bodies.

A spider declares its targets (``Target``: a key such as ``"topic:咖啡探店"`` and the campaigns
that asked for it); every request carries its target key in ``meta["target"]`` so that pages,
items, errors and truncation notes land on the right ``CrawlRun`` row. Rows are inserted when
the spider opens (status ``running``) and completed when it closes (``finished``).
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import scrapy
from scrapy.crawler import Crawler
from scrapy.http import Response
from sqlalchemy.engine import Engine
from sqlmodel import Session

from crawlers.config import Settings
from crawlers.errors import CrawlError
from crawlers.models import CrawlRun, utcnow
from crawlers.settings import SETTINGS_KEY
from crawlers.store import open_store

logger = logging.getLogger(__name__)

#: truncation notes kept per CrawlRun row (the rest are counted in the last note)
MAX_NOTES = 20


@dataclass
class Target:
    """One thing a campaign asked to collect, with its running tallies."""

    key: str
    campaigns: list[str]
    pages: int = 0
    items: int = 0
    errors: int = 0
    notes: Counter[str] = field(default_factory=Counter)
    run_id: int | None = None

    def truncated(self) -> list[str]:
        notes = [f"{note} (x{n})" if n > 1 else note for note, n in self.notes.most_common()]
        if len(notes) > MAX_NOTES:
            notes = notes[: MAX_NOTES - 1] + [f"... {len(notes) - MAX_NOTES + 1} more"]
        return notes


class RunBook:
    """The CrawlRun rows of one crawl, one per target."""

    def __init__(self, platform: str, spider: str) -> None:
        self.platform = platform
        self.spider = spider
        self.targets: dict[str, Target] = {}

    def add(self, key: str, campaign: str) -> Target:
        target = self.targets.setdefault(key, Target(key, []))
        if campaign not in target.campaigns:
            target.campaigns.append(campaign)
        return target

    def get(self, key: str | None) -> Target | None:
        return self.targets.get(key) if key else None

    def open(self, engine: Engine) -> None:
        rows = {key: self._row(t) for key, t in self.targets.items()}
        with Session(engine) as session:
            session.add_all(rows.values())
            session.commit()
            for key, row in rows.items():
                self.targets[key].run_id = row.id

    def close(self, engine: Engine, status: str) -> None:
        with Session(engine) as session:
            for target in self.targets.values():
                row = session.get(CrawlRun, target.run_id) if target.run_id else None
                row = row or self._row(target)
                row.pages, row.items, row.errors = target.pages, target.items, target.errors
                row.truncated = target.truncated()
                row.status, row.finished_at = status, utcnow()
                session.add(row)
            session.commit()

    def _row(self, target: Target) -> CrawlRun:
        return CrawlRun(
            platform=self.platform,
            spider=self.spider,
            target=target.key,
            campaign=",".join(target.campaigns),
        )


class BaseSpider(scrapy.Spider):
    """A spider built from the ``Settings`` object, keeping a ``RunBook`` of its targets."""

    platform = ""

    def __init__(
        self, settings: Settings, campaigns: list[str] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.tf_settings = settings
        unknown = sorted(set(campaigns or []) - set(settings.campaigns))
        if unknown:
            raise CrawlError(
                f"unknown campaign(s) {', '.join(unknown)}; known: "
                f"{', '.join(sorted(settings.campaigns)) or 'none'} (see [campaigns.*])"
            )
        self.campaign_names = list(campaigns) if campaigns else sorted(settings.campaigns)
        self.runbook = RunBook(self.platform, self.name or "")
        self.engine: Engine | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> BaseSpider:
        kwargs.setdefault("settings", crawler.settings[SETTINGS_KEY])
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider._opened, signal=scrapy.signals.spider_opened)
        crawler.signals.connect(spider._closed, signal=scrapy.signals.spider_closed)
        return spider  # type: ignore[no-any-return]

    def _opened(self, spider: scrapy.Spider) -> None:
        self.engine = open_store(self.tf_settings)
        self.runbook.open(self.engine)

    def _closed(self, spider: scrapy.Spider, reason: str) -> None:
        if self.engine is None:
            return
        status = "finished" if reason == "finished" else "interrupted"
        self.runbook.close(self.engine, status)
        self.engine.dispose()

    # --- tallies -----------------------------------------------------------------------------

    def _inc(self, key: str, n: int = 1) -> None:
        crawler = getattr(self, "crawler", None)
        if crawler is not None and crawler.stats is not None:
            crawler.stats.inc_value(f"tingfeng/{key}", n)

    def count_page(self, response: Response) -> None:
        target = self.runbook.get(response.meta.get("target"))
        if target:
            target.pages += 1
        self._inc("pages")

    def count_items(self, response: Response, n: int) -> None:
        target = self.runbook.get(response.meta.get("target"))
        if target:
            target.items += n

    def count_error(self, url: str, target_key: str | None, what: str) -> None:
        logger.warning("skipped %s at %s", what, url)
        target = self.runbook.get(target_key)
        if target:
            target.errors += 1
        self._inc("errors")

    def note(self, response: Response, text: str) -> None:
        target = self.runbook.get(response.meta.get("target"))
        if target:
            target.notes[text] += 1

    def load_json(self, response: Response) -> Any:
        """The decoded body, or None (logged, counted) when it is not JSON."""
        try:
            return json.loads(response.text)
        except (ValueError, AttributeError) as exc:
            self.count_error(
                response.url, response.meta.get("target"), f"a body that is not JSON ({exc})"
            )
            return None

    def on_error(self, failure: Any) -> None:
        """Errback: a request that failed for good (after retries) counts as an error."""
        request = failure.request
        self.count_error(
            request.url, request.meta.get("target"), f"a failed request ({failure.value!r})"
        )
