"""The ranking stage: interactions in the store -> one ``ScoreRun`` and its ``InfluenceScore`` rows.

Per platform it loads the weighted edge set, fingerprints it together with the parameters and
the known account names, and ranks only when the fingerprint differs from the latest run's, so
re-running changes nothing. With time decay (``half_life_days > 0``) the weights depend on
``now``, so a later ``now`` is a new input and gives a new run.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import insert
from sqlmodel import Session, col, select

from crawlers.config import Settings
from crawlers.models import Account, InfluenceScore, Interaction, ScoreRun, utcnow
from graph.build import EdgeSet, load_edges, to_csr
from graph.explain import explain
from graph.rank import PowerIteration, node_vector, power_iteration, transition

logger = logging.getLogger(__name__)

#: bump when the algorithm or the stored parts change, so old fingerprints no longer match
ALGORITHM = "pagerank-csr/1"


def run(session: Session, settings: Settings, now: datetime | None = None) -> int:
    """Rank every platform that has interactions; return the number of scores written."""
    now = now or utcnow()
    platforms = session.exec(
        select(Interaction.platform).distinct().order_by(Interaction.platform)
    ).all()
    if not platforms:
        logger.info("nothing to rank: no interactions in the store")
        return 0
    return sum(rank_platform(session, settings, platform, now) for platform in platforms)


def rank_platform(session: Session, settings: Settings, platform: str, now: datetime) -> int:
    """Rank one platform unless its input is unchanged since the latest run (then 0)."""
    edges = load_edges(session, platform, settings, now)
    if edges.n_nodes == 0:
        logger.info("nothing to rank on %s: no interactions between two users", platform)
        return 0
    names = account_names(session, platform, edges.ids)
    params = score_params(settings)
    digest = fingerprint(edges, params, names)
    latest = latest_run(session, platform)
    if latest is not None and latest.fingerprint == digest:
        logger.info("%s: input unchanged since run %s, nothing to rank", platform, latest.id)
        return 0
    result = rank_edges(edges, settings)
    if settings.graph.half_life_days > 0:
        params = {**params, "now": now.isoformat()}
    written = _store(
        session, platform, digest, params, edges, result, names, settings.graph.explain_top
    )
    logger.info(
        "%s: ranked %d users over %d edges in %d iterations",
        platform,
        written,
        edges.n_edges,
        result.iterations,
    )
    return written


def rank_edges(edges: EdgeSet, settings: Settings, personalization: Any = None) -> PowerIteration:
    """PageRank of the edge set under ``settings.graph``; ``personalization`` is the seam
    for per-interest ranking (a weight per node in ``edges.ids`` order)."""
    cfg = settings.graph
    pt, dangling = transition(to_csr(edges))
    p = node_vector(personalization, edges.ids, "personalization")
    x0 = np.full(edges.n_nodes, 1.0 / edges.n_nodes)
    return power_iteration(pt, dangling, cfg.damping, p, p, x0, cfg.tol, cfg.max_iter)


def score_params(settings: Settings) -> dict[str, Any]:
    """The parameters a ranking depends on (stored in ``ScoreRun.params`` and fingerprinted)."""
    cfg = settings.graph
    return {
        "algorithm": ALGORITHM,
        "damping": cfg.damping,
        "tol": cfg.tol,
        "max_iter": cfg.max_iter,
        "half_life_days": cfg.half_life_days,
        "explain_top": cfg.explain_top,
        "weights": cfg.weights.model_dump(),
    }


def fingerprint(edges: EdgeSet, params: dict[str, Any], names: dict[str, str]) -> str:
    """SHA-256 of the aggregated edge set, the parameters and the names the explanations use.

    Weights are rounded to 9 decimals so that summation order cannot change the hash.
    """
    h = hashlib.sha256()
    h.update(json.dumps(params, sort_keys=True).encode())
    h.update("\x1f".join(edges.ids).encode())
    for arr in (edges.src, edges.dst, edges.kind_count, np.round(edges.kind_weight, 9)):
        h.update(np.ascontiguousarray(arr).tobytes())
    h.update(json.dumps(names, sort_keys=True, ensure_ascii=False).encode())
    return h.hexdigest()


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
    result: PowerIteration,
    names: dict[str, str],
    top: int,
) -> int:
    """One transaction: the run, then a score row per node."""
    try:
        run_row = ScoreRun(
            platform=platform,
            fingerprint=digest,
            params=params,
            nodes=edges.n_nodes,
            edges=edges.n_edges,
            iterations=result.iterations,
            converged=result.converged,
        )
        session.add(run_row)
        session.flush()
        rows = _score_rows(run_row.id, platform, edges, result.x, names, top)
        session.execute(insert(InfluenceScore), rows)
        session.commit()
    except Exception:
        session.rollback()
        raise
    return len(rows)


def _score_rows(
    run_id: int | None,
    platform: str,
    edges: EdgeSet,
    x: np.ndarray,
    names: dict[str, str],
    top: int,
) -> list[dict[str, Any]]:
    return [
        {
            "run_id": run_id,
            "platform": platform,
            "account_id": parts["account_id"],
            "interest": "",
            "score": parts["score"],
            "rank": parts["rank"],
            "parts": parts,
            "explanation": text,
        }
        for parts, text in explain(edges, x, names, top)
    ]
