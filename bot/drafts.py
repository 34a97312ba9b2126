"""The drafting stage: rules pick targets per campaign and draft actions with their evidence.

``run(session, settings)`` reads labels (the newest model version), the latest influence scores
and the suppression list, and writes ``Draft`` rows (status ``pending``) plus one ``drafted``
audit event each. Three rules, one function each:

* follow: ``follow_top_k`` users whose posts carry one of the campaign's interests or whose
  profile tags match its tags: the ``follow_shortlist`` best by influence in the campaign's
  interests, of whom (``follow_pick = "reach"``) the ones whose combined reach is largest
  (influence maximisation on the interaction graph, counting the users the campaign already
  follows or has queued first), else simply the best ranked;
* look-alikes: with ``seed_accounts`` (existing fans or customers), the ``lookalike_top_k``
  users closest to them in the graph and in tags and interests (personalised PageRank + tag
  cosine);
* reply: posts labelled as questions in the campaign's interests (``reply_to_questions``),
  at most one queued reply per author;
* repost: positive posts (``sentiment_score >= repost_min_sentiment``) in the campaign's
  interests, best post of each author, most influential authors first, top ``repost_top_k``;
* dormant fans (沉睡会员唤醒): users who interacted with the campaign's ``own_accounts`` often
  enough but not for ``dormant_days`` get a reply to their latest post.

A campaign with a ``[campaigns.NAME.rules]`` table picks its rules (``kinds``; ``group_post``
only there: a super-topic post on its most-asked recent questions, one per
``group_post_days``), filters whom they act on (influence rank and score, community, 5A stage
toward its brand) and which posts (sentiment, stage, intent: complaints about the brand get
``complaint_templates`` replies before questions), and may override the templates; each
draft's evidence lists under ``filters`` what it matched. Without the table nothing changes.

Texts come from sandboxed templates or, with ``drafter = "llm"``, from a chat endpoint; a text
that could never be approved (``bot.textcheck``) is not drafted.

Re-running adds nothing: one draft per ``campaign:kind:platform:target_account:target_post``,
and a rejected draft keeps its key for good. New drafts are capped at ``max_drafts_per_run``,
shared round-robin among campaigns and rules. Nothing is sent from here.
"""

from __future__ import annotations

import hashlib
import logging
import math
import zlib
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Select, func, insert
from sqlmodel import Session, col, select

from bot.guardrails import (
    capped,
    dedup_key,
    recent_follows,
    render_template,
    roundrobin,
    suppressed_accounts,
    usable_templates,
)
from bot.llm import ChatDrafter, LLMError
from bot.review import SYSTEM_ACTOR, as_utc, expire_due
from bot.textcheck import TextChecks, problems
from crawlers.config import (
    RULE_STAGES,
    BotSettings,
    Campaign,
    CampaignRules,
    DispatchSettings,
    Settings,
    supertopic_containerid,
)
from crawlers.models import (
    Account,
    AuditEvent,
    Draft,
    Group,
    InfluenceScore,
    Interaction,
    Post,
    PostLabel,
    ScoreRun,
    content_hash,
    utcnow,
)
from crawlers.store import latest_label_version
from graph.engage import PlatformGraph, load_graph, lookalike_accounts, reach_picks

logger = logging.getLogger(__name__)

Key = tuple[str, str]  # (platform, account platform id)
#: statuses of drafts still in the queue
QUEUED = ("pending", "edited", "approved")
#: supporting posts quoted in a follow draft's evidence
EVIDENCE_POSTS = 3
EVIDENCE_TEXT_CHARS = 500
#: the post's text as the ``post`` template slot sees it
TEMPLATE_POST_CHARS = 60


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
    #: (brand, 5A stage) for each brand the post names
    stages: tuple[tuple[str, str], ...] = ()
    #: the super-topic (group) it was posted in
    group_id: str | None = None

    @property
    def author(self) -> Key:
        return (self.platform, self.author_id)

    def stage(self, brand: str) -> str | None:
        """The post's 5A stage toward ``brand``; None when it does not name it."""
        return dict(self.stages).get(brand)


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
    #: (platform, account) followed within ``[dispatch] refollow_days``: never drafted again
    refollow: set[Key] = field(default_factory=set)
    #: (campaign, platform, account) with a reply still in the queue (pending, edited, approved)
    replying: set[tuple[str, str, str]] = field(default_factory=set)
    #: dedup keys of every draft so far, whatever its status
    drafted: set[str] = field(default_factory=set)
    #: per-interest influence: (platform, account, interest) -> score
    interest_scores: dict[tuple[str, str, str], Influence] = field(default_factory=dict)
    #: (campaign, platform, account) -> (rule, status) of every follow draft
    follows: dict[tuple[str, str, str], tuple[str, str]] = field(default_factory=dict)
    #: the interaction graph of a platform, loaded on first use (None: no graph)
    graph_loader: Callable[[str], PlatformGraph | None] | None = None
    by_author: dict[Key, list[LabeledPost]] = field(default_factory=dict)
    _graphs: dict[str, PlatformGraph | None] = field(default_factory=dict)
    #: the follow rule's picks per campaign, computed once per run
    picks: dict[str, list[Any]] = field(default_factory=dict)
    #: (platform, own account) -> [(fan, interactions, last dated interaction)]
    fans: dict[Key, list[tuple[str, int, datetime | None]]] = field(default_factory=dict)
    now: datetime = field(default_factory=utcnow)
    #: (platform, group platform id) -> the super-topic's name
    groups: dict[Key, str] = field(default_factory=dict)
    #: (campaign, platform, group) -> when its latest group post was drafted
    group_posts: dict[tuple[str, str, str], datetime] = field(default_factory=dict)
    #: the users a campaign's ``[campaigns.NAME.rules]`` let its rules act on (None: anyone)
    allows: Callable[[Key], bool] | None = None

    def __post_init__(self) -> None:
        grouped: dict[Key, list[LabeledPost]] = defaultdict(list)
        for post in self.posts:
            grouped[post.author].append(post)
        self.by_author = dict(grouped)

    def graph(self, platform: str) -> PlatformGraph | None:
        if platform not in self._graphs:
            loader = self.graph_loader
            self._graphs[platform] = loader(platform) if loader else None
        return self._graphs[platform]

    def interest_order(self, key: Key, interests: Iterable[str]) -> tuple[float, float, float]:
        """Sort key: the best score in any of ``interests`` first, then overall influence."""
        best = max(
            (inf.score for i in interests if (inf := self.interest_scores.get((*key, i)))),
            default=-1.0,
        )
        return (-best, *self.author_order(key))

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
    #: what the template was filled with (the LLM drafter's prompt reads them too)
    slots: dict[str, str] = field(default_factory=dict)
    #: which text produced it (``template_id``; "llm:<model>"; "" for follows)
    template: str = ""

    @property
    def key(self) -> str:
        return dedup_key(
            self.campaign, self.kind, self.platform, self.target_account, self.target_post
        )


