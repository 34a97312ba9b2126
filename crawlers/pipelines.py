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
from sqlmodel import Session, SQLModel, col, func, select

from crawlers.bundles import bundle, is_bundle
from crawlers.config import Settings
from crawlers.models import (
    ITEM_MODELS,
    Account,
    Interaction,
    InteractionIn,
    PendingMention,
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
        if self.engine is not None:
            with Session(self.engine) as session:
                unresolved = self.mentions.waiting(session)
            if unresolved:
                self.count("mentions_unresolved", unresolved)
                logger.info(
                    "%d mentions name no known account yet; kept until one is stored", unresolved
                )
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
        queued = list(self.mentions.pending)
        try:
            with Session(self.engine) as session, session.begin():
                for (item_type, update), rows in groups.items():
                    _, table, keys = ITEM_MODELS[item_type]
                    upsert(session, table, rows, keys, update=update)
                mentions = self.mentions.store(session)
        except SQLAlchemyError as exc:
            self.mentions.pending = queued  # rolled back: nothing of this batch was stored
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


class MentionResolver:
    """``@name`` mentions of stored posts -> ``mention`` interactions (author -> mentioned uid).

    Used by ``StorePipeline`` inside each batch's transaction, so a post and its mention edges
    commit together (a crash between them cannot lose the edges). Mentions wait in the
    ``PendingMention`` table until an account of that name is stored - by this crawl, another
    worker of a distributed crawl, or a later crawl - and every batch resolves what it can.
    """

    def __init__(self) -> None:
        self.pending: list[dict[str, Any]] = []

    def observe(self, item: SQLModel) -> None:
        if TYPE_OF.get(type(item)) == "post" and cast(PostIn, item).platform in NAME_MENTIONS:
            post = cast(PostIn, item)  # TYPE_OF maps exactly PostIn to "post"
            self.pending += [
                {
                    "platform": post.platform,
                    "src_id": post.author_id,
                    "name": name,
                    "post_id": post.platform_id,
                    "created_at": post.created_at,
                }
                for name in post.mentions or []
            ]

    def store(self, session: Session) -> int:
        """Queue this batch's mentions, resolve every queued one whose account is now stored.
        Returns the mention edges written."""
        keys = ("platform", "post_id", "name")
        upsert(session, PendingMention, self.pending, keys, update=())
        self.pending = []
        found = session.exec(
            select(PendingMention, Account.platform_id).join(
                Account,
                (col(Account.platform) == col(PendingMention.platform))
                & (col(Account.name) == col(PendingMention.name)),
            )
        ).all()
        rows = [
            InteractionIn(
                platform=m.platform,
                kind="mention",
                src_id=m.src_id,
                dst_id=uid,
                post_id=m.post_id,
                created_at=m.created_at,
            ).model_dump()
            for m, uid in found
        ]
        upsert(session, Interaction, rows, ITEM_MODELS["interaction"][2], update=("created_at",))
        for m, _ in found:
            session.delete(m)
        return len(rows)

    def waiting(self, session: Session) -> int:
        """Mentions in the store still waiting for their account."""
        return int(session.exec(select(func.count()).select_from(PendingMention)).one())
