"""The drafting stage: rules pick targets per campaign and draft actions with their evidence.

``run(session, settings)`` reads labels (the newest model version), the latest influence scores
and the suppression list, and writes ``Draft`` rows (status ``pending``) plus one ``drafted``
audit event each. Three rules, one function each:

* follow: the top ``follow_top_k`` users by overall influence whose posts carry one of the
  campaign's interests or whose profile tags match its tags;
* reply: posts labelled as questions in the campaign's interests (``reply_to_questions``),
  at most one queued reply per author;
* repost: positive posts (``sentiment_score >= repost_min_sentiment``) in the campaign's
  interests, best post of each author, most influential authors first, top ``repost_top_k``.

Re-running adds nothing: one draft per ``campaign:kind:platform:target_account:target_post``,
and a rejected draft keeps its key for good. New drafts are capped at ``max_drafts_per_run``,
shared round-robin among campaigns and rules. Nothing is sent from here.
"""

from __future__ import annotations

import logging
import math
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Select, func, insert
from sqlmodel import Session, col, select

from bot.guardrails import (
    capped,
    dedup_key,
    render_template,
    roundrobin,
    suppressed_accounts,
    usable_templates,
)
from bot.review import SYSTEM_ACTOR, as_utc, expire_due
from crawlers.config import BotSettings, Campaign, Settings
from crawlers.models import (
    Account,
    AuditEvent,
    Draft,
    InfluenceScore,
    Post,
    PostLabel,
    ScoreRun,
    content_hash,
    utcnow,
)

logger = logging.getLogger(__name__)

Key = tuple[str, str]  # (platform, account platform id)
#: statuses of drafts still in the queue
QUEUED = ("pending", "edited", "approved")
#: supporting posts quoted in a follow draft's evidence
EVIDENCE_POSTS = 3
EVIDENCE_TEXT_CHARS = 500


@dataclass(frozen=True)
class LabeledPost:
    """A post with its labels, as the rules need it."""

    id: int
    platform: str
    platform_id: str
    kind: str
    author_id: str
    text: str
    topics: tuple[str, ...]
    created_at: datetime | None
    sentiment: str
    sentiment_score: float
    polarity: float
    interests: frozenset[str]
    intents: frozenset[str]
    keywords: tuple[str, ...]

    @property
    def author(self) -> Key:
        return (self.platform, self.author_id)


@dataclass(frozen=True)
class Influence:
    run_id: int
    score: float
    rank: int
    explanation: str
    parts: dict[str, Any]


