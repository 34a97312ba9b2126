"""The one schema: every table, plus the non-table ``*In`` items that spiders yield.

Each field is declared once, in a ``*Base`` class. The table class extends it with the row id
and bookkeeping columns; the ``*In`` class is what a spider yields and what pipelines validate
(``PostIn.model_validate(item)``). Table classes skip validation in ``__init__``: build rows from
validated ``*In`` objects.

Conventions
-----------
* Natural keys are ``(platform, platform_id)``; references between crawled objects use platform
  ids (``author_id``, ``parent_id``), so items can be stored in any order.
* Every datetime is timezone-aware UTC (SQLModel refuses naive ones).
* Lists and explanations are JSON columns (SQLite JSON1 / PostgreSQL JSON).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import JSON, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

PostKind = Literal["post", "comment", "repost"]
InteractionKind = Literal["repost", "comment", "mention", "follow"]
DraftKind = Literal["follow", "reply", "repost", "group_post"]
DraftStatus = Literal[
    "pending", "approved", "edited", "rejected", "expired", "sending", "sent", "failed", "reconcile",
    "handoff",
]


def utcnow() -> datetime:
    """Timezone-aware UTC now: every datetime tingfeng stores is aware UTC."""
    return datetime.now(UTC)


def _json(default: Any = None) -> Any:
    factory = list if default is None else default
    return Field(default_factory=factory, sa_type=JSON, nullable=False)


# --- accounts -------------------------------------------------------------------------------


class AccountBase(SQLModel):
    platform: str = Field(max_length=32)
    platform_id: str = Field(max_length=64)
    name: str = ""
    handle: str = Field(default="", max_length=255)  # e.g. Mastodon's user@instance
    description: str = Field(default="", sa_type=Text)
    profile_tags: list[str] = _json()
    followers_count: int | None = None
    follows_count: int | None = None
    posts_count: int | None = None
    verified: bool = False
    verified_reason: str = ""
    gender: str = ""
    location: str = ""


class Account(AccountBase, table=True):
    __table_args__ = (UniqueConstraint("platform", "platform_id", name="uq_account_key"),)
    id: int | None = Field(default=None, primary_key=True)
    first_seen: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class AccountIn(AccountBase):
    """A user as a spider saw it. ``None`` counts mean "not in this response" (kept as stored)."""


# --- groups (super-topics) ------------------------------------------------------------------


class GroupBase(SQLModel):
    platform: str = Field(max_length=32)
    platform_id: str = Field(max_length=64)
    name: str = ""
    description: str = ""
    followers_count: int | None = None
    posts_count: int | None = None


class Group(GroupBase, table=True):
    __tablename__ = "grp"
    __table_args__ = (UniqueConstraint("platform", "platform_id", name="uq_group_key"),)
    id: int | None = Field(default=None, primary_key=True)
    first_seen: datetime = Field(default_factory=utcnow)


class GroupIn(GroupBase):
    pass


# --- posts (posts, comments and reposts: everything with text) ------------------------------


class PostBase(SQLModel):
    platform: str = Field(max_length=32)
    platform_id: str = Field(max_length=64)
    kind: str = Field(default="post", max_length=16)  # PostKind
    author_id: str = Field(max_length=64)
    text: str = Field(default="", sa_type=Text)  # as received (may hold HTML)
    text_plain: str = Field(default="", sa_type=Text)  # tags stripped
    created_at: datetime | None = None
    topics: list[str] = _json()
    mentions: list[str] = _json()
    group_id: str | None = Field(default=None, max_length=64)  # super-topic platform id
    parent_id: str | None = Field(default=None, max_length=64)  # commented / reposted post
    root_id: str | None = Field(default=None, max_length=64)  # original post of a repost chain
    reposts_count: int | None = None
    comments_count: int | None = None
    likes_count: int | None = None
    truncated: bool = False  # long text cut by the platform


class Post(PostBase, table=True):
    __table_args__ = (
        UniqueConstraint("platform", "platform_id", name="uq_post_key"),
        Index("ix_post_author", "platform", "author_id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    first_seen: datetime = Field(default_factory=utcnow)


class PostIn(PostBase):
    pass


# --- interactions ---------------------------------------------------------------------------


class InteractionBase(SQLModel):
    """An edge of the interaction graph: ``src`` acted towards ``dst``.

    repost/comment/mention: src is the actor, dst the author (or mentioned user), ``post_id`` the
    post that carries the interaction (the comment, the repost, the mentioning post; on Mastodon
    a boost's edge carries the boosted status, since an account boosts a status once).
    follow: src follows dst; ``post_id`` is "" (empty, not NULL, so the unique key holds).
    """

    platform: str = Field(max_length=32)
    kind: str = Field(max_length=16)  # InteractionKind
    src_id: str = Field(max_length=64)
    dst_id: str = Field(max_length=64)
    post_id: str = Field(default="", max_length=64)
    created_at: datetime | None = None


class Interaction(InteractionBase, table=True):
    __table_args__ = (
        UniqueConstraint(
            "platform", "kind", "src_id", "dst_id", "post_id", name="uq_interaction_key"
        ),
    )
    id: int | None = Field(default=None, primary_key=True)
    first_seen: datetime = Field(default_factory=utcnow)


class InteractionIn(InteractionBase):
    pass


class PendingMention(SQLModel, table=True):
    """An ``@name`` mention whose account is not known yet. Kept in the store, not in a
    crawler's memory, so that whichever process later stores that account (another worker, a
    later crawl) resolves it into a ``mention`` interaction."""

    __table_args__ = (UniqueConstraint("platform", "post_id", "name", name="uq_pending_mention"),)
    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=32)
    src_id: str = Field(max_length=64)
    name: str = Field(max_length=255)
    post_id: str = Field(max_length=64)
    created_at: datetime | None = None


# --- crawl runs -----------------------------------------------------------------------------


class CrawlRun(SQLModel, table=True):
    """One crawl of one target; ``truncated`` says what the platform did not let us see."""

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=32)
    spider: str = Field(max_length=64)
    target: str = Field(max_length=512)  # e.g. "topic:咖啡探店", "tag:咖啡", "supertopic:咖啡"
    campaign: str = ""
    started_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None
    status: str = "running"  # running | finished | failed | interrupted
    pages: int = 0
    items: int = 0
    errors: int = 0
    truncated: list[str] = _json()
    cursor: dict[str, Any] = _json(dict)  # newest id/time seen, for incremental re-runs


# --- politeness: bans, alerts, request budgets ---------------------------------------------


class BanEvent(SQLModel, table=True):
    """A ban signal from a source (418/432/403, a captcha page, a 429): the source pauses.

    ``source`` is what pauses: the platform's host (``m.weibo.cn``), so every target on it waits.
    """

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=255, index=True)
    platform: str = Field(max_length=32)
    kind: str = Field(
        max_length=32
    )  # http_418 | http_432 | http_403 | captcha_json | captcha_html | http_429
    status: int = 0
    url: str = Field(default="", sa_type=Text)
    at: datetime = Field(default_factory=utcnow, index=True)
    paused_until: datetime
    crawl_run_id: int | None = None


class Alert(SQLModel, table=True):
    """Something an operator must see (a ban, later a negative-sentiment spike); the CLI lists
    unacknowledged ones."""

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    kind: str = Field(max_length=32)  # ban | rate_limited | ...
    source: str = Field(default="", max_length=255)
    message: str = Field(default="", sa_type=Text)
    detail: dict[str, Any] = _json(dict)
    dedup_key: str = Field(default="", max_length=255, index=True)
    acknowledged_at: datetime | None = None


class RequestBudget(SQLModel, table=True):
    """Requests sent per budget key (an account or an egress IP) per hour window, shared by every
    crawler process that uses the same store."""

    __table_args__ = (UniqueConstraint("key", "window", name="uq_budget_key"),)
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=255)  # e.g. "ip:m.weibo.cn", "account:<hash of the cookie>"
    window: datetime  # start of the hour (UTC)
    count: int = 0


# --- labels ---------------------------------------------------------------------------------


class PostLabel(SQLModel, table=True):
    """NLP output for one post under one model version."""

    __table_args__ = (UniqueConstraint("post_id", "model_version", name="uq_label_key"),)
    id: int | None = Field(default=None, primary_key=True)
    post_id: int = Field(foreign_key="post.id", index=True)
    model_version: str = Field(max_length=64, index=True)
    sentiment: str = "neutral"  # positive | negative | neutral
    sentiment_score: float = 0.0  # confidence of ``sentiment`` in [0, 1]
    polarity: float = 0.0  # signed strength in [-1, 1]
    interests: list[str] = _json()
    intents: list[str] = _json()  # question | complaint | purchase_intent | praise
    keywords: list[str] = _json()
    emotion: str = ""  # happy | angry | sad | fear | surprise | neutral ("" = no emotion head)
    emotion_score: float = 0.0
    topic: str = ""  # THUCNews-style class of the topic head ("" = none)
    topic_score: float = 0.0
    stages: dict[str, str] = _json(dict)  # brand -> 5A stage (aware/appeal/ask/act/advocate)
    spam_score: float = 0.0  # 0..1, post-level 水军/ad cues
    spam_reasons: list[str] = _json()
    labellable: bool = True  # False: nothing to read (only a URL, empty, ...)
    components: dict[str, str] = _json(dict)  # part -> version (what produced each field)
    labeled_at: datetime = Field(default_factory=utcnow)


class AccountLabel(SQLModel, table=True):
    """Account-level NLP flags under one model version: the 水军 (spam/bot) verdict from the
    account's profile and its labelled posts, and its furthest 5A stage toward each brand."""

    __table_args__ = (UniqueConstraint("account_id", "model_version", name="uq_account_label_key"),)
    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    model_version: str = Field(max_length=64, index=True)
    spam_score: float = 0.0
    is_spam: bool = False
    spam_reasons: list[str] = _json()
    stages: dict[str, str] = _json(dict)  # brand -> furthest 5A stage seen
    posts_seen: int = 0
    labeled_at: datetime = Field(default_factory=utcnow)


