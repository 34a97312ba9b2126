"""Outcomes (数据闭环): how each sent draft did, and which rule and template work best.

Computed from the store only, so it works for every platform whose crawls collect follows,
comments and reposts. Nothing is stored: re-running (or re-crawling) never double-counts.

Per sent draft (``draft_outcomes``):

* **follow-back**: a ``follow`` interaction from the target to one of our accounts, first seen
  after the draft was sent (so it needs our accounts' fans crawled: ``own_accounts``);
* **our comment** (replies and reposts): the post whose platform id is the draft's
  ``platform_ref``, else the comment (repost) under ``target_post`` with the draft's text,
  by one of our accounts when they are known; its **likes** (``likes_count``), the **replies**
  under it and its **reposts** (stored comments and reposts whose parent it is);
* **engaged**: any interaction from the target to one of our accounts first seen after sending
  (a follow-back, a reply to our comment, a mention, a repost).

Our accounts are the campaign's ``own_accounts`` (``by_template(..., own=...)``) plus the
authors of the comments matched by text, so replies are measured even without them.

Per campaign, rule and template (``by_template``): drafts sent, the follow-back and engagement
rates with Wilson 95% intervals, and the mean likes, replies and reposts per comment found,
best first; fewer than ``MIN_SAMPLE`` sent is flagged as too few to tell.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlmodel import Session, col, select

from bot.review import as_utc
from crawlers.models import Draft, Interaction, Post

#: below this many sent drafts a row is flagged: the interval is too wide to rank on
MIN_SAMPLE = 10
TOO_FEW = f"n < {MIN_SAMPLE}: too few to tell"
#: z of a two-sided 95% interval
Z95 = 1.959963984540054
#: the kind of post a sent draft of each kind becomes
POST_KIND = {"reply": "comment", "repost": "repost"}
CHUNK = 500

T = TypeVar("T")


@dataclass(frozen=True)
class Rate:
    """``k`` of ``n`` with its Wilson score interval (95%)."""

    k: int
    n: int

    @property
    def value(self) -> float:
        return self.k / self.n if self.n else 0.0

    @property
    def interval(self) -> tuple[float, float]:
        return wilson(self.k, self.n)

    def __str__(self) -> str:
        if not self.n:
            return "-"
        low, high = self.interval
        return f"{self.value:.0%} [{low:.0%}-{high:.0%}]"


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of ``k`` successes in ``n`` trials; (0, 1) when n = 0."""
    if n <= 0:
        return (0.0, 1.0)
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


@dataclass(frozen=True)
class Outcome:
    """What became of one sent draft."""

    draft_id: int
    campaign: str
    rule: str
    template: str
    kind: str
    platform: str
    target_account: str
    target_post: str | None
    text: str
    sent_at: datetime
    #: None: not a follow, or none of our accounts is known
    followed_back: bool | None = None
    #: our comment or repost as stored (None: not a text action, or not crawled yet)
    comment_id: str | None = None
    likes: int = 0
    replies: int = 0
    reposts: int = 0
    engaged: bool = False


