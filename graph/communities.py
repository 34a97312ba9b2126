"""Communities: Louvain on the undirected weighted graph, and a summary of each community.

Direction is dropped (``A + A.T``): a repost and a reply tie two users the same way for
grouping. networkx Louvain is fine to ~10^5 edges (8.7 s there, FINDINGS.md); beyond that use
igraph or networkit, which reach the same modularity 20-100x faster.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from typing import Any

import networkx as nx
import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray

logger = logging.getLogger(__name__)


def undirected(matrix: sp.sparray | sp.spmatrix) -> nx.Graph:
    """Undirected weighted networkx graph of ``A + A.T`` (nodes ``0..n-1``), built from arrays."""
    a = sp.csr_array(matrix, dtype=np.float64)
    if a.shape[0] != a.shape[1]:
        raise ValueError(f"adjacency matrix must be square, got shape {a.shape}")
    sym = sp.csr_array(a + a.T)
    sym.sum_duplicates()
    sym.eliminate_zeros()
    return nx.from_scipy_sparse_array(sym, edge_attribute="weight")


def communities(
    matrix: sp.sparray | sp.spmatrix, seed: int = 7, resolution: float = 1.0
) -> NDArray[np.int64]:
    """Community id per node by Louvain; id 0 is the largest community.

    Parameters
    ----------
    matrix : square scipy sparse matrix
        Weighted adjacency; direction is ignored (``A + A.T``).
    seed : int
        Louvain's random seed, for a reproducible partition.
    resolution : float
        Above 1 favours smaller communities, below 1 larger ones.

    Returns
    -------
    ndarray of int
        ``labels[i]`` is node ``i``'s community; ids run by size, largest first (ties by
        smallest member). An isolated node is a community of its own.

    Examples
    --------
    >>> a = sp.csr_array(np.array([[0, 1, 1, 0, 0], [1, 0, 1, 0, 0], [0, 0, 0, 1, 0],
    ...                            [0, 0, 0, 0, 1], [0, 0, 0, 1, 0]]))
    >>> communities(a).tolist()
    [0, 0, 0, 1, 1]
    """
    g = undirected(matrix)
    parts = nx.community.louvain_communities(g, weight="weight", resolution=resolution, seed=seed)
    parts = sorted(parts, key=lambda c: (-len(c), min(c)))
    labels = np.empty(g.number_of_nodes(), dtype=np.int64)
    for cid, members in enumerate(parts):
        labels[list(members)] = cid
    return labels


def modularity(
    matrix: sp.sparray | sp.spmatrix, labels: ArrayLike, resolution: float = 1.0
) -> float:
    """Modularity of ``labels`` on the undirected weighted graph (as ``communities`` sees it)."""
    lab = np.asarray(labels)
    groups = [np.flatnonzero(lab == c).tolist() for c in np.unique(lab)]
    return float(
        nx.community.modularity(undirected(matrix), groups, weight="weight", resolution=resolution)
    )


def describe(
    labels: ArrayLike,
    scores: ArrayLike,
    node_interests: Sequence[Sequence[str]],
    top: int = 3,
) -> list[dict[str, Any]]:
    """Summary per community, in id order: its size, dominant interests and top voices.

    Parameters
    ----------
    labels : array of int
        Community id per node (from ``communities``).
    scores : array of float
        A score per node (e.g. PageRank in node order) to pick the top voices by.
    node_interests : sequence of sequences of str
        Interest tags per node; a node counts once per distinct tag.
    top : int
        How many interests and voices to keep per community.

    Returns
    -------
    list of dict
        ``{"community", "size", "interests": [(tag, count, share)], "voices": [node]}``;
        ``share`` is the fraction of the community's members holding the tag.

    Examples
    --------
    >>> out = describe([0, 0, 1], [0.2, 0.5, 0.3], [["tea"], ["tea", "go"], ["go"]], top=1)
    >>> out[0]["size"], out[0]["interests"], out[0]["voices"]
    (2, [('tea', 2, 1.0)], [1])
    """
    lab = np.asarray(labels)
    sc = np.asarray(scores, dtype=np.float64)
    if not len(lab) == len(sc) == len(node_interests):
        raise ValueError("labels, scores and node_interests need one entry per node")
    out = []
    for cid in np.unique(lab):
        members = np.flatnonzero(lab == cid)
        counts = Counter(tag for i in members.tolist() for tag in set(node_interests[i]))
        ranked = sorted(counts.items(), key=lambda tc: (-tc[1], tc[0]))[:top]
        interests = [(t, c, c / len(members)) for t, c in ranked]
        voices = members[np.argsort(-sc[members], kind="stable")[:top]]
        out.append(
            {
                "community": int(cid),
                "size": len(members),
                "interests": interests,
                "voices": voices.tolist(),
            }
        )
    return out
