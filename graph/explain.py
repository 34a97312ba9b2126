"""Why a user ranks where they do: the parts of the score, and one English sentence.

``explain`` returns, per node, a JSON-friendly ``parts`` dict for the UI and the sentence built
from it, e.g. ``rank 3 of 412 (top 1%): 57 reposts, 120 comments, 33 follows received; most from
拿铁少女, 豆子先生, 阿杰``. Inputs are never changed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from graph.build import KINDS, EdgeSet


def ordinal_ranks(scores: ArrayLike, ids: tuple[str, ...]) -> NDArray[np.int64]:
    """Rank of each node, 1 = highest score; ties go to the smaller platform id.

    Examples
    --------
    >>> ordinal_ranks([0.2, 0.5, 0.2], ("b", "c", "a")).tolist()
    [3, 1, 2]
    """
    x = np.asarray(scores, dtype=np.float64)
    order = np.lexsort((np.asarray(ids, dtype=str), -x)) if len(ids) else np.zeros(0, np.int64)
    ranks = np.empty(x.size, dtype=np.int64)
    ranks[order] = np.arange(1, x.size + 1)
    return ranks


def received(edges: EdgeSet) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Interactions (counts, and weights after decay) each node received, by kind."""
    n = edges.n_nodes
    counts = np.zeros((n, len(KINDS)), dtype=np.int64)
    weights = np.zeros((n, len(KINDS)))
    for k in range(len(KINDS)):
        counts[:, k] = np.bincount(edges.dst, weights=edges.kind_count[:, k], minlength=n)
        weights[:, k] = np.bincount(edges.dst, weights=edges.kind_weight[:, k], minlength=n)
    return counts, weights


def top_sources(edges: EdgeSet, top: int) -> list[list[tuple[int, float]]]:
    """Per node, the ``top`` users whose interactions with it weigh most: ``(node, weight)``."""
    order = np.lexsort((edges.src, -edges.weight, edges.dst))
    dst, src, w = edges.dst[order], edges.src[order].tolist(), edges.weight[order].tolist()
    starts = np.searchsorted(dst, np.arange(edges.n_nodes + 1)).tolist()
    return [
        list(zip(src[a : min(a + top, b)], w[a : min(a + top, b)], strict=True))
        for a, b in zip(starts[:-1], starts[1:], strict=True)
    ]


def explain(
    edges: EdgeSet,
    scores: ArrayLike,
    names: Mapping[str, str] | None = None,
    top: int = 3,
) -> list[tuple[dict[str, Any], str]]:
    """``(parts, sentence)`` for every node, in node order.

    ``scores`` is in node order (``edges.ids``); ``names`` maps platform ids to display names
    (the id stands in for an unknown name).
    """
    return [(parts, describe(parts)) for parts in explain_parts(edges, scores, names, top)]


def explain_parts(
    edges: EdgeSet,
    scores: ArrayLike,
    names: Mapping[str, str] | None = None,
    top: int = 3,
) -> list[dict[str, Any]]:
    """``explain``'s ``parts`` alone, for callers that word their own sentence."""
    x = np.asarray(scores, dtype=np.float64)
    n, total = x.size, float(x.sum()) or 1.0
    rank_arr = ordinal_ranks(x, edges.ids)
    counts, weights = received(edges)
    sources = top_sources(edges, top)
    names = names or {}
    # per-node columns as Python lists once: ~3x faster than indexing arrays node by node
    score_l, share_l, ranks = x.tolist(), (x / total).tolist(), rank_arr.tolist()
    pct = np.round(100.0 * (n - rank_arr) / max(n, 1), 2).tolist()
    top_pct = np.maximum(1, np.ceil(100.0 * rank_arr / max(n, 1))).astype(int).tolist()
    counts_l, weights_l, wsum = counts.tolist(), weights.tolist(), weights.sum(axis=1).tolist()
    ids = edges.ids
    out = []
    for i, node in enumerate(ids):
        parts = {
            "account_id": node,
            "score": score_l[i],
            "share": share_l[i],
            "rank": ranks[i],
            "of": n,
            "percentile": pct[i],
            "top_percent": top_pct[i],
            "received": dict(zip(KINDS, counts_l[i], strict=True)),
            "in_weight": dict(zip(KINDS, weights_l[i], strict=True)),
            "in_weight_total": wsum[i],
            "top_sources": [_source(ids[s], w, names) for s, w in sources[i]],
        }
        out.append(parts)
    return out


def _source(account_id: str, weight: float, names: Mapping[str, str]) -> dict[str, Any]:
    return {"account_id": account_id, "name": names.get(account_id) or account_id, "weight": weight}


def describe(parts: Mapping[str, Any]) -> str:
    """The sentence for one user's ``parts``.

    Examples
    --------
    >>> describe({"rank": 3, "of": 412, "top_percent": 1,
    ...           "received": {"repost": 57, "comment": 120, "mention": 0, "follow": 1},
    ...           "top_sources": [{"name": "拿铁少女"}, {"name": "豆子先生"}]})
    'rank 3 of 412 (top 1%): 57 reposts, 120 comments, 1 follow received; most from 拿铁少女, 豆子先生'
    """
    head = f"rank {parts['rank']} of {parts['of']} (top {parts['top_percent']}%)"
    got = [_plural(c, kind) for kind, c in parts["received"].items() if c]
    if not got:
        return f"{head}: no interactions received"
    text = f"{head}: {', '.join(got)} received"
    who = [s["name"] for s in parts.get("top_sources", [])]
    return f"{text}; most from {', '.join(who)}" if who else text


def _plural(count: int, kind: str) -> str:
    return f"{count} {kind}" if count == 1 else f"{count} {kind}s"