# --- influence ------------------------------------------------------------------------------


class ScoreRun(SQLModel, table=True):
    """One ranking of the interaction graph; ``fingerprint`` identifies its input."""

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=32)
    fingerprint: str = Field(max_length=64, index=True)
    params: dict[str, Any] = _json(dict)
    nodes: int = 0
    edges: int = 0
    iterations: int = 0
    converged: bool = True
    created_at: datetime = Field(default_factory=utcnow)
    # what the run found beside the scores: reach beta, modularity, communities, timings
    summary: dict[str, Any] = _json(dict)


class Community(SQLModel, table=True):
    """A group of users who interact mostly among themselves (Louvain), found by one run."""

    __table_args__ = (UniqueConstraint("run_id", "community", name="uq_community_key"),)
    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="scorerun.id", index=True)
    platform: str = Field(max_length=32)
    community: int  # 0 = the largest
    size: int
    interests: list[Any] = _json()  # [[interest, members with posts in it, share], ...]
    voices: list[str] = _json()  # platform ids of its most influential members, best first
    explanation: str = Field(default="", sa_type=Text)


class InfluenceScore(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("run_id", "platform", "account_id", "interest", name="uq_score_key"),
    )
    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="scorerun.id", index=True)
    platform: str = Field(max_length=32)
    account_id: str = Field(max_length=64)  # platform id of the account
    interest: str = ""  # "" = overall
    score: float
    rank: int
    parts: dict[str, Any] = _json(dict)  # the components of the score, for the UI
    explanation: str = Field(default="", sa_type=Text)