# --- loading ---------------------------------------------------------------------------------


def _latest_runs(session: Session) -> dict[str, int]:
    """Platform -> id of its latest ``ScoreRun``."""
    runs = session.exec(
        select(ScoreRun.id, ScoreRun.platform).order_by(
            col(ScoreRun.created_at).desc(), col(ScoreRun.id).desc()
        )
    ).all()
    latest: dict[str, int] = {}
    for run_id, platform in runs:
        assert run_id is not None  # a primary key read back from the store
        latest.setdefault(platform, run_id)
    return latest


def latest_scores(session: Session) -> dict[Key, Influence]:
    """Overall influence from the latest ``ScoreRun`` of each platform."""
    latest = _latest_runs(session)
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
    PostLabel.stages, Post.group_id,
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
    sentiment, score, polarity, interests, intents, keywords, stages, group = label
    return LabeledPost(
        pid, platform, ppid, kind, author, plain or raw, tuple(topics or ()), created, sentiment,
        float(score), float(polarity), frozenset(interests or ()), frozenset(intents or ()),
        tuple(keywords or ()), tuple(sorted((stages or {}).items())), group,
    )  # fmt: skip


def labeled_posts(session: Session, version: str) -> list[LabeledPost]:
    """Every post with a label of ``version``."""
    return [_labeled_post(row) for row in session.execute(labeled_posts_query(version))]


def latest_interest_scores(session: Session) -> dict[tuple[str, str, str], Influence]:
    """Per-interest influence from the latest ``ScoreRun`` of each platform."""
    latest = _latest_runs(session)
    if not latest:
        return {}
    stmt = select(  # type: ignore[call-overload]
        InfluenceScore.run_id, InfluenceScore.platform, InfluenceScore.account_id,
        InfluenceScore.interest, InfluenceScore.score, InfluenceScore.rank,
        InfluenceScore.explanation, InfluenceScore.parts,
    ).where(col(InfluenceScore.run_id).in_(list(latest.values())), InfluenceScore.interest != "")  # fmt: skip
    return {
        (p, a, i): Influence(r, s, k, e, parts or {})
        for r, p, a, i, s, k, e, parts in session.exec(stmt)
    }


def _follow_drafts(session: Session) -> dict[tuple[str, str, str], tuple[str, str]]:
    # sqlmodel's select() overloads stop at four columns; at runtime it takes any number
    stmt = select(  # type: ignore[call-overload]
        Draft.campaign, Draft.platform, Draft.target_account, Draft.rule, Draft.status
    )
    return {
        (c, p, a): (rule, status)
        for c, p, a, rule, status in session.exec(stmt.where(Draft.kind == "follow"))
    }


def _fans(
    session: Session, settings: Settings
) -> dict[Key, list[tuple[str, int, datetime | None]]]:
    """Who interacted with each campaign's own accounts: how often and when last (dated)."""
    own = sorted({a for camp in settings.campaigns.values() for a in camp.own_accounts})
    if not own:
        return {}
    stmt = (
        select(Interaction.platform, Interaction.dst_id, Interaction.src_id, func.count(),
               func.max(Interaction.created_at))  # type: ignore[call-overload]
        .where(col(Interaction.dst_id).in_(own), Interaction.src_id != Interaction.dst_id)
        .group_by(Interaction.platform, Interaction.dst_id, Interaction.src_id)
    )  # fmt: skip
    out: dict[Key, list[tuple[str, int, datetime | None]]] = defaultdict(list)
    for platform, dst, src, n, last in session.exec(stmt):
        out[(platform, dst)].append((src, int(n), as_utc(last) if last else None))
    return dict(out)


