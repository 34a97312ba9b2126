"""Item pipelines, one step per class: validate -> dedup -> store -> mentions.

Spiders yield dicts with an ``item_type``; ``ValidatePipeline`` turns them into ``*In`` models,
and the later steps work on those. Which fields an item *set* matters: the store updates only
those on a conflict, so an account seen inside a post (no ``profile_tags``) never erases the
tags its INFO page gave, and a ``None`` count never erases a known one.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from typing import Any, cast

from pydantic import ValidationError
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, SQLModel, col, select

from crawlers.bundles import bundle, is_bundle
from crawlers.config import Settings
from crawlers.models import (
    ITEM_MODELS,
    Account,
    AccountIn,
    Interaction,
    InteractionIn,
    PostIn,
    utcnow,
)
from crawlers.settings import SETTINGS_KEY
from crawlers.store import open_store, upsert

logger = logging.getLogger(__name__)

#: item type of each ``*In`` model
TYPE_OF: dict[type[SQLModel], str] = {spec[0]: name for name, spec in ITEM_MODELS.items()}


def _stats(crawler: Crawler | None, key: str, n: int = 1) -> None:
    if crawler is not None and crawler.stats is not None:
        crawler.stats.inc_value(f"tingfeng/{key}", n)


def natural_key(obj: SQLModel) -> tuple[Any, ...]:
    """``(item_type, *natural key values)`` of a validated item."""
    item_type = TYPE_OF[type(obj)]
    return (item_type, *(getattr(obj, k) for k in ITEM_MODELS[item_type][2]))


class _Step:
    """A pipeline step that may count into the crawl's stats. ``one`` handles one row; a
    bundle (``crawlers.bundles``) is handled row by row, a dropped row leaving the others."""

    def __init__(self, crawler: Crawler | None = None) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Any:
        return cls(crawler)

    def count(self, key: str, n: int = 1) -> None:
        _stats(self.crawler, key, n)

    def process_item(self, item: Any, spider: Any = None) -> Any:
        if not is_bundle(item):
            return self.one(item)
        kept = []
        for row in item["items"]:
            try:
                kept.append(self.one(row))
            except DropItem:
                continue  # counted and logged by ``one``
        return bundle(kept)

    def one(self, item: Any) -> Any:
        raise NotImplementedError


class ValidatePipeline(_Step):
    """dict -> ``*In`` model; an unknown type or invalid item is dropped and logged."""

    def one(self, item: Any) -> SQLModel:
        if isinstance(item, SQLModel) and type(item) in TYPE_OF:
            return item
        fields = dict(item)
        spec = ITEM_MODELS.get(fields.pop("item_type", None))
        if spec is None:
            self.count("dropped")
            raise DropItem(f"unknown item_type in {sorted(item)}")
        try:
            return spec[0].model_validate(fields)
        except ValidationError as exc:
            self.count("dropped")
            logger.warning("invalid %s item dropped: %s", item.get("item_type"), exc.errors()[:3])
            raise DropItem(f"invalid {item.get('item_type')} item") from exc


class DedupPipeline(_Step):
    """Drops an item already seen in this crawl (same natural key *and* same fields set).

    The fields-set part keeps an account's INFO-page item (tags) after the same account was
    seen inside a post, and a long-text update after the post it completes.
    """

    def __init__(self, crawler: Crawler | None = None) -> None:
        super().__init__(crawler)
        self.seen: set[tuple[Any, ...]] = set()

    def one(self, item: SQLModel) -> SQLModel:
        key = (*natural_key(item), frozenset(item.model_fields_set))
        if key in self.seen:
            self.count("duplicates")
            raise DropItem(f"duplicate {key[:3]}", log_level="DEBUG")
        self.seen.add(key)
        return item


def _row(obj: SQLModel, keys: tuple[str, ...]) -> tuple[tuple[str, ...], dict[str, Any]]:
    """(columns to update on conflict, full row to insert) of a validated item."""
    row = obj.model_dump()
    update = tuple(sorted(f for f in obj.model_fields_set if f not in keys))
    if isinstance(obj, ITEM_MODELS["account"][0]):
        row["updated_at"] = utcnow()
        update += ("updated_at",)
    return update, row


class _StoreStep(_Step):
    """A step that writes to the store: opens its own engine from the settings when the crawl
    starts (tests pass an engine instead) and disposes of it at the end."""

    def __init__(
        self,
        crawler: Crawler | None = None,
        engine: Engine | None = None,
        settings: Settings | None = None,
    ) -> None:
        super().__init__(crawler)
        self.settings = settings
        self.engine = engine

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Any:
        return cls(crawler, settings=crawler.settings[SETTINGS_KEY])

    def open_spider(self, spider: Any = None) -> None:
        if self.engine is None and self.settings is not None:
            self.engine = open_store(self.settings)

    def dispose(self) -> None:
        # only an engine this step opened itself
        if self.engine is not None and self.settings is not None:
            self.engine.dispose()


class StorePipeline(_StoreStep):
    """Buffers items and upserts them in batches, one transaction per batch.

    A batch that fails is rolled back whole (logged at ERROR, counted as ``store_failed``):
    the database never holds half of a batch.
    """

    batch_size = 500

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.buffer: list[SQLModel] = []
        self.stored: Counter[str] = Counter()
        self.mentions = MentionResolver()

    def one(self, item: SQLModel) -> SQLModel:
        self.buffer.append(item)
        if len(self.buffer) >= self.batch_size:
            self.flush()
        return item

    def close_spider(self, spider: Any = None) -> None:
        self.flush()
        unresolved = len(self.mentions.pending)
        if unresolved:
            self.count("mentions_unresolved", unresolved)
            logger.info("%d mentions name no known account; skipped", unresolved)
        self.dispose()

    def flush(self) -> int:
        """Write the buffer in one transaction; returns the rows written (0 on failure)."""
        batch, self.buffer = self.buffer, []
        if not batch or self.engine is None:
            return 0
        groups: dict[tuple[str, tuple[str, ...]], list[dict[str, Any]]] = defaultdict(list)
        for obj in batch:
            update, row = _row(obj, ITEM_MODELS[TYPE_OF[type(obj)]][2])
            groups[(TYPE_OF[type(obj)], update)].append(row)
            self.mentions.observe(obj)
        waiting = list(self.mentions.pending)
        try:
            with Session(self.engine) as session, session.begin():
                for (item_type, update), rows in groups.items():
                    _, table, keys = ITEM_MODELS[item_type]
                    upsert(session, table, rows, keys, update=update)
                mentions = self.mentions.store(session)
        except SQLAlchemyError as exc:
            self.mentions.pending = waiting  # rolled back: nothing of this batch was stored
            self.count("store_failed", len(batch))
            logger.error("a batch of %d items was not stored (rolled back): %s", len(batch), exc)
            return 0
        for (item_type, _), rows in groups.items():
            self.stored[item_type] += len(rows)
            self.count(f"stored/{item_type}", len(rows))
        if mentions:
            self.count("mentions", mentions)
        return len(batch)


#: platforms whose posts mention users by screen name (resolved here); Mastodon's spider
#: yields mention edges with account ids itself
NAME_MENTIONS = frozenset({"weibo"})

Mention = tuple[str, str, str, str, Any]  # platform, author id, mentioned name, post id, time


class MentionResolver:
    """``@name`` mentions of stored posts -> ``mention`` interactions (author -> mentioned uid).

    Used by ``StorePipeline`` inside each batch's transaction, so a post and its mention edges
    commit together (a crash between them cannot lose the edges). Names resolve through the
    accounts seen in this crawl, then the Account table; a name still unknown waits for later
    batches and is counted as unresolved at the end.
    """

    def __init__(self) -> None:
        self.names: dict[tuple[str, str], str] = {}
        self.pending: list[Mention] = []

    def observe(self, item: SQLModel) -> None:
        kind = TYPE_OF.get(type(item))
        if kind == "account":
            account = cast(AccountIn, item)  # TYPE_OF maps exactly AccountIn to "account"
            if account.name:
                self.names[(account.platform, account.name)] = account.platform_id
        elif kind == "post" and cast(PostIn, item).platform in NAME_MENTIONS:
            post = cast(PostIn, item)  # TYPE_OF maps exactly PostIn to "post"
            for name in post.mentions or []:
                self.pending.append(
                    (post.platform, post.author_id, name, post.platform_id, post.created_at)
                )

    def store(self, session: Session) -> int:
        """Upsert the edges whose names resolve; the rest stay pending. Returns edges written."""
        if not self.pending:
            return 0
        uids = self._lookup(session)
        resolved = [m for m in self.pending if (m[0], m[2]) in uids]
        rows = [
            InteractionIn(
                platform=p,
                kind="mention",
                src_id=src,
                dst_id=uids[(p, name)],
                post_id=pid,
                created_at=at,
            ).model_dump()
            for p, src, name, pid, at in resolved
        ]
        upsert(session, Interaction, rows, ITEM_MODELS["interaction"][2], update=("created_at",))
        self.pending = [m for m in self.pending if (m[0], m[2]) not in uids]
        return len(rows)

    def _lookup(self, session: Session) -> dict[tuple[str, str], str]:
        uids = dict(self.names)
        wanted = {(p, n) for p, _, n, _, _ in self.pending} - set(uids)
        by_platform: dict[str, set[str]] = defaultdict(set)
        for p, n in wanted:
            by_platform[p].add(n)
        for platform, names in by_platform.items():
            ordered = sorted(names)
            for start in range(0, len(ordered), 500):
                stmt = select(Account.name, Account.platform_id).where(
                    Account.platform == platform,
                    col(Account.name).in_(ordered[start : start + 500]),
                )
                for name, uid in session.exec(stmt):
                    uids[(platform, name)] = uid
        return uids