@dataclass
class Context:
    """Everything the rules read, loaded once per run."""

    label_version: str | None
    posts: list[LabeledPost]
    scores: dict[Key, Influence]
    names: dict[Key, str]
    tags: dict[Key, list[str]]
    suppressed: set[Key]
    #: (campaign, platform, account) with a reply still in the queue (pending, edited, approved)
    replying: set[tuple[str, str, str]] = field(default_factory=set)
    #: dedup keys of every draft so far, whatever its status
    drafted: set[str] = field(default_factory=set)
    by_author: dict[Key, list[LabeledPost]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        grouped: dict[Key, list[LabeledPost]] = defaultdict(list)
        for post in self.posts:
            grouped[post.author].append(post)
        self.by_author = dict(grouped)

    def author_order(self, key: Key) -> tuple[float, float]:
        """Sort key: the most influential first, unscored authors last."""
        inf = self.scores.get(key)
        return (inf.rank, -inf.score) if inf else (math.inf, 0.0)


@dataclass(frozen=True)
class Proposal:
    campaign: str
    kind: str
    platform: str
    target_account: str
    target_post: str | None
    text: str
    rule: str
    evidence: dict[str, Any]

    @property
    def key(self) -> str:
        return dedup_key(
            self.campaign, self.kind, self.platform, self.target_account, self.target_post
        )


# --- loading ---------------------------------------------------------------------------------


def latest_label_version(session: Session) -> str | None:
    """The model version whose labels were written last."""
    stmt = (
        select(PostLabel.model_version)
        .group_by(col(PostLabel.model_version))
        .order_by(func.max(PostLabel.labeled_at).desc(), col(PostLabel.model_version).desc())
        .limit(1)
    )
    return session.exec(stmt).first()


def latest_scores(session: Session) -> dict[Key, Influence]:
    """Overall influence from the latest ``ScoreRun`` of each platform."""
    runs = session.exec(
        select(ScoreRun.id, ScoreRun.platform).order_by(
            col(ScoreRun.created_at).desc(), col(ScoreRun.id).desc()
        )
    ).all()
    latest: dict[str, int] = {}
    for run_id, platform in runs:
        assert run_id is not None  # a primary key read back from the store
        latest.setdefault(platform, run_id)
    if not latest:
        return {}
    # sqlmodel's select() overloads stop at four columns; at runtime it takes any number
    stmt = select(  # type: ignore[call-overload]
        InfluenceScore.run_id,
        InfluenceScore.platform,
        InfluenceScore.account_id,
        InfluenceScore.score,
        InfluenceScore.rank,
        InfluenceScore.explanation,
        InfluenceScore.parts,
    ).where(col(InfluenceScore.run_id).in_(list(latest.values())), InfluenceScore.interest == "")
    return {
        (p, a): Influence(r, s, k, e, parts or {}) for r, p, a, s, k, e, parts in session.exec(stmt)
    }


# fmt: off
_POST_COLUMNS = (
    Post.id, Post.platform, Post.platform_id, Post.kind, Post.author_id, Post.text_plain, Post.text,
    Post.topics, Post.created_at, PostLabel.sentiment, PostLabel.sentiment_score,
    PostLabel.polarity, PostLabel.interests, PostLabel.intents, PostLabel.keywords,
)
# fmt: on


def labeled_posts_query(version: str) -> Select[Any]:
    """Each post with its label of ``version``: the columns the rules read."""
    return (
        # sqlmodel's select() overloads stop at four columns; at runtime it takes any number
        select(*_POST_COLUMNS)  # type: ignore[call-overload]
        .join(PostLabel, col(PostLabel.post_id) == col(Post.id))
        .where(PostLabel.model_version == version)
    )


def _labeled_post(row: Any) -> LabeledPost:
    # positional unpacking: by-name access on 20k rows costs more than the query itself
    pid, platform, ppid, kind, author, plain, raw, topics, created, *label = row
    sentiment, score, polarity, interests, intents, keywords = label
    return LabeledPost(
        pid, platform, ppid, kind, author, plain or raw, tuple(topics or ()), created, sentiment,
        float(score), float(polarity), frozenset(interests or ()), frozenset(intents or ()),
        tuple(keywords or ()),
    )  # fmt: skip


def labeled_posts(session: Session, version: str) -> list[LabeledPost]:
    """Every post with a label of ``version``."""
    return [_labeled_post(row) for row in session.execute(labeled_posts_query(version))]


def load_context(session: Session, label_version: str | None = None) -> Context:
    version = label_version or latest_label_version(session)
    posts = labeled_posts(session, version) if version else []
    accounts = session.exec(
        select(Account.platform, Account.platform_id, Account.name, Account.profile_tags)
    ).all()
    return Context(
        label_version=version,
        posts=posts,
        scores=latest_scores(session),
        names={(p, a): n for p, a, n, _ in accounts},
        tags={(p, a): list(t or ()) for p, a, _, t in accounts if t},
        suppressed=suppressed_accounts(session),
        replying=_queued_replies(session),
        drafted=set(session.exec(select(Draft.dedup_key)).all()),
    )


def _queued_replies(session: Session) -> set[tuple[str, str, str]]:
    stmt = select(Draft.campaign, Draft.platform, Draft.target_account).where(
        Draft.kind == "reply", col(Draft.status).in_(QUEUED)
    )
    return {(c, p, a) for c, p, a in session.exec(stmt)}


# --- evidence --------------------------------------------------------------------------------


def _post_evidence(post: LabeledPost) -> dict[str, Any]:
    return {
        "id": post.platform_id,
        "kind": post.kind,
        "text": post.text[:EVIDENCE_TEXT_CHARS],
        "created_at": as_utc(post.created_at).isoformat() if post.created_at else None,
        "topics": list(post.topics),
        "labels": {
            "sentiment": post.sentiment,
            "sentiment_score": post.sentiment_score,
            "polarity": post.polarity,
            "interests": sorted(post.interests),
            "intents": sorted(post.intents),
            "keywords": list(post.keywords),
        },
    }


def _evidence(ctx: Context, key: Key, rule: str, why: str, **extra: Any) -> dict[str, Any]:
    inf = ctx.scores.get(key)
    return {
        "rule": {"name": rule, "why": why},
        "account": {"platform": key[0], "id": key[1], "name": ctx.names.get(key, "")},
        "influence": None
        if inf is None
        else {
            "run_id": inf.run_id,
            "score": inf.score,
            "rank": inf.rank,
            "explanation": inf.explanation,
            "parts": inf.parts,
        },
        "label_version": ctx.label_version,
        **extra,
    }


# --- templates -------------------------------------------------------------------------------


def _topic(post: LabeledPost, camp: Campaign) -> str:
    """The campaign's topic the post is under, else the post's own topic, else a keyword."""
    for candidates in (
        [t for t in post.topics if t in camp.topics],
        post.topics,
        post.keywords,
        camp.topics,
    ):
        if candidates:
            return candidates[0]
    return ""


def _pick(templates: Sequence[str], proposal_key: str) -> str:
    """One of the templates, the same one for the same target on every run."""
    return templates[zlib.crc32(proposal_key.encode("utf-8")) % len(templates)]


def _text_proposal(
    ctx: Context,
    name: str,
    camp: Campaign,
    kind: str,
    rule: str,
    why: str,
    post: LabeledPost,
    templates: Sequence[str],
) -> Proposal:
    key = dedup_key(name, kind, post.platform, post.author_id, post.platform_id)
    values = {
        "name": ctx.names.get(post.author, ""),
        "topic": _topic(post, camp),
        "brand": camp.brand,
    }
    text = render_template(_pick(templates, key), values)
    evidence = _evidence(
        ctx,
        post.author,
        rule,
        why,
        post=_post_evidence(post),
        matched={"interests": sorted(post.interests & set(camp.interests))},
    )
    return Proposal(
        name, kind, post.platform, post.author_id, post.platform_id, text, rule, evidence
    )


# --- rules -----------------------------------------------------------------------------------


def follow_rule(ctx: Context, name: str, camp: Campaign, bot: BotSettings) -> Iterator[Proposal]:
    """Top ``follow_top_k`` users by overall influence who carry the campaign's profile tags or
    whose posts are at least ``follow_min_interest_share`` about its interests. Suppressed
    users do not take a place in the top k."""
    interests, tags = set(camp.interests), set(camp.tags)
    ranked = sorted(ctx.scores, key=ctx.author_order)
    found = 0
    for key in ranked:
        if found >= bot.follow_top_k:
            return
        if key in ctx.suppressed:
            continue
        own = ctx.by_author.get(key, ())
        posts = [p for p in own if p.interests & interests]
        matched_tags = sorted(tags.intersection(ctx.tags.get(key, ())))
        # an influencer of another field who once touched the campaign's interest is no match
        on_topic = bool(posts) and len(posts) >= bot.follow_min_interest_share * len(own)
        if not on_topic and not matched_tags:
            continue
        found += 1
        yield _follow(ctx, name, key, posts, matched_tags, interests)


def _follow(
    ctx: Context,
    name: str,
    key: Key,
    posts: list[LabeledPost],
    tags: list[str],
    interests: set[str],
) -> Proposal:
    inf = ctx.scores[key]
    matched = sorted({i for p in posts for i in p.interests & interests})
    reasons = [f"overall influence rank {inf.rank}"]
    if matched:
        reasons.append(f"{len(posts)} posts about {', '.join(matched)}")
    if tags:
        reasons.append(f"profile tags {', '.join(tags)}")
    top = sorted(posts, key=lambda p: (-p.sentiment_score, p.id))[:EVIDENCE_POSTS]
    evidence = _evidence(
        ctx,
        key,
        "follow_top_influence",
        "; ".join(reasons),
        posts=[_post_evidence(p) for p in top],
        matched={"interests": matched, "tags": tags},
    )
    return Proposal(name, "follow", key[0], key[1], None, "", "follow_top_influence", evidence)


def reply_rule(ctx: Context, name: str, camp: Campaign, bot: BotSettings) -> Iterator[Proposal]:
    """Questions in the campaign's interests, authors by influence, newest first.

    One reply per author in the queue: an author with a reply still pending, edited or approved
    gets no second one (the same text twice to one person reads as spam).
    """
    templates = usable_templates(bot.reply_templates, f"campaign {name}: [bot] reply_templates")
    if not bot.reply_to_questions or not templates:
        return
    interests = set(camp.interests)
    posts = [
        p
        for p in ctx.posts
        if "question" in p.intents and p.interests & interests and p.author not in ctx.suppressed
    ]
    posts.sort(key=lambda p: (ctx.author_order(p.author), -_timestamp(p), p.id))
    answered = {(platform, account) for c, platform, account in ctx.replying if c == name}
    for post in posts:
        key = dedup_key(name, "reply", post.platform, post.author_id, post.platform_id)
        if post.author in answered or key in ctx.drafted:
            continue
        answered.add(post.author)
        why = f"asks a question about {', '.join(sorted(post.interests & interests))}"
        yield _text_proposal(ctx, name, camp, "reply", "reply_question", why, post, templates)


def repost_rule(ctx: Context, name: str, camp: Campaign, bot: BotSettings) -> Iterator[Proposal]:
    """The most positive post of each of the most influential authors, top ``repost_top_k``."""
    templates = usable_templates(bot.repost_templates, f"campaign {name}: [bot] repost_templates")
    if not templates:
        return
    interests = set(camp.interests)
    best = _best_positive_posts(ctx, interests, bot.repost_min_sentiment)
    ranked = sorted(best, key=lambda p: (ctx.author_order(p.author), -p.sentiment_score, p.id))
    for post in ranked[: bot.repost_top_k]:
        about = ", ".join(sorted(post.interests & interests))
        why = f"positive ({post.sentiment_score:.2f}) about {about}"
        yield _text_proposal(ctx, name, camp, "repost", "repost_positive", why, post, templates)


def _best_positive_posts(ctx: Context, interests: set[str], minimum: float) -> list[LabeledPost]:
    """Each author's most positive post in ``interests`` (comments cannot be reposted)."""
    best: dict[Key, LabeledPost] = {}
    for p in ctx.posts:
        if (
            p.kind != "comment"
            and p.sentiment == "positive"
            and p.sentiment_score >= minimum
            and p.interests & interests
            and p.author not in ctx.suppressed
        ):
            held = best.get(p.author)
            if held is None or (p.sentiment_score, -p.id) > (held.sentiment_score, -held.id):
                best[p.author] = p
    return list(best.values())


Rule = Callable[[Context, str, Campaign, BotSettings], Iterator[Proposal]]
RULES: tuple[Rule, ...] = (follow_rule, reply_rule, repost_rule)


def _timestamp(post: LabeledPost) -> float:
    return as_utc(post.created_at).timestamp() if post.created_at else 0.0


# --- the stage -------------------------------------------------------------------------------


def proposals(ctx: Context, settings: Settings) -> Iterator[Proposal]:
    """Every rule of every campaign, interleaved so the cap is shared fairly."""
    streams = [
        rule(ctx, name, camp, settings.bot)
        for name, camp in settings.campaigns.items()
        for rule in RULES
    ]
    return roundrobin(*streams)


def run(
    session: Session,
    settings: Settings,
    now: datetime | None = None,
    label_version: str | None = None,
) -> int:
    """Expire stale drafts, then draft new actions for every campaign; returns the new drafts."""
    now = as_utc(now or utcnow())
    expire_due(session, now)
    if not settings.campaigns:
        logger.info("no campaigns configured: nothing to draft")
        return 0
    ctx = load_context(session, label_version)
    if not ctx.posts and not ctx.scores:
        logger.info("nothing to draft: no labelled posts and no influence scores yet")
        return 0
    made = _insert(session, proposals(ctx, settings), ctx.drafted, settings, now)
    logger.info("drafted %d new actions (labels %s)", made, ctx.label_version)
    return made


def _new_only(items: Iterable[Proposal], existing: set[str]) -> Iterator[Proposal]:
    for proposal in items:
        key = proposal.key
        if key not in existing:
            existing.add(key)
            yield proposal


def _insert(
    session: Session,
    items: Iterable[Proposal],
    existing: set[str],
    settings: Settings,
    now: datetime,
) -> int:
    """Insert the new proposals (bulk, Core rows: ORM objects cost ~1 ms each) and their audit."""
    cap = settings.bot.max_drafts_per_run
    expires = now + timedelta(hours=settings.bot.draft_ttl_hours)
    rows = [_draft_row(p, now, expires) for p in capped(_new_only(items, existing), cap)]
    if len(rows) == cap:
        logger.info("reached max_drafts_per_run=%d; the rest waits for the next run", cap)
    if rows:
        stmt = insert(Draft).returning(col(Draft.id), sort_by_parameter_order=True)
        # RETURNING gives the primary keys just assigned: never NULL
        ids = cast(Sequence[int], session.scalars(stmt, rows).all())
        session.execute(
            insert(AuditEvent), [_audit_row(i, r, now) for i, r in zip(ids, rows, strict=True)]
        )
    session.commit()
    return len(rows)


def _draft_row(p: Proposal, now: datetime, expires: datetime) -> dict[str, Any]:
    return {
        "campaign": p.campaign, "kind": p.kind, "platform": p.platform,
        "target_account": p.target_account, "target_post": p.target_post, "text": p.text,
        "rule": p.rule, "evidence": p.evidence, "status": "pending",
        "content_hash": content_hash(p.kind, p.platform, p.target_account, p.target_post, p.text),
        "approved_hash": None, "dedup_key": p.key, "created_by": SYSTEM_ACTOR, "reviewed_by": None,
        "created_at": now, "updated_at": now, "expires_at": expires,
    }  # fmt: skip


def _audit_row(draft_id: int, row: dict[str, Any], now: datetime) -> dict[str, Any]:
    return {
        "at": now, "actor": SYSTEM_ACTOR, "action": "drafted", "draft_id": draft_id,
        "before_hash": None, "after_hash": row["content_hash"],
        "detail": {"campaign": row["campaign"], "kind": row["kind"], "rule": row["rule"]},
    }  # fmt: skip