def load_context(
    session: Session,
    label_version: str | None = None,
    settings: Settings | None = None,
    now: datetime | None = None,
) -> Context:
    """What the rules read; with ``settings`` the platform graphs load on first use."""
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
        refollow=recent_follows(
            session,
            as_utc(now or utcnow())
            - timedelta(days=(settings.dispatch if settings else DispatchSettings()).refollow_days),
        ),
        replying=_queued_replies(session),
        drafted=set(session.exec(select(Draft.dedup_key)).all()),
        interest_scores=latest_interest_scores(session),
        fans=_fans(session, settings) if settings else {},
        now=as_utc(now or utcnow()),
        follows=_follow_drafts(session),
        groups={
            (p, g): n
            for p, g, n in session.exec(select(Group.platform, Group.platform_id, Group.name))
        },
        group_posts=_group_post_drafts(session),
        graph_loader=None
        if settings is None
        else lambda platform: load_graph(session, settings, platform, now or utcnow()),
    )


def _group_post_drafts(session: Session) -> dict[tuple[str, str, str], datetime]:
    stmt = (
        select(Draft.campaign, Draft.platform, Draft.target_account, func.max(Draft.created_at))
        .where(Draft.kind == "group_post")
        .group_by(Draft.campaign, Draft.platform, Draft.target_account)
    )
    return {(c, p, a): as_utc(at) for c, p, a, at in session.exec(stmt) if at is not None}


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
        "interest": ", ".join(sorted(post.interests & set(camp.interests))),
        "keywords": "、".join(post.keywords[:3]),
        "post": post.text[:TEMPLATE_POST_CHARS],
        "campaign": name,
    }
    template = _pick(templates, key)
    text = render_template(template, values)
    evidence = _evidence(
        ctx,
        post.author,
        rule,
        why,
        post=_post_evidence(post),
        matched={"interests": sorted(post.interests & set(camp.interests))},
        drafted_by=f"template:{list(templates).index(template)}",
    )
    slots = {**values, "post_full": post.text[:EVIDENCE_TEXT_CHARS]}
    return Proposal(
        name, kind, post.platform, post.author_id, post.platform_id, text, rule, evidence, slots,
        template_id(rule, list(templates).index(template), template),
    )  # fmt: skip


def template_id(rule: str, index: int, template: str) -> str:
    """A template's stable id, ``<rule>#<index>:<first 8 hex of its sha256>``: a changed text
    gets a new id, so outcomes are never pooled across different texts."""
    return f"{rule}#{index}:{hashlib.sha256(template.encode('utf-8')).hexdigest()[:8]}"


# --- rules -----------------------------------------------------------------------------------


#: follow drafts in these states no longer hold a place: the next candidate may take it (an
#: expired draft's user may be proposed again, a rejected one's never)
RELEASED = ("rejected", "expired")


def follow_rule(ctx: Context, name: str, camp: Campaign, bot: BotSettings) -> Iterator[Proposal]:
    """``follow_top_k`` users who carry the campaign's profile tags or whose posts are at least
    ``follow_min_interest_share`` about its interests. The ``follow_shortlist`` best of them by
    influence in those interests are the candidates; ``follow_pick = "reach"`` picks among
    them the ones adding most reach to the campaign's current follows (influence
    maximisation), ``"rank"`` the best ranked. Suppressed users and users the campaign already
    has a follow draft for are never candidates; queued and sent follows count toward the k."""
    interests = set(camp.interests)
    for key, posts, matched_tags, reach in follow_picks(ctx, name, camp, bot):
        yield _follow(ctx, name, key, posts, matched_tags, interests, reach)


Pick = tuple[Key, list[LabeledPost], list[str], dict[str, Any] | None]


def follow_picks(ctx: Context, name: str, camp: Campaign, bot: BotSettings) -> list[Pick]:
    """The follow rule's picks for campaign ``name`` (computed once per run: the look-alike
    rule leaves them out, so the two rules never propose the same user)."""
    if name not in ctx.picks:
        ctx.picks[name] = _follow_picks(ctx, name, camp, bot)
    return ctx.picks[name]


def _follow_picks(ctx: Context, name: str, camp: Campaign, bot: BotSettings) -> list[Pick]:
    interests, tags = set(camp.interests), set(camp.tags)
    rule = "follow_top_influence"
    held = [
        (p, a) for (c, p, a), (r, status) in ctx.follows.items()
        if c == name and r == rule and status not in RELEASED
    ]  # fmt: skip
    want = bot.follow_top_k - len(held)
    if want <= 0:
        return []
    shortlist: list[tuple[Key, list[LabeledPost], list[str]]] = []
    for key in sorted(ctx.scores, key=lambda k: ctx.interest_order(k, interests)):
        if len(shortlist) >= bot.follow_shortlist:
            break
        drafted = ctx.follows.get((name, *key))
        if key in ctx.suppressed or key in ctx.refollow or (drafted and drafted[1] != "expired"):
            continue
        own = ctx.by_author.get(key, ())
        posts = [p for p in own if p.interests & interests]
        matched_tags = sorted(tags.intersection(ctx.tags.get(key, ())))
        # an influencer of another field who once touched the campaign's interest is no match
        on_topic = bool(posts) and len(posts) >= bot.follow_min_interest_share * len(own)
        if on_topic or matched_tags:
            shortlist.append((key, posts, matched_tags))
    engaged = [(p, a) for (c, p, a), (_, status) in ctx.follows.items()
               if c == name and status not in RELEASED]  # fmt: skip
    return _pick_for_reach(ctx, name, shortlist, engaged, want, bot.follow_pick)


