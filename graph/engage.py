"""Whom to engage, in platform ids: reach-maximising picks and look-alikes of seed accounts.

The drafting stage (``bot.drafts``) works with platform account ids; this module maps them onto
the interaction graph of one platform (``PlatformGraph``, loaded once per drafting run) and
calls the pure functions of ``graph.im`` and ``graph.lookalike``.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import scipy.sparse as sp
from sqlmodel import Session

from crawlers.config import Settings
from graph.build import EdgeSet, load_edges, to_csr
from graph.im import edge_probabilities, plan_engagement
from graph.lookalike import lookalikes

logger = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class PlatformGraph:
    """The weighted interaction graph of one platform, with a platform id -> node index map."""

    platform: str
    edges: EdgeSet
    matrix: sp.csr_array
    index: dict[str, int]

    @classmethod
    def of(cls, platform: str, edges: EdgeSet) -> PlatformGraph:
        return cls(platform, edges, to_csr(edges), {pid: i for i, pid in enumerate(edges.ids)})

    def nodes(self, accounts: Iterable[str]) -> list[int]:
        """Node indices of the accounts that are in the graph (others dropped)."""
        return [self.index[a] for a in accounts if a in self.index]


def load_graph(
    session: Session, settings: Settings, platform: str, now: datetime
) -> PlatformGraph | None:
    """The platform's graph as the ranking stage builds it; ``None`` when it has no edges."""
    edges = load_edges(session, platform, settings, now)
    return PlatformGraph.of(platform, edges) if edges.n_nodes else None


def reach_picks(
    graph: PlatformGraph,
    candidates: Sequence[str],
    engaged: Iterable[str],
    k: int,
    seed_text: str = "",
) -> tuple[list[tuple[str, float]], float]:
    """Up to ``k`` of ``candidates`` whose combined reach, on top of ``engaged``'s, is largest.

    Independent cascade with weighted-cascade probabilities (a user who engages with several
    accounts is split among them), greedy over reverse-reachable sets (``graph.im``). The
    random draw is seeded from ``seed_text`` (e.g. the campaign name), so the same graph gives
    the same picks. Returns ``([(account, users it adds), ...], expected users reached)``.
    """
    cand = graph.nodes(candidates)
    if not cand or k <= 0:
        return [], 0.0
    spread, probs = edge_probabilities(graph.matrix)
    picks, total = plan_engagement(
        spread, probs, k, cand, graph.nodes(engaged), rng=zlib.crc32(seed_text.encode())
    )
    ids = graph.edges.ids
    return [(ids[v], gain) for v, gain in picks], total


def lookalike_accounts(
    graph: PlatformGraph,
    seeds: Sequence[str],
    tags: Mapping[str, Sequence[str]],
    k: int,
    exclude: Iterable[str] = (),
) -> list[tuple[str, float, dict[str, Any]]]:
    """The ``k`` accounts most like ``seeds`` by graph proximity and shared tags/interests.

    ``tags`` maps platform ids to their tags and interests (missing = none). Seeds not in the
    graph are ignored; with none left, nothing is returned.
    """
    seed_nodes = graph.nodes(seeds)
    if not seed_nodes or k <= 0:
        return []
    node_tags = [list(tags.get(pid, ())) for pid in graph.edges.ids]
    found = lookalikes(graph.matrix, seed_nodes, node_tags, k=k, exclude=graph.nodes(exclude))
    ids = graph.edges.ids
    return [(ids[v], score, parts) for v, score, parts in found]