@dataclass
class OutcomeRow:
    """One campaign, rule and template: how its sent drafts did."""

    campaign: str
    rule: str
    template: str
    kind: str
    sent: int = 0
    #: follows sent with a known own account, and how many were followed back
    follow_back: Rate = field(default_factory=lambda: Rate(0, 0))
    #: targets who interacted with us after the draft was sent
    engaged: Rate = field(default_factory=lambda: Rate(0, 0))
    #: our comments (reposts) found in the store, and their totals
    found: int = 0
    likes: int = 0
    replies: int = 0
    reposts: int = 0
    example: str = ""

    @property
    def too_few(self) -> bool:
        return self.sent < MIN_SAMPLE

    @property
    def note(self) -> str:
        return TOO_FEW if self.too_few else ""

    def mean(self, total: int) -> float | None:
        return total / self.found if self.found else None

    @property
    def likes_mean(self) -> float | None:
        return self.mean(self.likes)

    @property
    def replies_mean(self) -> float | None:
        return self.mean(self.replies)

    @property
    def reposts_mean(self) -> float | None:
        return self.mean(self.reposts)

    @property
    def score(self) -> float:
        """What ranks rows of one rule: the follow-back rate's lower bound for follows, the
        mean likes + replies + reposts per comment for texts."""
        if self.kind == "follow":
            return self.follow_back.interval[0] if self.follow_back.n else -1.0
        return (self.likes + self.replies + self.reposts) / self.found if self.found else -1.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, for the web UI and reports."""
        fb, en = self.follow_back, self.engaged
        return {
            "campaign": self.campaign, "rule": self.rule, "template": self.template,
            "kind": self.kind, "sent": self.sent, "found": self.found,
            "follow_back": {"k": fb.k, "n": fb.n, "rate": fb.value, "ci95": fb.interval}
            if fb.n else None,
            "engaged": {"k": en.k, "n": en.n, "rate": en.value, "ci95": en.interval},
            "likes_mean": self.likes_mean, "replies_mean": self.replies_mean,
            "reposts_mean": self.reposts_mean, "score": self.score, "note": self.note,
            "example": self.example,
        }  # fmt: skip


# --- per draft -------------------------------------------------------------------------------


def _chunks(items: Sequence[T]) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


def _refs(ref: str | None) -> list[str]:
    """Ids a ``platform_ref`` may name: itself and, for a URL (a hand-off records the link of
    what the person posted), its last path segment."""
    if not ref:
        return []
    tail = ref.split("?")[0].split("#")[0].rstrip("/").rsplit("/", 1)[-1]
    return [ref, tail] if tail and tail != ref else [ref]


def _norm(text: str) -> str:
    return "".join(text.split())


def sent_drafts(
    session: Session, campaign: str | None = None, since: datetime | None = None
) -> list[Draft]:
    stmt = select(Draft).where(Draft.status == "sent", col(Draft.sent_at).is_not(None))
    if campaign is not None:
        stmt = stmt.where(Draft.campaign == campaign)
    drafts = list(session.exec(stmt.order_by(col(Draft.sent_at), col(Draft.id))))
    if since is not None:
        start = as_utc(since)
        drafts = [d for d in drafts if d.sent_at is not None and as_utc(d.sent_at) >= start]
    return drafts


@dataclass(frozen=True)
class _Stored:
    platform_id: str
    kind: str
    author_id: str
    parent_id: str | None
    text: str
    likes: int
    reposts: int | None


def _candidates(session: Session, drafts: list[Draft]) -> dict[str, list[_Stored]]:
    """Stored comments and reposts our text drafts may have become, by platform."""
    out: dict[str, list[_Stored]] = defaultdict(list)
    texts = [d for d in drafts if d.kind in POST_KIND]
    for platform in sorted({d.platform for d in texts}):
        mine = [d for d in texts if d.platform == platform]
        refs = sorted({r for d in mine for r in _refs(d.platform_ref)})
        targets = sorted({d.target_post for d in mine if d.target_post})
        # a reply to a comment may be stored under that comment's own parent (flat threads)
        parents = sorted(set(targets) | set(_parents(session, platform, targets).values()))
        seen: set[str] = set()
        for column, values in ((Post.platform_id, refs), (Post.parent_id, parents)):
            for chunk in _chunks(values):
                stmt = select(Post).where(Post.platform == platform, col(column).in_(chunk))
                for p in session.exec(stmt):
                    if p.platform_id not in seen:
                        seen.add(p.platform_id)
                        out[platform].append(
                            _Stored(p.platform_id, p.kind, p.author_id, p.parent_id,
                                    p.text_plain or p.text, p.likes_count or 0, p.reposts_count)
                        )  # fmt: skip
    return out


def _parents(session: Session, platform: str, ids: list[str]) -> dict[str, str]:
    """Comment id -> its parent's id, for the comments among ``ids``."""
    out: dict[str, str] = {}
    for chunk in _chunks(ids):
        stmt = select(Post.platform_id, Post.parent_id).where(
            Post.platform == platform, Post.kind == "comment", col(Post.platform_id).in_(chunk)
        )
        out |= {pid: parent for pid, parent in session.exec(stmt) if parent}
    return out