Shortlisted = tuple[Key, list[LabeledPost], list[str]]


def _pick_for_reach(
    ctx: Context,
    name: str,
    shortlist: list[Shortlisted],
    engaged: list[Key],
    want: int,
    how: str,
) -> list[Pick]:
    """``want`` of the shortlist: by combined reach per platform graph, else in rank order."""
    by_key = {item[0]: item for item in shortlist}
    chosen: list[tuple[float, int, Key, dict[str, Any]]] = []
    if how == "reach":
        for platform in sorted({k[0] for k in by_key}):
            graph = ctx.graph(platform)
            if graph is None:
                continue
            cands = [k[1] for k in by_key if k[0] == platform]
            mine = [a for p, a in engaged if p == platform]
            picks, total = reach_picks(graph, cands, mine, want, seed_text=name)
            for order, (account, gain) in enumerate(picks):
                info = {"method": "influence maximisation (independent cascade, RR sets)",
                        "adds": gain, "order": order + 1, "total": total,
                        "already_engaged": len(mine)}  # fmt: skip
                chosen.append((-gain, order, (platform, account), info))
    if not chosen:  # no graph (or "rank"): the best ranked
        return [(*item, None) for item in shortlist[:want]]
    chosen.sort(key=lambda c: (c[0], c[1], c[2]))
    return [(*by_key[key], info) for _, _, key, info in chosen[:want]]


def _follow(
    ctx: Context,
    name: str,
    key: Key,
    posts: list[LabeledPost],
    tags: list[str],
    interests: set[str],
    reach: dict[str, Any] | None = None,
) -> Proposal:
    inf = ctx.scores[key]
    matched = sorted({i for p in posts for i in p.interests & interests})
    reasons = [f"overall influence rank {inf.rank}"]
    for interest in sorted(interests):
        per = ctx.interest_scores.get((*key, interest))
        if per is not None:
            reasons.append(f"rank {per.rank} of {per.parts.get('of', '?')} in {interest}")
    if matched:
        reasons.append(f"{len(posts)} post{'s' * (len(posts) != 1)} about {', '.join(matched)}")
    if tags:
        reasons.append(f"profile tags {', '.join(tags)}")
    if reach is not None:
        reasons.append(
            f"pick {reach['order']} for reach: adds ~{reach['adds']:.1f} users to the "
            f"~{reach['total']:.0f} the campaign's follows would reach"
        )
    top = sorted(posts, key=lambda p: (-p.sentiment_score, p.id))[:EVIDENCE_POSTS]
    evidence = _evidence(
        ctx,
        key,
        "follow_top_influence",
        "; ".join(reasons),
        posts=[_post_evidence(p) for p in top],
        matched={"interests": matched, "tags": tags},
        interest_influence={
            i: {"rank": per.rank, "score": per.score, "explanation": per.explanation}
            for i in sorted(interests)
            if (per := ctx.interest_scores.get((*key, i)))
        },
        reach=reach,
    )
    return Proposal(name, "follow", key[0], key[1], None, "", "follow_top_influence", evidence)


def lookalike_rule(ctx: Context, name: str, camp: Campaign, bot: BotSettings) -> Iterator[Proposal]:
    """The ``lookalike_top_k`` users most like the campaign's ``seed_accounts`` (platform ids
    or display names): close to them in the interaction graph and sharing their tags and
    interests. Seeds, suppressed users and users with a follow draft are left out."""
    if not camp.seed_accounts or bot.lookalike_top_k <= 0:
        return
    rule = "follow_lookalike"
    held = sum(
        1 for (c, _, _), (r, status) in ctx.follows.items()
        if c == name and r == rule and status not in RELEASED
    )  # fmt: skip
    want = bot.lookalike_top_k - held
    if want <= 0:
        return
    wanted = set(camp.seed_accounts)
    seeds = {k for k, n in ctx.names.items() if n in wanted} | {
        k for k in (*ctx.scores, *ctx.names) if k[1] in wanted
    }
    found: list[tuple[float, Key, dict[str, Any]]] = []
    for platform in sorted({k[0] for k in seeds}):
        graph = ctx.graph(platform)
        if graph is None:
            continue
        mine = [a for p, a in seeds if p == platform]
        exclude = {a for p, a in ctx.suppressed | ctx.refollow if p == platform}
        exclude |= {
            a for (c, p, a), (_, status) in ctx.follows.items()
            if c == name and p == platform and status != "expired"
        }  # fmt: skip
        exclude |= {a for (p, a), *_ in follow_picks(ctx, name, camp, bot) if p == platform}
        if ctx.allows is not None:  # the campaign's rules leave these users out
            exclude |= {a for a in graph.index if not ctx.allows((platform, a))}
        profile = profiles(ctx, platform)
        for account, score, parts in lookalike_accounts(graph, mine, profile, want, exclude):
            found.append((score, (platform, account), parts))
    found.sort(key=lambda f: (-f[0], f[1]))
    seed_names = [ctx.names.get(k) or k[1] for k in sorted(seeds)]
    for score, key, parts in found[:want]:
        shared = sorted(set(profiles(ctx, key[0]).get(key[1], ())))
        why = (
            f"looks like {', '.join(seed_names[:3])}: graph closeness {parts['ppr']:.2f}, "
            f"tag/interest similarity {parts['similarity']:.2f}"
        )
        evidence = _evidence(
            ctx,
            key,
            rule,
            why,
            lookalike={"score": score, **parts, "seeds": seed_names, "tags": shared},  # fmt: skip
        )
        yield Proposal(name, "follow", key[0], key[1], None, "", rule, evidence)