# --- drafts, audit, suppression -------------------------------------------------------------


def content_hash(
    kind: str, platform: str, target_account: str, target_post: str | None, text: str
) -> str:
    """SHA-256 over exactly what a reviewer approves: the action, its target and its text."""
    payload = "\x1f".join([kind, platform, target_account, target_post or "", text])
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class Draft(SQLModel, table=True):
    """A proposed engagement action. Nothing is ever sent without an approval of its hash."""

    __table_args__ = (UniqueConstraint("dedup_key", name="uq_draft_dedup"),)
    id: int | None = Field(default=None, primary_key=True)
    campaign: str = Field(max_length=64, index=True)
    kind: str = Field(max_length=16)  # DraftKind
    platform: str = Field(max_length=32)
    target_account: str = Field(max_length=64)
    target_post: str | None = Field(default=None, max_length=64)
    text: str = Field(default="", sa_type=Text)
    rule: str = Field(default="", max_length=64)
    evidence: dict[str, Any] = _json(dict)
    status: str = Field(default="pending", max_length=16, index=True)  # DraftStatus
    content_hash: str = Field(max_length=64)
    approved_hash: str | None = Field(default=None, max_length=64)
    dedup_key: str = Field(max_length=128)
    created_by: str = "tingfeng"
    reviewed_by: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime | None = None
    sent_at: datetime | None = None  # when dispatch began sending it
    platform_ref: str | None = Field(default=None, max_length=128)  # the platform's id for it
    dispatch_error: str = Field(default="", sa_type=Text)
    # which text produced it: "<rule>#<index>:<sha256[:8] of the template>", "llm:<model>", or
    # "" (follows, drafts from before this column); `tingfeng outcomes` groups by it
    template: str = Field(default="", max_length=128)
    # the steps of a multi-step approval ([bot] approvals_required > 1): [{actor, hash, at}],
    # all for the current text (an edit clears them); bot.review owns it
    approvals: list[dict[str, Any]] = _json(list)


