"""What the Weibo spider needs to know about the store and its own unfinished work.

``stored_posts`` reads the counts of posts already stored, so that a re-run fetches comments and
reposts only where they grew. ``PendingCounts`` makes that comparison crash-safe: a post whose
comments or reposts are being fetched is first yielded *without* its counts, and its counts
follow only after the last page of those lists was yielded. The store commits items in the
order they were yielded, so stored counts always mean "the comments and reposts up to these
counts are stored too"; a crawl killed in between leaves the old counts and the next run
fetches them again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from crawlers.models import Post

logger = logging.getLogger(__name__)

Item = dict[str, Any]
#: item fields the follow-up lists complete: left out of a post item until they are stored
COUNT_FIELDS = ("comments_count", "reposts_count")
#: item fields a complete long text holds: left out when a truncated copy would overwrite it
TEXT_FIELDS = ("text", "text_plain", "truncated", "topics", "mentions")
CHUNK = 500


@dataclass(frozen=True)
class Stored:
    """What the store holds of one post."""

    comments_count: int | None
    reposts_count: int | None
    truncated: bool


def stored_posts(engine: Engine | None, platform: str, ids: list[str]) -> dict[str, Stored]:
    """``{platform_id: Stored}`` of the posts among ``ids`` that the store holds."""
    if engine is None or not ids:
        return {}
    found: dict[str, Stored] = {}
    with Session(engine) as session:
        for start in range(0, len(ids), CHUNK):
            stmt = select(
                Post.platform_id, Post.comments_count, Post.reposts_count, Post.truncated
            ).where(
                Post.platform == platform, col(Post.platform_id).in_(ids[start : start + CHUNK])
            )
            for pid, comments, reposts, truncated in session.exec(stmt):
                found[pid] = Stored(comments, reposts, bool(truncated))
    return found


def grew(stored: int | None, now: int | None) -> bool:
    """Whether a count says there is more to fetch than what is stored."""
    return stored is None or now is None or now > stored


def without(item: Item, fields: tuple[str, ...]) -> Item:
    return {k: v for k, v in item.items() if k not in fields}


class PendingCounts:
    """Post counts held back until the follow-up lists they describe are all yielded."""

    def __init__(self) -> None:
        self._waiting: dict[str, tuple[Item, int]] = {}

    def hold(self, post: Item, chains: int) -> None:
        """Hold ``post``'s counts until ``chains`` follow-up lists end cleanly."""
        counts = {k: post[k] for k in COUNT_FIELDS if k in post}
        keys = ("item_type", "platform", "platform_id", "kind", "author_id")
        self._waiting[post["platform_id"]] = (
            {k: post[k] for k in keys if k in post} | counts,
            chains,
        )

    def done(self, pid: str) -> Item | None:
        """One follow-up list of ``pid`` ended cleanly; the counts item once all have."""
        entry = self._waiting.pop(pid, None)
        if entry is None:
            return None
        counts, left = entry
        if left > 1:
            self._waiting[pid] = (counts, left - 1)
            return None
        return counts

    def __len__(self) -> int:
        return len(self._waiting)