def profiles(ctx: Context, platform: str) -> dict[str, list[str]]:
    """Per account of ``platform``: its profile tags and the interests of its posts."""
    out: dict[str, list[str]] = defaultdict(list)
    for (p, a), tags in ctx.tags.items():
        if p == platform:
            out[a].extend(tags)
    for (p, a), posts in ctx.by_author.items():
        if p == platform:
            out[a].extend(sorted({i for post in posts for i in post.interests}))
    return out


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


def dormant_rule(ctx: Context, name: str, camp: Campaign, bot: BotSettings) -> Iterator[Proposal]:
    """Win back dormant fans (沉睡会员唤醒): users who interacted with one of the campaign's
    ``own_accounts`` at least ``dormant_min_interactions`` times but not in the last
    ``dormant_days`` get a reply to their latest post, the most loyal first, ``dormant_top_k``
    per run. Fans with a reply still queued, suppressed users and the own accounts are skipped.
    """
    templates = usable_templates(bot.dormant_templates, f"campaign {name}: [bot] dormant_templates")
    if not templates or bot.dormant_top_k <= 0 or not camp.own_accounts:
        return
    cutoff = ctx.now - timedelta(days=bot.dormant_days)
    own = set(camp.own_accounts)
    queued = {(p, a) for c, p, a in ctx.replying if c == name}
    silent: dict[Key, tuple[int, datetime, str]] = {}
    for (platform, account), fans in ctx.fans.items():
        if account not in own:
            continue
        for fan, count, last in fans:
            key = (platform, fan)
            if last is None or last >= cutoff or count < bot.dormant_min_interactions:
                continue
            if fan in own or key in ctx.suppressed or key in queued:
                continue
            held = silent.get(key)
            if held is None or (count, last) > held[:2]:
                silent[key] = (count, last, account)
    # someone silent toward one own account but active toward another is not dormant
    for (platform, account), fans in ctx.fans.items():
        if account in own:
            for fan, _, last in fans:
                if last is not None and last >= cutoff:
                    silent.pop((platform, fan), None)
    ranked = sorted(silent.items(), key=lambda kv: (-kv[1][0], kv[1][1], kv[0]))
    made = 0
    for key, (count, last, account) in ranked:
        if made >= bot.dormant_top_k:
            return
        posts = sorted(ctx.by_author.get(key, ()), key=lambda p: (-_timestamp(p), -p.id))
        post = next((p for p in posts if p.kind != "comment"), None)
        if post is None:
            continue
        if dedup_key(name, "reply", post.platform, post.author_id, post.platform_id) in ctx.drafted:
            continue
        days = (ctx.now - last).days
        why = (
            f"a fan of {ctx.names.get((key[0], account)) or account} ({count} interactions), "
            f"silent for {days} days"
        )
        made += 1
        proposal = _text_proposal(
            ctx, name, camp, "reply", "reengage_dormant", why, post, templates
        )
        loyalty = {"own_account": account, "interactions": count, "last": last.isoformat(),
                   "days_silent": days}  # fmt: skip
        yield replace(proposal, evidence={**proposal.evidence, "fan": loyalty})


def repost_rule(ctx: Context, name: str, camp: Campaign, bot: BotSettings) -> Iterator[Proposal]:
    """The most positive post of each of the most influential authors, top ``repost_top_k``."""
    templates = usable_templates(
        _templates(camp, bot, "repost_templates"), f"campaign {name}: repost_templates"
    )
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


def _templates(camp: Campaign, bot: BotSettings, which: str) -> list[str]:
    """The campaign's ``[campaigns.NAME.rules]`` templates of a kind, else ``[bot]``'s."""
    own: list[str] | None = getattr(camp.rules, which)
    return list(own) if own is not None else list(getattr(bot, which))


def names_brand(post: LabeledPost, camp: Campaign) -> bool:
    """Whether the post names the campaign's brand (it has a 5A stage toward it, or its text
    holds the brand or one of its ``brand_terms``)."""
    if post.stage(camp.brand) is not None:
        return True
    text = post.text.lower()
    return any(t.strip() and t.strip().lower() in text for t in (camp.brand, *camp.brand_terms))