def _match(
    drafts: list[Draft], stored: dict[str, list[_Stored]], own: Mapping[str, set[str]]
) -> dict[int, _Stored]:
    """Draft id -> the stored comment or repost it became (each stored post used once)."""
    by_id = {(p, s.platform_id): s for p, found in stored.items() for s in found}
    up = {(p, s.platform_id): s.parent_id for p, found in stored.items() for s in found}
    by_parent: dict[tuple[str, str, str], list[_Stored]] = defaultdict(list)
    for platform, found in stored.items():
        for s in found:
            if s.parent_id:
                by_parent[(platform, s.parent_id, s.kind)].append(s)
    used: set[tuple[str, str]] = set()
    out: dict[int, _Stored] = {}
    for d in drafts:
        if d.kind not in POST_KIND or d.id is None:
            continue
        hit = next(
            (by_id[(d.platform, r)] for r in _refs(d.platform_ref) if (d.platform, r) in by_id),
            None,
        )
        if hit is None and d.target_post:
            kind = POST_KIND[d.kind]
            thread = up.get((d.platform, d.target_post)) or ""
            pool = [
                s for s in [*by_parent.get((d.platform, d.target_post, kind), []),
                            *by_parent.get((d.platform, thread, kind), [])]
                if (d.platform, s.platform_id) not in used
            ]  # fmt: skip
            ours = own.get(d.campaign, set())
            text = _norm(d.text)
            hit = next((s for s in pool if _norm(s.text) == text and s.author_id in ours), None)
            hit = hit or next((s for s in pool if _norm(s.text) == text), None)
        if hit is not None:
            used.add((d.platform, hit.platform_id))
            out[d.id] = hit
    return out


def _children(session: Session, platform: str, ids: list[str]) -> dict[str, dict[str, int]]:
    """Per parent id: how many stored comments and reposts are under it."""
    out: dict[str, dict[str, int]] = defaultdict(lambda: {"comment": 0, "repost": 0})
    for chunk in _chunks(ids):
        stmt = select(Post.parent_id, Post.kind).where(
            Post.platform == platform, col(Post.parent_id).in_(chunk)
        )
        for parent, kind in session.exec(stmt):
            if parent is not None and kind in ("comment", "repost"):
                out[parent][kind] += 1
    return out


def _from_us(
    session: Session, platform: str, targets: list[str], ours: list[str]
) -> list[tuple[str, str, str, datetime]]:
    """(kind, src, dst, first_seen) of interactions from ``targets`` to ``ours``."""
    if not targets or not ours:
        return []
    rows: list[tuple[str, str, str, datetime]] = []
    for chunk in _chunks(targets):
        stmt = select(  # type: ignore[call-overload]
            Interaction.kind, Interaction.src_id, Interaction.dst_id, Interaction.first_seen
        ).where(
            Interaction.platform == platform,
            col(Interaction.src_id).in_(chunk),
            col(Interaction.dst_id).in_(ours),
        )
        rows += [(k, s, t, as_utc(f)) for k, s, t, f in session.exec(stmt)]
    return rows