class AuditEvent(SQLModel, table=True):
    """Append-only log of every draft transition and every review action."""

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    actor: str = Field(max_length=64)
    action: str = Field(max_length=32)
    draft_id: int | None = Field(default=None, index=True)
    before_hash: str | None = None
    after_hash: str | None = None
    detail: dict[str, Any] = _json(dict)


class Suppression(SQLModel, table=True):
    """Accounts never to contact again."""

    __table_args__ = (UniqueConstraint("platform", "account_id", name="uq_suppression_key"),)
    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=32)
    account_id: str = Field(max_length=64)
    reason: str = ""
    added_by: str = ""
    added_at: datetime = Field(default_factory=utcnow)


# --- review web UI (bot/web) ----------------------------------------------------------------


class WebUser(SQLModel, table=True):
    """A person who may log in to ``tingfeng serve``; the name is the audit log's actor."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64, unique=True)
    password_hash: str = Field(max_length=255)  # scrypt$n$r$p$salt$hash, never the password
    created_at: datetime = Field(default_factory=utcnow)
    disabled: bool = False


class WebSession(SQLModel, table=True):
    """A logged-in browser: the cookie holds a random token, the row only its SHA-256."""

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    user: str = Field(max_length=64, index=True)
    csrf: str = Field(max_length=64)  # the token every form of this session carries
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime


class SchedulerLock(SQLModel, table=True):
    """A lease so that exactly one ``tingfeng schedule`` process runs jobs."""

    name: str = Field(primary_key=True, max_length=64)
    holder: str = Field(max_length=128)
    expires_at: datetime


#: Tables a crawl writes, keyed by the item type spiders put in ``item["item_type"]``.
ITEM_MODELS: dict[str, tuple[type[SQLModel], type[SQLModel], tuple[str, ...]]] = {
    "account": (AccountIn, Account, ("platform", "platform_id")),
    "group": (GroupIn, Group, ("platform", "platform_id")),
    "post": (PostIn, Post, ("platform", "platform_id")),
    "interaction": (
        InteractionIn,
        Interaction,
        ("platform", "kind", "src_id", "dst_id", "post_id"),
    ),
}