def is_complaint(post: LabeledPost, camp: Campaign) -> bool:
    """A complaint about the brand: it names the brand and has the ``complaint`` intent or a
    negative sentiment."""
    return ("complaint" in post.intents or post.sentiment == "negative") and names_brand(post, camp)


def intent_reply_rule(
    ctx: Context, name: str, camp: Campaign, bot: BotSettings
) -> Iterator[Proposal]:
    """Replies as ``[campaigns.NAME.rules]`` says: complaints about the brand first (``intents``
    holds ``complaint`` or ``sentiments`` holds ``negative``; ``complaint_templates``), then
    posts with one of the other ``intents`` (question, purchase_intent) in the campaign's
    interests (``reply_templates``). One reply per author in the queue, as ``reply_rule``;
    a complaint wins over a question of the same author."""
    rules = camp.rules
    answered = {(platform, account) for c, platform, account in ctx.replying if c == name}
    order = lambda p: (ctx.author_order(p.author), -_timestamp(p), p.id)  # noqa: E731
    if "complaint" in rules.intents or "negative" in rules.sentiments:
        templates = usable_templates(
            _templates(camp, bot, "complaint_templates"), f"campaign {name}: complaint_templates"
        )
        found = [p for p in ctx.posts if p.author not in ctx.suppressed and is_complaint(p, camp)]
        for post in sorted(found, key=order) if templates else ():
            key = dedup_key(name, "reply", post.platform, post.author_id, post.platform_id)
            if post.author in answered or key in ctx.drafted:
                continue
            answered.add(post.author)
            cues = sorted({"complaint"} & post.intents) + (
                ["negative sentiment"] if post.sentiment == "negative" else []
            )
            why = f"complains about {camp.brand} ({' and '.join(cues)}): answer helpfully"
            proposal = _text_proposal(
                ctx, name, camp, "reply", "reply_complaint", why, post, templates
            )
            yield _with_filter(_with_filter(proposal, "complaint", cues), "intent", "complaint")
    wanted = [i for i in rules.intents if i != "complaint"]
    if not bot.reply_to_questions:
        wanted = [i for i in wanted if i != "question"]
    templates = usable_templates(
        _templates(camp, bot, "reply_templates"), f"campaign {name}: reply_templates"
    )
    if not wanted or not templates:
        return
    interests = set(camp.interests)
    posts = [
        p
        for p in ctx.posts
        if p.intents.intersection(wanted) and p.interests & interests
        and p.author not in ctx.suppressed
    ]  # fmt: skip
    for post in sorted(posts, key=order):
        key = dedup_key(name, "reply", post.platform, post.author_id, post.platform_id)
        if post.author in answered or key in ctx.drafted:
            continue
        answered.add(post.author)
        intent = next(i for i in wanted if i in post.intents)
        about = ", ".join(sorted(post.interests & interests))
        if intent == "question":
            why, rule = f"asks a question about {about}", "reply_question"
        else:
            why, rule = f"wants to buy ({intent}): about {about}", f"reply_{intent}"
        proposal = _text_proposal(ctx, name, camp, "reply", rule, why, post, templates)
        yield _with_filter(proposal, "intent", intent)


def _with_filter(proposal: Proposal, name: str, value: Any) -> Proposal:
    if value is None:
        return proposal
    filters = {**proposal.evidence.get("filters", {}), name: value}
    return replace(proposal, evidence={**proposal.evidence, "filters": filters})


#: top keywords of a super-topic's questions that make a group post's theme
GROUP_POST_KEYWORDS = 3


def group_post_rule(
    ctx: Context, name: str, camp: Campaign, bot: BotSettings
) -> Iterator[Proposal]:
    """Be useful in the campaign's super-topics: per super-topic, at most one post every
    ``group_post_days`` answering what was asked most there in the last ``group_post_days``
    (the top keywords of its question posts). Target: the super-topic's group id."""
    templates = usable_templates(
        _templates(camp, bot, "group_post_templates"), f"campaign {name}: group_post_templates"
    )
    if not templates:
        return
    since = ctx.now - timedelta(days=bot.group_post_days)
    for topic in camp.supertopics:
        wanted = {topic, supertopic_containerid(topic)}
        wanted |= {g for (_, g), n in ctx.groups.items() if n == topic}
        by_group: dict[Key, list[LabeledPost]] = defaultdict(list)
        for p in ctx.posts:
            if (
                p.group_id in wanted
                and "question" in p.intents
                and p.created_at is not None
                and as_utc(p.created_at) >= since
                and p.author not in ctx.suppressed
            ):
                by_group[(p.platform, p.group_id or "")].append(p)
        if not by_group:
            continue
        group, questions = max(by_group.items(), key=lambda kv: (len(kv[1]), kv[0]))
        last = ctx.group_posts.get((name, *group))
        if last is not None and last > since:
            continue  # one group post per window
        title = ctx.groups.get(group) or topic
        # the super-topic's own name and the brand say nothing about what is asked
        obvious = {w.lower() for w in (topic, title, camp.brand, *camp.brand_terms)}
        counts = Counter(
            k for p in questions for k in dict.fromkeys(p.keywords) if k.lower() not in obvious
        )
        theme = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:GROUP_POST_KEYWORDS]
        if not theme:
            continue
        marker = f"theme:{ctx.now.date().isoformat()}"
        key = dedup_key(name, "group_post", group[0], group[1], marker)
        if key in ctx.drafted:
            continue
        words = [k for k, _ in theme]
        values = {
            "name": "", "topic": title, "brand": camp.brand, "interest": "",
            "keywords": "、".join(words), "post": "", "campaign": name,
        }  # fmt: skip
        template = _pick(templates, key)
        index = templates.index(template)
        why = (
            f"{len(questions)} question{'s' * (len(questions) != 1)} in the {title} super-topic "
            f"in the last {bot.group_post_days} days, most about {', '.join(words)}"
        )
        shown = sorted(questions, key=lambda p: (-_timestamp(p), p.id))[:EVIDENCE_POSTS]
        evidence = _evidence(
            ctx, group, "group_post_theme", why,
            group={"platform": group[0], "id": group[1], "name": title},
            theme={k: n for k, n in theme}, questions=len(questions),
            posts=[_post_evidence(p) for p in shown], drafted_by=f"template:{index}",
            filters={"intent": "question", "since": since.isoformat()},
        )  # fmt: skip
        asked = "；".join(p.text[:TEMPLATE_POST_CHARS] for p in shown)
        slots = {
            **values,
            "post_full": f"超话「{title}」里最近的提问：{asked}"[:EVIDENCE_TEXT_CHARS],
        }
        yield Proposal(
            name, "group_post", group[0], group[1], marker, render_template(template, values),
            "group_post_theme", evidence, slots, template_id("group_post_theme", index, template),
        )  # fmt: skip