def draft_outcomes(
    session: Session,
    campaign: str | None = None,
    since: datetime | None = None,
    own: Mapping[str, Iterable[str]] | None = None,
) -> list[Outcome]:
    """What became of each sent draft (of ``campaign``, sent at or after ``since``).

    ``own``: campaign -> its own account ids (``own_accounts``); the authors of our comments
    matched by text are added to them."""
    drafts = sent_drafts(session, campaign, since)
    if not drafts:
        return []
    configured = {c: {str(a) for a in accounts} for c, accounts in (own or {}).items()}
    matched = _match(drafts, _candidates(session, drafts), configured)
    ours: dict[tuple[str, str], set[str]] = defaultdict(set)  # (campaign, platform) -> ids
    by_platform: dict[str, set[str]] = defaultdict(set)
    for d in drafts:
        ours[(d.campaign, d.platform)] |= configured.get(d.campaign, set())
        if d.id in matched:
            ours[(d.campaign, d.platform)].add(matched[d.id].author_id)
            by_platform[d.platform].add(matched[d.id].author_id)
    for (_, platform), accounts in ours.items():
        if not accounts:  # a campaign without own_accounts: the accounts our comments came from
            accounts |= by_platform[platform]
    children: dict[str, dict[str, dict[str, int]]] = {}
    edges: dict[str, list[tuple[str, str, str, datetime]]] = {}
    for platform in sorted({d.platform for d in drafts}):
        comments = sorted({m.platform_id for d in drafts if d.platform == platform
                           and (m := matched.get(d.id or 0)) is not None})  # fmt: skip
        children[platform] = _children(session, platform, comments)
        targets = sorted({d.target_account for d in drafts if d.platform == platform})
        mine = sorted({a for (_, p), s in ours.items() if p == platform for a in s})
        edges[platform] = _from_us(session, platform, targets, mine)
    return [_outcome(d, matched.get(d.id or 0), ours, children, edges) for d in drafts]


def _outcome(
    d: Draft,
    hit: _Stored | None,
    ours: Mapping[tuple[str, str], set[str]],
    children: Mapping[str, Mapping[str, dict[str, int]]],
    edges: Mapping[str, list[tuple[str, str, str, datetime]]],
) -> Outcome:
    assert d.id is not None and d.sent_at is not None  # sent drafts read from the store
    sent = as_utc(d.sent_at)
    accounts = ours.get((d.campaign, d.platform), set())
    later = [
        (kind, dst) for kind, src, dst, seen in edges.get(d.platform, [])
        if src == d.target_account and dst in accounts and seen > sent
    ]  # fmt: skip
    back = None
    if d.kind == "follow" and accounts:
        back = any(kind == "follow" for kind, _ in later)
    likes = replies = reposts = 0
    if hit is not None:
        under = children.get(d.platform, {}).get(hit.platform_id, {"comment": 0, "repost": 0})
        likes, replies = hit.likes, under["comment"]
        reposts = max(under["repost"], hit.reposts or 0)
    return Outcome(
        d.id, d.campaign, d.rule, d.template, d.kind, d.platform, d.target_account,
        d.target_post, d.text, sent, back, hit.platform_id if hit else None, likes, replies,
        reposts, bool(later),
    )  # fmt: skip


# --- per template ----------------------------------------------------------------------------


def aggregate(outcomes: Iterable[Outcome]) -> list[OutcomeRow]:
    """Rows per (campaign, rule, template), each rule's best first, small samples after."""
    rows: dict[tuple[str, str, str], OutcomeRow] = {}
    for o in outcomes:
        row = rows.get((o.campaign, o.rule, o.template))
        if row is None:
            row = OutcomeRow(o.campaign, o.rule, o.template, o.kind, example=o.text)
            rows[(o.campaign, o.rule, o.template)] = row
        row.sent += 1
        if o.followed_back is not None:
            row.follow_back = Rate(row.follow_back.k + o.followed_back, row.follow_back.n + 1)
        row.engaged = Rate(row.engaged.k + o.engaged, row.engaged.n + 1)
        if o.comment_id is not None:
            row.found += 1
            row.likes += o.likes
            row.replies += o.replies
            row.reposts += o.reposts
    return sorted(
        rows.values(), key=lambda r: (r.campaign, r.rule, r.too_few, -r.score, r.template)
    )


def by_template(
    session: Session,
    campaign: str | None = None,
    since: datetime | None = None,
    own: Mapping[str, Iterable[str]] | None = None,
) -> list[OutcomeRow]:
    """How each campaign's rules and templates did (see the module docstring); ``own`` maps a
    campaign to its own accounts (``own_accounts``), needed for follow-backs."""
    return aggregate(draft_outcomes(session, campaign, since, own))
