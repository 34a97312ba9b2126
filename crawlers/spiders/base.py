"""What every tingfeng spider shares: targets, per-target ``CrawlRun`` bookkeeping, JSON bodies.

A spider declares its targets (``Target``: a key such as ``"topic:咖啡探店"`` and the campaigns
that asked for it); every request carries its target key in ``meta["target"]`` so that pages,
items, errors and truncation notes land on the right ``CrawlRun`` row. Rows are inserted when
the spider opens (status ``running``) and completed when it closes (``finished``).

Resume: a row still ``running`` whose process (``cursor["owner"]``: host and pid) is gone was
left by a crash (kill -9, power loss) and is marked ``interrupted`` when the next crawl opens.

Incremental state: ``cursor["lists"]`` holds, per list of a target, the newest post id seen.
It is written only when a crawl closes ``finished`` with no error on that target and no failed
store batch. The item pipelines have flushed by then (Scrapy closes them before it sends
``spider_closed``), so a cursor never points past what is stored: a crawl killed before its
items were committed leaves the old cursor, and the next run reads that stretch again.
"""

from __future__ import annotations

import json
import logging
import os
import socket
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, NoReturn

import scrapy
from scrapy.crawler import Crawler
from scrapy.exceptions import CloseSpider
from scrapy.http import Response
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

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
    #: ``cursor["lists"]`` of the last run that could advance it: ``{list: {"id": ...}}``
    previous: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: newest post id seen this run per newest-first list
    newest: dict[str, int] = field(default_factory=dict)
    #: pages read this run per list (``cursor["read"]``: which lists a run read)
    read: Counter[str] = field(default_factory=Counter)

    def last_seen(self, name: str) -> int | None:
        """The newest post id a previous complete run stored for list ``name``."""
        value = self.previous.get(name, {}).get("id")
        return int(value) if isinstance(value, str) and value.isdigit() else None

    def saw(self, name: str, post_id: int) -> None:
        self.newest[name] = max(self.newest.get(name, 0), post_id)

    def cursor(self, advance: bool) -> dict[str, Any]:
        """The cursor to store: the lists moved forward only when ``advance``."""
        out: dict[str, Any] = {"read": dict(self.read)}
        if advance:
            lists = {k: dict(v) for k, v in self.previous.items()}
            for name, newest in self.newest.items():
                if newest > (self.last_seen(name) or 0):
                    lists[name] = {"id": str(newest)}
            out["lists"] = lists
        return out

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
        """Mark runs left by dead processes, load the last cursors, insert this run's rows."""
        with Session(engine) as session:
            mark_dead_runs(session)
            for key, lists in self._last_cursors(session).items():
                self.targets[key].previous = lists
            rows = {key: self._row(t) for key, t in self.targets.items()}
            for row in rows.values():
                row.cursor = {"owner": owner()}
            session.add_all(rows.values())
            session.commit()
            for key, row in rows.items():
                self.targets[key].run_id = row.id

    def _last_cursors(self, session: Session) -> dict[str, dict[str, Any]]:
        """``cursor["lists"]`` of the newest finished run of each target that has one."""
        stmt = (
            select(CrawlRun)
            .where(
                CrawlRun.platform == self.platform,
                CrawlRun.spider == self.spider,
                CrawlRun.status == "finished",
                col(CrawlRun.target).in_(list(self.targets)),
            )
            .order_by(col(CrawlRun.id).desc())
        )
        found: dict[str, dict[str, Any]] = {}
        for row in session.exec(stmt):
            lists = (row.cursor or {}).get("lists")
            if isinstance(lists, dict) and row.target not in found:
                found[row.target] = lists
        return found

    def close(self, engine: Engine, status: str, store_ok: bool = True) -> None:
        """Complete the rows; a target's cursor advances only after a clean, complete run."""
        with Session(engine) as session:
            for target in self.targets.values():
                row = session.get(CrawlRun, target.run_id) if target.run_id else None
                row = row or self._row(target)
                row.pages, row.items, row.errors = target.pages, target.items, target.errors
                row.truncated = target.truncated()
                advance = status == "finished" and store_ok and target.errors == 0
                row.cursor = target.cursor(advance)
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


def owner() -> dict[str, Any]:
    """Who runs a crawl: enough to tell later whether that process is still alive."""
    return {"host": socket.gethostname(), "pid": os.getpid()}


def process_alive(pid: int) -> bool:
    """Whether ``pid`` names a live process on this host (a zombie counts as dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            return stat.read().rpartition(")")[2].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def mark_dead_runs(session: Session) -> int:
    """Rows left ``running`` by a dead process on this host become ``interrupted``.

    Rows of other hosts are left alone: their processes cannot be checked from here (a worker
    of a distributed crawl may still be running them). Returns how many rows were marked.
    """
    host, marked = socket.gethostname(), 0
    for row in session.exec(select(CrawlRun).where(CrawlRun.status == "running")):
        who = (row.cursor or {}).get("owner") or {}
        pid = who.get("pid")
        if who.get("host") != host or not isinstance(pid, int) or process_alive(pid):
            continue
        row.status, row.finished_at = "interrupted", row.finished_at or utcnow()
        session.add(row)
        marked += 1
    if marked:
        logger.warning("%d crawl run(s) left running by a dead process marked interrupted", marked)
    return marked


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
        #: why the crawl had to stop early; ``crawlers.crawl.run_crawl`` raises it after the crawl
        self.fatal: CrawlError | None = None

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
        if self.fatal is not None:
            status = "failed"
        self.runbook.close(self.engine, status, store_ok=self._stat("store_failed") == 0)
        self.engine.dispose()

    def stop(self, error: CrawlError, reason: str) -> NoReturn:
        """End the crawl now because of ``error`` (the CLI reports it and exits with its code)."""
        logger.error("%s", error)
        self.fatal = error
        raise CloseSpider(reason)

    # --- tallies -----------------------------------------------------------------------------

    def _inc(self, key: str, n: int = 1) -> None:
        crawler = getattr(self, "crawler", None)
        if crawler is not None and crawler.stats is not None:
            crawler.stats.inc_value(f"tingfeng/{key}", n)

    def _stat(self, key: str) -> int:
        crawler = getattr(self, "crawler", None)
        if crawler is None or crawler.stats is None:
            return 0
        return int(crawler.stats.get_value(f"tingfeng/{key}", 0))

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