Rule = Callable[[Context, str, Campaign, BotSettings], Iterator[Proposal]]
RULES: tuple[Rule, ...] = (follow_rule, lookalike_rule, reply_rule, repost_rule, dormant_rule)
#: the rules a campaign's ``[campaigns.NAME.rules] kinds`` picks from, in this order
RULES_BY_KIND: dict[str, Rule] = {
    "follow": follow_rule, "lookalike": lookalike_rule, "reply": intent_reply_rule,
    "repost": repost_rule, "dormant": dormant_rule, "group_post": group_post_rule,
}  # fmt: skip
#: the rules that pick users (their 5A stage: the furthest of their posts); the others pick posts
USER_KINDS = ("follow", "lookalike", "dormant")


def has_rules(camp: Campaign) -> bool:
    """Whether the campaign has a ``[campaigns.NAME.rules]`` table (else: as ``[bot]`` says)."""
    return "rules" in camp.model_fields_set


def _community(inf: Influence | None) -> int | None:
    value = inf.parts.get("community") if inf is not None else None
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def user_filters(ctx: Context, key: Key, rules: CampaignRules) -> dict[str, Any] | None:
    """What the user matched of the rules' rank, score and community filters (for the
    evidence); None when they fail one. A filter left at its default matches anyone."""
    inf = ctx.scores.get(key)
    matched: dict[str, Any] = {}
    if rules.max_rank:
        if inf is None or inf.rank > rules.max_rank:
            return None
        matched["rank"] = {"rank": inf.rank, "max_rank": rules.max_rank}
    if rules.min_score:
        if inf is None or inf.score < rules.min_score:
            return None
        matched["score"] = {"score": inf.score, "min_score": rules.min_score}
    if rules.communities:
        community = _community(inf)
        if community not in rules.communities:
            return None
        matched["community"] = {"community": community, "communities": rules.communities}
    return matched


def user_stage(ctx: Context, key: Key, brand: str) -> str | None:
    """The furthest 5A stage toward ``brand`` of the user's posts."""
    seen = {s for p in ctx.by_author.get(key, ()) if (s := p.stage(brand))}
    return max(seen, key=RULE_STAGES.index) if seen else None


def post_filters(post: LabeledPost, camp: Campaign, rules: CampaignRules) -> dict[str, Any] | None:
    """What the post matched of the rules' sentiment and stage filters; None when it fails."""
    matched: dict[str, Any] = {}
    if rules.sentiments:
        if post.sentiment not in rules.sentiments:
            return None
        matched["sentiment"] = post.sentiment
    if rules.stages:
        stage = post.stage(camp.brand)
        if stage not in rules.stages:
            return None
        matched["stage"] = stage
    return matched


def _scoped(ctx: Context, camp: Campaign, by_user: bool) -> Context:
    """``ctx`` as the campaign's rules see it: only the users (and their posts) that pass the
    rank, score and community filters, and either users whose furthest stage passes
    (``by_user``: follow, look-alike, dormant) or posts that pass the sentiment and stage
    filters (reply, repost)."""
    rules = camp.rules
    verdicts: dict[Key, bool] = {}

    def allows(key: Key) -> bool:
        if key not in verdicts:
            ok = user_filters(ctx, key, rules) is not None
            if ok and by_user and rules.stages:
                ok = user_stage(ctx, key, camp.brand) in rules.stages
            verdicts[key] = ok
        return verdicts[key]

    posts = [
        p for p in ctx.posts
        if allows(p.author) and (by_user or post_filters(p, camp, rules) is not None)
    ]  # fmt: skip
    scores = {k: v for k, v in ctx.scores.items() if allows(k)}
    return replace(ctx, posts=posts, scores=scores, picks={}, allows=allows)


