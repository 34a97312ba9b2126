"""The ranking stage: interactions in the store -> one ``ScoreRun``, its ``InfluenceScore`` rows
(overall and per interest) and its ``Community`` rows.

Per platform it loads the weighted edge set and what the scores read beside it (names, profile
tags, the interests of each user's labelled posts, engagement counts, followers, 水军 verdicts),
fingerprints all of it with the parameters, and ranks only when the fingerprint differs from
the latest run's, so re-running changes nothing. With time decay (``half_life_days > 0``) the
weights depend on ``now``, so a later ``now`` is a new input and gives a new run.

The score itself (``graph.influence``): effective audience times a quality factor. PageRank,
LeaderRank, coreness, distinct engagers, engagement rate and the community are stored with it
as its parts, and the explanation says them in words.
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import insert
from sqlalchemy import select as core_select
from sqlmodel import Session, col, select

from crawlers.config import GraphSettings, Settings
from crawlers.models import (
    Account,
    AccountLabel,
    Community,
    InfluenceScore,
    Interaction,
    Post,
    PostLabel,
    ScoreRun,
    utcnow,
)
from crawlers.store import latest_label_version
from graph.build import EdgeSet, load_edges, to_csr
from graph.communities import communities, describe
from graph.explain import explain_parts, ordinal_ranks
from graph.influence import (
    affinity,
    engagement_rates,
    expected_reach,
    modularity_of,
    quality,
    reach_beta,
    spreading,
    tag_interests,
)
from graph.measures import coreness, leaderrank
from graph.rank import PageRankOperator, PowerIteration, node_vector, power_iteration, transition

logger = logging.getLogger(__name__)

#: bump when the algorithm or the stored parts change, so old fingerprints no longer match
ALGORITHM = "influence/2"


def run(session: Session, settings: Settings, now: datetime | None = None) -> int:
    """Rank every platform that has interactions; return the number of users ranked (0 when
    nothing changed)."""
    now = now or utcnow()
    platforms = session.exec(
        select(Interaction.platform).distinct().order_by(Interaction.platform)
    ).all()
    if not platforms:
        logger.info("nothing to rank: no interactions in the store")
        return 0
    return sum(rank_platform(session, settings, platform, now) for platform in platforms)


@dataclass(frozen=True, eq=False)
class Inputs:
    """What the scores read beside the edges, in node order (``edges.ids``)."""

    names: dict[str, str]
    interests: tuple[str, ...]
    node_tags: list[list[str]]  # interests each profile's tags declare
    post_author: NDArray[np.int64]  # node of each labelled post's author
    post_interests: list[list[str]]
    post_engagements: NDArray[np.float64]  # reposts + comments + likes (NaN = not reported)
    followers: NDArray[np.float64]  # NaN = unknown
    spam: NDArray[np.float64]  # 水军 probability of flagged accounts, else 0

    def digest(self) -> bytes:
        h = hashlib.sha256()
        h.update(json.dumps([self.names, self.interests, self.node_tags], sort_keys=True,
                            ensure_ascii=False).encode())  # fmt: skip
        h.update(json.dumps(self.post_interests, ensure_ascii=False).encode())
        for arr in (self.post_author, self.post_engagements, self.followers, self.spam):
            h.update(np.ascontiguousarray(arr).tobytes())
        return h.digest()


def no_inputs(edges: EdgeSet, interests: tuple[str, ...] = ()) -> Inputs:
    """Inputs for a bare graph: no names, tags, posts, counts or spam verdicts."""
    n = edges.n_nodes
    return Inputs({}, interests, [[] for _ in range(n)], np.zeros(0, np.int64), [],
                  np.zeros(0), np.full(n, np.nan), np.zeros(n))  # fmt: skip


class PerInterest(NamedTuple):
    """One interest's ranking: the stored users (the best ``interest_top``) among ``total``
    eligible ones (posting about it or declaring it), and per-node arrays."""

    nodes: NDArray[np.int64]
    total: int
    score: NDArray[np.float64]
    reach: NDArray[np.float64]  # effective audience among the interest's fans
    topic_pagerank: NDArray[np.float64]


@dataclass(eq=False)
class Analysis:
    """Every measure of one graph, arrays in node order."""

    pagerank: PowerIteration
    leaderrank: NDArray[np.float64]
    coreness: NDArray[np.int64]
    audience: NDArray[np.int64]  # distinct users who engaged with each user
    audience_2hop: NDArray[np.float64]  # the engagers' own engagers, summed
    reach: NDArray[np.float64]
    beta: float
    rates: NDArray[np.float64]
    quality: NDArray[np.float64]
    score: NDArray[np.float64]
    community: NDArray[np.int64]
    modularity: float
    affinity: NDArray[np.float64]
    interest_posts: NDArray[np.int64]
    per_interest: dict[str, PerInterest]
    seconds: dict[str, float] = field(default_factory=dict)


def find_communities(matrix: Any, cfg: GraphSettings) -> NDArray[np.int64]:
    """Louvain community per node under ``cfg`` (seeded)."""
    return communities(matrix, seed=cfg.community_seed, resolution=cfg.community_resolution)


#: from this many edges Louvain runs in a child process beside loading and the other measures
#: (at 10^6 edges it takes ~7 s, a fifth of the stage; igraph holds the GIL, so a thread would
#: not overlap)
BACKGROUND_LOUVAIN_EDGES = 200_000


class Background:
    """One function call in a child process (spawned: safe beside the scheduler's threads)."""

    def __init__(self, fn: Any, *args: Any) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._recv, send = ctx.Pipe(duplex=False)
        self._proc = ctx.Process(target=_call_and_send, args=(send, fn, args), daemon=True)
        self._proc.start()
        send.close()

    def result(self) -> Any:
        try:
            ok, value = self._recv.recv()
        except EOFError as exc:  # the child died without an answer (killed, out of memory)
            raise RuntimeError(
                f"background {self._proc.name} exited with {self._proc.exitcode}"
            ) from exc
        finally:
            self._proc.join()
        if not ok:
            raise value
        return value

    def cancel(self) -> None:
        if self._proc.is_alive():
            self._proc.terminate()
        self._proc.join()
        self._recv.close()


def _call_and_send(send: Any, fn: Any, args: tuple[Any, ...]) -> None:
    try:
        send.send((True, fn(*args)))
    except BaseException as exc:  # handed to the parent, which raises it
        send.send((False, exc))


def analyse(
    edges: EdgeSet, inputs: Inputs, settings: Settings, louvain: Background | None = None
) -> Analysis:
    """All measures of ``edges`` (pure: reads nothing else, changes nothing). ``louvain``: the
    communities already being found in a child process (``find_communities``)."""
    cfg, t = settings.graph, _Timer()
    matrix = to_csr(edges)
    out = _measures(edges, inputs, cfg, matrix, t)
    if louvain is None:
        out.community = find_communities(matrix, cfg)
    else:
        out.community = louvain.result()
    out.modularity = modularity_of(matrix, out.community, cfg.community_resolution)
    t.lap("louvain_wait")
    out.seconds = t.laps
    return out


def _measures(
    edges: EdgeSet, inputs: Inputs, cfg: GraphSettings, matrix: Any, t: _Timer
) -> Analysis:
    op = PageRankOperator(matrix)  # built once: overall and every per-interest walk reuse it
    uniform = np.full(edges.n_nodes, 1.0 / edges.n_nodes)
    pr = op.solve(cfg.damping, uniform, uniform, uniform, cfg.tol, cfg.max_iter)
    t.lap("pagerank")
    lr = leaderrank(matrix)
    t.lap("leaderrank")
    core = coreness(matrix)
    t.lap("coreness")
    s = spreading(matrix)
    beta = reach_beta(s, cfg.reach_beta)
    audience = np.diff(s.indptr).astype(np.int64)
    # effective audience: direct engagers count 1, theirs beta, ... (expected reach / beta)
    reach = expected_reach(s, beta, cfg.reach_hops) / beta
    rates = engagement_rates(
        inputs.post_author, inputs.post_engagements, inputs.followers, edges.n_nodes
    )
    q = quality(rates, inputs.spam)
    t.lap("reach")
    aff, counts = affinity(
        inputs.post_author, inputs.post_interests, inputs.node_tags, inputs.interests,
        prior=cfg.interest_prior,
    )  # fmt: skip
    per_interest = {}
    for j, interest in enumerate(inputs.interests):
        tagged = np.array([interest in tags for tags in inputs.node_tags], dtype=bool)
        eligible = np.flatnonzero((counts[:, j] > 0) | tagged)
        if not eligible.size:
            continue
        weights = aff[:, j]
        ireach = expected_reach(s, beta, cfg.reach_hops, audience=weights) / beta
        p = node_vector(np.where(weights > 0, weights, 0.0) + 1e-12, edges.ids, interest)
        tpr = op.solve(cfg.damping, p, p, p, cfg.tol, cfg.max_iter).x
        iscore = ireach * weights * q
        total = int(eligible.size)
        if total > cfg.interest_top:  # store the best; ranks are among all eligible users
            keep = np.lexsort((eligible, -iscore[eligible]))[: cfg.interest_top]
            eligible = np.sort(eligible[keep])
        per_interest[interest] = PerInterest(eligible, total, iscore, ireach, tpr)
    t.lap("interests")
    return Analysis(
        pagerank=pr, leaderrank=lr, coreness=core, audience=audience,
        audience_2hop=s @ audience.astype(np.float64), reach=reach, beta=beta, rates=rates,
        quality=q, score=reach * q, community=np.zeros(0, np.int64), modularity=0.0,
        affinity=aff, interest_posts=counts, per_interest=per_interest,
    )  # fmt: skip


class _Timer:
    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = round(now - self._last, 4)
        self._last = now


def rank_platform(session: Session, settings: Settings, platform: str, now: datetime) -> int:
    """Rank one platform unless its input is unchanged since the latest run (then 0)."""
    t = _Timer()
    edges = load_edges(session, platform, settings, now)
    if edges.n_nodes == 0:
        logger.info("nothing to rank on %s: no interactions between two users", platform)
        return 0
    t.lap("load_edges")
    louvain = None
    if edges.n_edges >= BACKGROUND_LOUVAIN_EDGES:
        louvain = Background(find_communities, to_csr(edges), settings.graph)
    try:
        return _rank_loaded(session, settings, platform, now, edges, louvain, t)
    finally:
        if louvain is not None:
            louvain.cancel()  # a no-op once its result was read


def _rank_loaded(
    session: Session,
    settings: Settings,
    platform: str,
    now: datetime,
    edges: EdgeSet,
    louvain: Background | None,
    t: _Timer,
) -> int:
    inputs = load_inputs(session, settings, platform, edges.ids)
    t.lap("load_inputs")
    params = score_params(settings)
    digest = fingerprint(edges, params, inputs)
    t.lap("fingerprint")
    latest = latest_run(session, platform)
    if latest is not None and latest.fingerprint == digest:
        logger.info("%s: input unchanged since run %s, nothing to rank", platform, latest.id)
        return 0
    result = analyse(edges, inputs, settings, louvain)
    result.seconds = {**t.laps, **result.seconds}
    if settings.graph.half_life_days > 0:
        params = {**params, "now": now.isoformat()}
    written = _store(session, platform, digest, params, edges, inputs, result, settings)
    logger.info(
        "%s: ranked %d users over %d edges, %d score rows (PageRank %d iterations, "
        "%d communities, modularity %.3f)",
        platform,
        edges.n_nodes,
        written,
        edges.n_edges,
        result.pagerank.iterations,
        int(result.community.max(initial=-1)) + 1,
        result.modularity,
    )
    return edges.n_nodes


def rank_edges(edges: EdgeSet, settings: Settings, personalization: Any = None) -> PowerIteration:
    """PageRank of the edge set under ``settings.graph`` (``personalization``: a weight per
    node in ``edges.ids`` order, for a biased walk)."""
    cfg = settings.graph
    pt, dangling = transition(to_csr(edges))
    p = node_vector(personalization, edges.ids, "personalization")
    x0 = np.full(edges.n_nodes, 1.0 / edges.n_nodes)
    return power_iteration(pt, dangling, cfg.damping, p, p, x0, cfg.tol, cfg.max_iter)


def score_params(settings: Settings) -> dict[str, Any]:
    """The parameters a ranking depends on (stored in ``ScoreRun.params`` and fingerprinted)."""
    cfg = settings.graph
    return {"algorithm": ALGORITHM, **cfg.model_dump()}


def fingerprint(edges: EdgeSet, params: dict[str, Any], inputs: Inputs) -> str:
    """SHA-256 of the aggregated edge set, the parameters and everything else the scores read.

    Weights are rounded to 9 decimals so that summation order cannot change the hash.
    """
    h = hashlib.sha256()
    h.update(json.dumps(params, sort_keys=True).encode())
    h.update("\x1f".join(edges.ids).encode())
    for arr in (edges.src, edges.dst, edges.kind_count, np.round(edges.kind_weight, 9)):
        h.update(np.ascontiguousarray(arr).tobytes())
    h.update(inputs.digest())
    return h.hexdigest()


def load_inputs(
    session: Session, settings: Settings, platform: str, ids: tuple[str, ...]
) -> Inputs:
    """Names, declared interests, labelled posts, engagement, followers and spam of ``ids``."""
    index = {pid: i for i, pid in enumerate(ids)}
    n = len(ids)
    taxonomy = dict(settings.nlp.interests)
    interests = tuple(sorted({*taxonomy, *settings.nlp.interest_examples}))
    names: dict[str, str] = {}
    node_tags: list[list[str]] = [[] for _ in range(n)]
    followers = np.full(n, np.nan)
    account_node: dict[int, int] = {}
    # Core selects (tables, not ORM entities): ORM row loading triples the time at 10^5 rows
    conn = session.connection()
    a = _table(Account)
    stmt = core_select(a.c.id, a.c.platform_id, a.c.name, a.c.profile_tags, a.c.followers_count)
    for aid, pid, name, tags, nfollow in conn.execute(stmt.where(a.c.platform == platform)):
        i = index.get(pid)
        if i is None:
            continue
        account_node[aid] = i
        if name:
            names[pid] = name
        if tags:
            node_tags[i] = tag_interests(tags, taxonomy)
        if nfollow:
            followers[i] = float(nfollow)
    version = latest_label_version(session)
    authors, labels, engagements = [], [], []
    p, lab = _table(Post), _table(PostLabel)
    rows = conn.execute(
        core_select(p.c.author_id, p.c.reposts_count, p.c.comments_count, p.c.likes_count,
               lab.c.interests)
        .outerjoin(lab, (lab.c.post_id == p.c.id) & (lab.c.model_version == (version or "")))
        .where(p.c.platform == platform)
        .order_by(p.c.id)
    )  # fmt: skip
    for author, reposts, comments, likes, post_interests in rows:
        i = index.get(author)
        if i is None:
            continue
        authors.append(i)
        labels.append(sorted(post_interests or ()))
        counts = [c for c in (reposts, comments, likes) if c is not None and c >= 0]
        engagements.append(float(sum(counts)) if counts else np.nan)
    spam = np.zeros(n)
    if account_node:
        spam_version = session.exec(
            select(AccountLabel.model_version)
            .order_by(col(AccountLabel.labeled_at).desc(), col(AccountLabel.id).desc())
            .limit(1)
        ).first()
        flagged = session.exec(
            select(AccountLabel.account_id, AccountLabel.spam_score).where(
                AccountLabel.model_version == spam_version, col(AccountLabel.is_spam)
            )
        )
        for aid, score in flagged:
            if aid in account_node:
                spam[account_node[aid]] = float(score)
    return Inputs(
        names, interests, node_tags, np.array(authors, dtype=np.int64), labels,
        np.array(engagements, dtype=np.float64), followers, spam,
    )  # fmt: skip


def account_names(session: Session, platform: str, ids: tuple[str, ...]) -> dict[str, str]:
    """Display names of the known accounts among ``ids`` (unnamed accounts left out)."""
    wanted = set(ids)
    stmt = select(Account.platform_id, Account.name).where(
        Account.platform == platform, Account.name != ""
    )
    return {pid: name for pid, name in session.exec(stmt).all() if pid in wanted}


def latest_run(session: Session, platform: str) -> ScoreRun | None:
    """The most recent ``ScoreRun`` of ``platform``, if any."""
    stmt = (
        select(ScoreRun)
        .where(ScoreRun.platform == platform)
        .order_by(col(ScoreRun.id).desc())
        .limit(1)
    )
    return session.exec(stmt).first()


def latest_scores(
    session: Session, platform: str, limit: int = 20, interest: str = ""
) -> list[InfluenceScore]:
    """Top ``limit`` users of the latest run of ``platform`` (``interest=""``: overall), by rank."""
    latest = latest_run(session, platform)
    if latest is None:
        return []
    stmt = (
        select(InfluenceScore)
        .where(InfluenceScore.run_id == latest.id, InfluenceScore.interest == interest)
        .order_by(col(InfluenceScore.rank))
        .limit(limit)
    )
    return list(session.exec(stmt).all())


def _store(
    session: Session,
    platform: str,
    digest: str,
    params: dict[str, Any],
    edges: EdgeSet,
    inputs: Inputs,
    result: Analysis,
    settings: Settings,
) -> int:
    """One transaction: the run, its communities, then the score rows (overall, per interest)."""
    try:
        run_row = ScoreRun(
            platform=platform,
            fingerprint=digest,
            params=params,
            nodes=edges.n_nodes,
            edges=edges.n_edges,
            iterations=result.pagerank.iterations,
            converged=result.pagerank.converged,
            summary=_summary(result),
        )
        session.add(run_row)
        session.flush()
        assert run_row.id is not None  # flushed
        t = _Timer()
        rows = overall_rows(run_row.id, platform, edges, inputs, result, settings.graph.explain_top)
        rows += interest_rows(run_row.id, platform, edges, inputs, result)
        groups = community_rows(run_row.id, platform, edges, inputs, result)
        t.lap("rows")
        # Core inserts: the ORM's bulk path costs ~2x on 10^5 rows
        conn = session.connection()
        conn.execute(insert(_table(InfluenceScore)), rows)
        if groups:
            conn.execute(insert(_table(Community)), groups)
        t.lap("insert")
        run_row.summary = {**run_row.summary, "seconds": {**result.seconds, **t.laps}}
        session.commit()
    except Exception:
        session.rollback()
        raise
    return len(rows)


def _table(model: Any) -> Any:
    return model.__table__


def _summary(result: Analysis) -> dict[str, Any]:
    return {
        "reach_beta": result.beta,
        "communities": int(result.community.max(initial=-1)) + 1,
        "modularity": result.modularity,
        "interests": {k: v.total for k, v in result.per_interest.items()},
        "seconds": result.seconds,
    }


def overall_rows(
    run_id: int, platform: str, edges: EdgeSet, inputs: Inputs, result: Analysis, top: int
) -> list[dict[str, Any]]:
    """One ``InfluenceScore`` row per user: the combined score, its parts and the sentence."""
    # columns as Python lists once: indexing numpy arrays per element costs ~1 us each
    columns = {
        "reach": result.reach.tolist(),
        "audience": result.audience.tolist(),
        "audience_2hop": result.audience_2hop.tolist(),
        "pagerank": result.pagerank.x.tolist(),
        "pagerank_rank": ordinal_ranks(result.pagerank.x, edges.ids).tolist(),
        "leaderrank": result.leaderrank.tolist(),
        "coreness": result.coreness.tolist(),
        "engagement_rate": [None if r != r else r for r in result.rates.tolist()],  # NaN
        "quality": result.quality.tolist(),
        "spam": inputs.spam.tolist(),
        "community": result.community.tolist(),
    }
    names = list(columns)
    values = list(zip(*columns.values(), strict=True))
    rows = []
    for i, parts in enumerate(explain_parts(edges, result.score, inputs.names, top)):
        parts.update(zip(names, values[i], strict=True))
        rows.append(
            {"run_id": run_id, "platform": platform, "account_id": parts["account_id"],
             "interest": "", "score": parts["score"], "rank": parts["rank"], "parts": parts,
             "explanation": describe_influence(parts)}
        )  # fmt: skip
    return rows


def interest_rows(
    run_id: int, platform: str, edges: EdgeSet, inputs: Inputs, result: Analysis
) -> list[dict[str, Any]]:
    """Per interest, a row for each of the best ``interest_top`` users who post about it or
    declare it in their tags (``of`` counts them all)."""
    rows = []
    posts = np.bincount(inputs.post_author, minlength=edges.n_nodes).tolist()
    for interest, (eligible, total, score, ireach, tpr) in result.per_interest.items():
        j = inputs.interests.index(interest)
        sub = score[eligible]
        ranks = ordinal_ranks(sub, tuple(edges.ids[i] for i in eligible.tolist()))
        tagged = {i for i, tags in enumerate(inputs.node_tags) if interest in tags}
        for pos, i in enumerate(eligible.tolist()):
            parts = {
                "account_id": edges.ids[i],
                "interest": interest,
                "score": float(sub[pos]),
                "rank": int(ranks[pos]),
                "of": total,
                "affinity": float(result.affinity[i, j]),
                "posts_in_interest": int(result.interest_posts[i, j]),
                "posts": posts[i],
                "tagged": i in tagged,
                "interest_reach": float(ireach[i]),
                "topic_pagerank": float(tpr[i]),
                "quality": float(result.quality[i]),
                "overall_score": float(result.score[i]),
            }
            rows.append(
                {"run_id": run_id, "platform": platform, "account_id": edges.ids[i],
                 "interest": interest, "score": parts["score"], "rank": parts["rank"],
                 "parts": parts, "explanation": describe_interest(parts)}
            )  # fmt: skip
    return rows


def community_rows(
    run_id: int, platform: str, edges: EdgeSet, inputs: Inputs, result: Analysis, top: int = 3
) -> list[dict[str, Any]]:
    """A ``Community`` row per community of two or more users."""
    node_interests: list[list[str]] = [[] for _ in edges.ids]
    nodes, cols = np.nonzero(result.interest_posts > 0)
    for i, j in zip(nodes.tolist(), cols.tolist(), strict=True):
        node_interests[i].append(inputs.interests[j])
    out = []
    for group in describe(result.community, result.score, node_interests, top=top):
        if group["size"] < 2:
            continue
        voices = [edges.ids[v] for v in group["voices"]]
        names = [inputs.names.get(v, v) for v in voices]
        about = ", ".join(f"{t} ({share:.0%})" for t, _, share in group["interests"])
        text = f"{group['size']} users; " + (f"they post about {about}; " if about else "")
        out.append(
            {"run_id": run_id, "platform": platform, "community": group["community"],
             "size": group["size"], "interests": [list(x) for x in group["interests"]],
             "voices": voices, "explanation": text + f"top voices {', '.join(names)}"}
        )  # fmt: skip
    return out


def describe_influence(parts: dict[str, Any]) -> str:
    """The sentence for one user's overall score, in plain words.

    >>> describe_influence({"rank": 3, "of": 412, "top_percent": 1,
    ...     "received": {"repost": 57, "comment": 120, "mention": 0, "follow": 0},
    ...     "audience": 85, "audience_2hop": 1240.0, "reach": 12.3, "engagement_rate": None,
    ...     "quality": 1.0, "spam": 0.0, "community": 2,
    ...     "top_sources": [{"name": "拿铁少女"}, {"name": "豆子先生"}]})
    'rank 3 of 412 (top 1%): 85 users engage with them (57 reposts, 120 comments), and 1240 users engage with those; effective audience 12.3; most from 拿铁少女, 豆子先生; in community #2'
    """
    head = f"rank {parts['rank']} of {parts['of']} (top {parts['top_percent']}%)"
    got = [_plural(c, kind) for kind, c in parts["received"].items() if c]
    if not got:
        return f"{head}: nobody has engaged with them yet"
    who = "user engages" if parts["audience"] == 1 else "users engage"
    text = f"{head}: {parts['audience']} {who} with them ({', '.join(got)})"
    second = round(parts["audience_2hop"])
    if second:
        text += f", and {second} {'user engages' if second == 1 else 'users engage'} with those"
    text += f"; effective audience {parts['reach']:.3g}"
    rate = parts.get("engagement_rate")
    if rate is not None:
        text += f"; engagement rate {rate:.2%} per post (quality x{parts['quality']:.2f})"
    if parts.get("spam"):
        text += f"; looks like a 水军 account, score cut by {parts['spam']:.0%}"
    names = [s["name"] for s in parts.get("top_sources", [])]
    if names:
        text += f"; most from {', '.join(names)}"
    return f"{text}; in community #{parts['community']}"


def describe_interest(parts: dict[str, Any]) -> str:
    """The sentence for one user's score in one interest.

    >>> describe_interest({"interest": "coffee", "rank": 1, "of": 40, "posts_in_interest": 12,
    ...     "posts": 15, "tagged": True, "interest_reach": 3.21, "affinity": 0.76})
    'rank 1 of 40 in coffee: 12 of 15 posts about coffee, declares it in profile tags; effective audience among coffee fans 3.21'
    """
    text = f"rank {parts['rank']} of {parts['of']} in {parts['interest']}: "
    bits = []
    if parts["posts_in_interest"]:
        bits.append(f"{parts['posts_in_interest']} of {parts['posts']} posts about "
                    f"{parts['interest']}")  # fmt: skip
    if parts["tagged"]:
        bits.append("declares it in profile tags")
    text += ", ".join(bits)
    return (
        text + f"; effective audience among {parts['interest']} fans {parts['interest_reach']:.3g}"
    )


def _plural(count: int, kind: str) -> str:
    return f"{count} {kind}" if count == 1 else f"{count} {kind}s"
