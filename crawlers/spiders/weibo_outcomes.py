"""What the Weibo spider crawls again so that ``bot.outcomes`` can see how our actions did.

* **Our own accounts** (``campaigns.X.own_accounts``): their newest fans, up to
  ``OWN_FAN_PAGES`` pages (or ``[crawl] fan_pages`` if larger) - a follow-back is a new
  ``follow`` interaction from the target to one of them.
* **Posts we answered**: every reply or repost-with-comment sent within ``[bot] outcome_days``
  has its post's comments (hot order: ours may sit on a later page, so up to
  ``OUTCOME_PAGES`` pages) and reposts fetched again on every crawl, whatever the post's counts
  say, so the likes and replies under our comment keep being collected.

Both are plain upserts: a re-crawl updates counts and adds nothing twice.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from crawlers.models import Draft, Post, utcnow

#: pages of our own accounts' fans read per crawl (newest first: follow-backs come on top)
OWN_FAN_PAGES = 10
#: comment pages of a post we answered (hot order puts a new comment with few likes low)
OUTCOME_PAGES = 10
#: draft kinds whose text becomes a comment or repost under ``target_post``
TEXT_KINDS = ("reply", "repost")


@dataclass(frozen=True)
class Answered:
    """A post we commented on or reposted, as the spider's follow-up requests need it."""

    campaign: str
    id: str
    author: str
    root: str
    kind: str
    replied: bool
    reposted: bool


def _utc(when: datetime) -> datetime:
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def answered_posts(
    engine: Engine | None,
    platform: str,
    campaigns: Iterable[str],
    days: int,
    now: datetime | None = None,
) -> list[Answered]:
    """Posts of ``campaigns`` we replied to or reposted within ``days`` before ``now``, each
    once (its first campaign), oldest send first."""
    wanted = list(campaigns)
    if engine is None or days <= 0 or not wanted:
        return []
    since = (now or utcnow()) - timedelta(days=days)
    stmt = (
        select(Draft.campaign, Draft.kind, Draft.target_account, Draft.target_post, Draft.sent_at)  # type: ignore[call-overload]
        .where(
            Draft.platform == platform,
            Draft.status == "sent",
            col(Draft.kind).in_(TEXT_KINDS),
            col(Draft.campaign).in_(wanted),
            col(Draft.target_post).is_not(None),
        )
        .order_by(col(Draft.sent_at), col(Draft.id))
    )
    with Session(engine) as session:
        rows = [r for r in session.exec(stmt) if r[4] is not None and _utc(r[4]) >= since]
        stored = _stored(session, platform, sorted({r[3] for r in rows}))
        # a reply to a comment lands in the comments of the post the comment is under
        roots = sorted({s[1] for s in stored.values() if s[2] == "comment" and s[1]} - set(stored))
        stored |= _stored(session, platform, roots)
    found: dict[str, Answered] = {}
    for campaign, kind, author, pid, _ in rows:
        author, root, post_kind = stored.get(pid, (author, None, "post"))
        if post_kind == "comment" and root:
            pid = root
            author, root, post_kind = stored.get(root, ("", None, "post"))
            if not author:  # the post it is under is not stored: nothing to ask for
                continue
        held = found.get(pid)
        replied = kind == "reply" or (held is not None and held.replied)
        reposted = kind == "repost" or (held is not None and held.reposted)
        found[pid] = Answered(
            held.campaign if held else campaign, pid, author, root or pid, post_kind, replied,
            reposted,
        )  # fmt: skip
    return list(found.values())


def _stored(
    session: Session, platform: str, ids: list[str]
) -> dict[str, tuple[str, str | None, str]]:
    """platform id -> (author, root id, kind) of the stored posts among ``ids``."""
    stmt = select(Post.platform_id, Post.author_id, Post.root_id, Post.kind).where(
        Post.platform == platform, col(Post.platform_id).in_(ids)
    )
    return {pid: (author, root, kind) for pid, author, root, kind in session.exec(stmt)}