def _filters_evidence(
    items: Iterable[Proposal], ctx: Context, camp: Campaign, by_user: bool
) -> Iterator[Proposal]:
    """Each proposal's evidence gets ``filters``: which of the rules' filters it matched."""
    rules = camp.rules
    index = {(p.platform, p.platform_id): p for p in ctx.posts} if not by_user else {}
    for p in items:
        if p.kind == "group_post":
            yield p
            continue
        key = (p.platform, p.target_account)
        found = dict(user_filters(ctx, key, rules) or {})
        if by_user and rules.stages:
            found["stage"] = user_stage(ctx, key, camp.brand)
        post = index.get((p.platform, p.target_post or ""))
        if post is not None:
            found.update(post_filters(post, camp, rules) or {})
        filters = {**found, **p.evidence.get("filters", {})}
        yield replace(p, evidence={**p.evidence, "filters": filters})


def campaign_streams(
    ctx: Context, name: str, camp: Campaign, bot: BotSettings
) -> list[Iterator[Proposal]]:
    """The campaign's rule streams: as ``[bot]`` says, or as its ``[campaigns.NAME.rules]``."""
    if not has_rules(camp):
        return [rule(ctx, name, camp, bot) for rule in RULES]
    rules = camp.rules
    if rules.interests is not None:
        camp = camp.model_copy(update={"interests": list(rules.interests)})
    users, posts = _scoped(ctx, camp, True), _scoped(ctx, camp, False)
    if "follow" not in rules.kinds:
        users.picks[name] = []  # the look-alike rule need not leave out the follow rule's picks
    streams = []
    for kind, rule in RULES_BY_KIND.items():
        if kind not in rules.kinds:
            continue
        if kind == "group_post":  # a super-topic's questions, whoever asked them
            streams.append(rule(ctx, name, camp, bot))
            continue
        by_user = kind in USER_KINDS
        scoped = users if by_user else posts
        streams.append(_filters_evidence(rule(scoped, name, camp, bot), scoped, camp, by_user))
    return streams


def _timestamp(post: LabeledPost) -> float:
    return as_utc(post.created_at).timestamp() if post.created_at else 0.0


# --- the stage -------------------------------------------------------------------------------


def proposals(ctx: Context, settings: Settings) -> Iterator[Proposal]:
    """Every rule of every campaign, interleaved so the cap is shared fairly; texts that could
    never be approved (sensitive words, disallowed links, hidden characters, e.g. from a
    user's name filled into a template) are left out and logged."""
    streams = [
        stream
        for name, camp in settings.campaigns.items()
        for stream in campaign_streams(ctx, name, camp, settings.bot)
    ]
    return roundrobin(*streams)


def llm_drafter(settings: Settings) -> ChatDrafter | None:
    """The chat drafter when ``[bot] drafter = "llm"``, else ``None``."""
    bot = settings.bot
    if bot.drafter != "llm":
        return None
    key = settings.secrets.llm_api_key
    return ChatDrafter(bot.llm_url, bot.llm_model, key.get_secret_value() if key else None,
                       bot.llm_timeout_seconds, bot.llm_max_chars)  # fmt: skip


def _written(items: Iterable[Proposal], drafter: ChatDrafter | None) -> Iterator[Proposal]:
    """Texts from the chat drafter where one is configured; the template's text stays when it
    fails (logged, without the key)."""
    for p in items:
        if drafter is None or not p.text:
            yield p
            continue
        try:
            text = drafter.draft(p.kind, p.slots)
        except LLMError as exc:
            logger.warning("LLM drafter failed for %s %s (%s); the template's text is kept",
                           p.kind, p.target_post, exc)  # fmt: skip
            yield p
            continue
        evidence = {**p.evidence, "drafted_by": drafter.label, "template_text": p.text}
        yield replace(p, text=text, evidence=evidence, template=drafter.label)


def _approvable(items: Iterable[Proposal], checks: TextChecks) -> Iterator[Proposal]:
    for p in items:
        found = problems(p.text, checks) if p.text else []
        if found:
            logger.warning("not drafted: %s %s on %s for %s (rule %s): the text %s",
                           p.kind, p.target_post or p.target_account, p.platform, p.campaign,
                           p.rule, "; ".join(found))  # fmt: skip
            continue
        yield p


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
    ctx = load_context(session, label_version, settings, now)
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
    # lazily, in this order: only new proposals are written by the LLM, and only until the cap
    new = _new_only(items, existing)
    checked = _approvable(_written(new, llm_drafter(settings)), TextChecks.of(settings.bot))
    rows = [_draft_row(p, now, expires) for p in capped(checked, cap)]
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
        "template": p.template,
        "created_at": now, "updated_at": now, "expires_at": expires,
    }  # fmt: skip


def _audit_row(draft_id: int, row: dict[str, Any], now: datetime) -> dict[str, Any]:
    return {
        "at": now, "actor": SYSTEM_ACTOR, "action": "drafted", "draft_id": draft_id,
        "before_hash": None, "after_hash": row["content_hash"],
        "detail": {"campaign": row["campaign"], "kind": row["kind"], "rule": row["rule"]},
    }  # fmt: skip
