"""Ranking functions: take a graph or a CSR matrix, return ``{node: value}``, mutate nothing.

PageRank here is a SciPy CSR power iteration whose stopping rule is the L1 change of the score
vector below ``tol``. networkx stops when that change is below ``N * tol``, which at 10^7 edges
ends after one iteration (FINDINGS.md); to get the same accuracy from ``nx.pagerank`` pass it
``tol / N``.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable, Mapping, Sequence
from typing import Any, NamedTuple

import networkx as nx
import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray

logger = logging.getLogger(__name__)

#: a weight per node: ``{node: w}`` (missing nodes weigh 0) or an array in node order
NodeWeights = Mapping[Hashable, float] | ArrayLike


class PowerIteration(NamedTuple):
    """Scores as an array in node order, and how the iteration ended."""

    x: NDArray[np.float64]
    iterations: int
    converged: bool
    delta: float  # L1 change of the last iteration


class PageRank(NamedTuple):
    """Scores by node, and how the iteration ended."""

    scores: dict[Hashable, float]
    iterations: int
    converged: bool
    delta: float


def transition(matrix: sp.sparray | sp.spmatrix) -> tuple[sp.csr_array, NDArray[np.bool_]]:
    """Transposed row-stochastic matrix ``P.T`` (CSR) and the dangling-node mask.

    A row whose weights sum to 0 (no out-edges, or only zero-weight ones) is dangling.
    Duplicate entries are summed; ``matrix`` itself is not changed.
    """
    a = sp.csr_array(matrix, dtype=np.float64, copy=True)
    if a.shape[0] != a.shape[1]:
        raise ValueError(f"adjacency matrix must be square, got shape {a.shape}")
    a.sum_duplicates()
    if a.nnz and a.data.min() < 0:
        raise ValueError("PageRank needs non-negative edge weights")
    out = np.asarray(a.sum(axis=1)).ravel()
    dangling = out == 0
    inv = np.divide(1.0, out, out=np.zeros_like(out), where=~dangling)
    p = sp.diags_array(inv) @ a
    p.eliminate_zeros()
    return sp.csr_array(p.T), dangling


def power_iteration(
    pt: sp.csr_array,
    dangling: NDArray[np.bool_],
    alpha: float,
    p: NDArray[np.float64],
    dangling_weights: NDArray[np.float64],
    x0: NDArray[np.float64],
    tol: float,
    max_iter: int,
) -> PowerIteration:
    """``x <- alpha * (P.T x + (dangling mass) * d) + (1 - alpha) * p`` until ``|dx|_1 < tol``.

    ``p``, ``dangling_weights`` and ``x0`` must each sum to 1. The result is normalised to 1.
    """
    x, delta = x0, float("inf")
    dangling_idx = np.flatnonzero(dangling)
    teleport = (1.0 - alpha) * p
    for it in range(1, max_iter + 1):
        last = x
        x = alpha * (pt @ last + last[dangling_idx].sum() * dangling_weights) + teleport
        delta = float(np.abs(x - last).sum())
        if delta < tol:
            return PowerIteration(x / x.sum(), it, True, delta)
    logger.warning(
        "PageRank did not converge in %d iterations (L1 change %.3g >= tol %.3g)",
        max_iter,
        delta,
        tol,
    )
    return PowerIteration(x / x.sum(), max_iter, False, delta)


def node_vector(
    weights: NodeWeights | None, nodes: Sequence[Hashable], name: str
) -> NDArray[np.float64]:
    """``weights`` as a probability vector in ``nodes`` order; uniform when ``None``."""
    n = len(nodes)
    if weights is None:
        return np.full(n, 1.0 / n)
    if isinstance(weights, Mapping):
        vec = np.array([float(weights.get(v, 0.0)) for v in nodes])
    else:
        vec = np.asarray(weights, dtype=np.float64).ravel()
    if vec.shape != (n,) or (vec < 0).any() or not vec.sum() > 0:
        raise ValueError(f"{name} needs a non-negative weight per node with a positive sum")
    return vec / vec.sum()


def pagerank(
    graph: nx.Graph | sp.sparray | sp.spmatrix,
    alpha: float = 0.85,
    personalization: NodeWeights | None = None,
    max_iter: int = 1000,
    tol: float = 1e-10,
    nstart: NodeWeights | None = None,
    weight: str | None = "weight",
    dangling: NodeWeights | None = None,
    nodelist: Sequence[Hashable] | None = None,
) -> PageRank:
    """PageRank of a weighted directed graph by SciPy CSR power iteration.

    Parameters
    ----------
    graph : networkx graph or square scipy sparse matrix
        An edge ``u -> v`` (matrix entry ``[u, v]``) passes score from ``u`` to ``v``. Parallel
        edges and duplicate entries add up; self-loops count; zero-weight edges carry nothing.
        An undirected graph counts each edge in both directions.
    alpha : float
        Damping factor.
    personalization : dict or array, optional
        Teleport distribution (normalised; nodes left out weigh 0). Uniform by default. This
        is the seam for per-interest ranking.
    max_iter : int
        Iteration cap; reaching it sets ``converged=False`` (no exception).
    tol : float
        Stop when the L1 change of the score vector is below ``tol`` (not ``N * tol``).
    nstart : dict or array, optional
        Starting vector; uniform by default.
    weight : str or None
        Edge attribute holding the weight (networkx graphs only); ``None`` = every edge 1.
    dangling : dict or array, optional
        Where the score of nodes without out-weight goes; by default ``personalization``.
    nodelist : sequence, optional
        Node labels of a matrix's rows (default ``0..n-1``), or the node order for a graph.

    Returns
    -------
    PageRank
        ``scores`` ``{node: score}`` summing to 1, ``iterations``, ``converged``, ``delta``.

    Examples
    --------
    >>> G = nx.DiGraph([("fan1", "star"), ("fan2", "star"), ("fan3", "star"), ("star", "fan1")])
    >>> pr = pagerank(G)
    >>> max(pr.scores, key=pr.scores.get), pr.converged
    ('star', True)
    >>> round(sum(pr.scores.values()), 12)
    1.0
    """
    matrix, nodes = _as_matrix(graph, weight, nodelist)
    if not nodes:
        return PageRank({}, 0, True, 0.0)
    pt, is_dangling = transition(matrix)
    p = node_vector(personalization, nodes, "personalization")
    d = p if dangling is None else node_vector(dangling, nodes, "dangling")
    x0 = node_vector(nstart, nodes, "nstart")
    res = power_iteration(pt, is_dangling, alpha, p, d, x0, tol, max_iter)
    return PageRank(
        dict(zip(nodes, res.x.tolist(), strict=True)), res.iterations, res.converged, res.delta
    )


def _as_matrix(
    graph: Any, weight: str | None, nodelist: Sequence[Hashable] | None
) -> tuple[Any, list[Hashable]]:
    if isinstance(graph, nx.Graph):
        nodes = list(graph) if nodelist is None else list(nodelist)
        if not nodes:
            return None, []
        return nx.to_scipy_sparse_array(
            graph, nodelist=nodes, weight=weight, dtype=np.float64
        ), nodes
    if not sp.issparse(graph):
        raise TypeError(
            f"pagerank takes a networkx graph or a scipy sparse matrix, not {type(graph).__name__}"
        )
    n = graph.shape[0]
    nodes = list(range(n)) if nodelist is None else list(nodelist)
    if len(nodes) != n:
        raise ValueError(f"nodelist has {len(nodes)} labels for a {n}-node matrix")
    return graph, nodes
