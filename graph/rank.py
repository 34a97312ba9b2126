"""Ranking functions: take a graph or a CSR matrix, return ``{node: value}``, mutate nothing.

PageRank here is a SciPy CSR power iteration whose stopping rule is the L1 change of the score
vector below ``tol``. networkx stops when that change is below ``N * tol``, which at 10^7 edges
ends after one iteration (FINDINGS.md); to get the same accuracy from ``nx.pagerank`` pass it
``tol / N``.

Speed: the mat-vec cost is bytes per edge and gathers of the score vector, so most iterations
run in float32 with int32 indices (8 bytes an edge instead of 16, and a 4 MB score vector at
10^6 nodes stays in the 8 MiB L3; 2x faster a mat-vec at 10^7 edges), as a mixed-precision
iterative refinement: a float64 step measures the residual ``r = G(x) - x``, float32
iterations solve the correction ``e = alpha * P.T e + r`` to ~1e-5 of ``|r|_1`` (far above
float32's rounding), ``x += e``, repeat. Every answer ends on a float64 power step whose L1
change is below ``tol``, so the stopping rule is exactly the float64 one.

Above ``PARALLEL_NNZ`` stored entries a mat-vec runs on row blocks of equal size in threads
(SciPy's CSR mat-vec releases the GIL): 1.8x faster at 10^7 edges on two cores, exactly the same
result (each row is summed by one thread in the same order).

Ordering the nodes by in-degree (the most-read scores together in cache) makes a mat-vec
1.2-1.7x faster (bench/graph.py), but the permutation costs ~10-15 mat-vecs to build, so
``PageRankOperator(..., reorder=True)`` pays off only when one operator solves several times
(per-interest personalisation).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Hashable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple

import networkx as nx
import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray

logger = logging.getLogger(__name__)

#: a weight per node: ``{node: w}`` (missing nodes weigh 0) or an array in node order
NodeWeights = Mapping[Hashable, float] | ArrayLike

#: float32 correction solves stop at this fraction of the residual's L1 norm (float32 rounding
#: is ~1e-7 of it, so this stays well clear of the noise floor)
_INNER_REDUCTION = 1e-5


#: from this many stored entries mat-vecs run on row blocks in threads; below it a thread
#: hand-off costs more than it saves
PARALLEL_NNZ = 1_000_000
_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def _threads() -> int:
    return max(1, min(8, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                      else (os.cpu_count() or 1)))  # fmt: skip


def _pool() -> ThreadPoolExecutor:
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(_threads(), thread_name_prefix="matvec")
        return _POOL


class MatVec:
    """``m @ x`` for a CSR matrix, on row blocks in threads when ``m`` is large.

    The blocks are views of ``m``'s arrays (only their ``indptr`` is copied).
    """

    def __init__(self, m: sp.csr_array, threads: int | None = None) -> None:
        self.m = m
        parts = _threads() if threads is None else threads
        self.blocks: list[sp.csr_array] = []
        if parts > 1 and m.nnz >= PARALLEL_NNZ:
            self.blocks = _row_blocks(m, parts)

    def __call__(self, x: NDArray[Any]) -> NDArray[Any]:
        if not self.blocks:
            return np.asarray(self.m @ x)
        pool = _pool()
        parts = [pool.submit(b.__matmul__, x) for b in self.blocks]
        return np.concatenate([f.result() for f in parts])


def _row_blocks(m: sp.csr_array, parts: int) -> list[sp.csr_array]:
    """``parts`` row blocks of ``m`` with about equal stored entries, as views."""
    n, indptr = m.shape[0], m.indptr
    cuts = np.searchsorted(indptr, np.linspace(0, m.nnz, parts + 1)[1:-1]).tolist()
    bounds = [0, *sorted(set(min(n, max(0, c)) for c in cuts)), n]
    blocks = []
    for r0, r1 in zip(bounds[:-1], bounds[1:], strict=True):
        if r1 <= r0:
            continue
        lo, hi = int(indptr[r0]), int(indptr[r1])
        blocks.append(
            sp.csr_array(
                (m.data[lo:hi], m.indices[lo:hi], indptr[r0 : r1 + 1] - lo),
                shape=(r1 - r0, m.shape[1]),
            )
        )
    return blocks


class PowerIteration(NamedTuple):
    """Scores as an array in node order, and how the iteration ended."""

    x: NDArray[np.float64]
    iterations: int  # mat-vecs done, float32 and float64 together
    converged: bool
    delta: float  # L1 change of the last float64 power step


class PageRank(NamedTuple):
    """Scores by node, and how the iteration ended."""

    scores: dict[Hashable, float]
    iterations: int
    converged: bool
    delta: float


def transition(matrix: sp.sparray | sp.spmatrix) -> tuple[sp.csr_array, NDArray[np.bool_]]:
    """Transposed row-stochastic matrix ``P.T`` (CSR, int32 indices when they fit) and the
    dangling-node mask.

    A row whose weights sum to 0 (no out-edges, or only zero-weight ones) is dangling.
    Duplicate entries are summed; ``matrix`` itself is not changed.
    """
    a = sp.csr_array(matrix, dtype=np.float64)
    if a.shape[0] != a.shape[1]:
        raise ValueError(f"adjacency matrix must be square, got shape {a.shape}")
    if not a.has_canonical_format:
        a = a.copy()
        a.sum_duplicates()
    if a.nnz and a.data.min() < 0:
        raise ValueError("PageRank needs non-negative edge weights")
    out = a @ np.ones(a.shape[1])
    dangling = out == 0
    inv = np.divide(1.0, out, out=np.zeros_like(out), where=~dangling)
    data = a.data * np.repeat(inv, np.diff(a.indptr))
    if data.all():
        p = sp.csr_array((data, a.indices, a.indptr), shape=a.shape)  # shared, only read
    else:  # zero-weight edges carry nothing: drop them (in place, hence the copies)
        p = sp.csr_array((data, a.indices.copy(), a.indptr.copy()), shape=a.shape)
        p.eliminate_zeros()
    pt = sp.csr_array(p.T.tocsr())  # CSC of P read as CSR is P.T: one O(nnz) pass
    return _int32_indices(pt), dangling


def _int32_indices(m: sp.csr_array) -> sp.csr_array:
    if m.nnz >= 2**31 or m.shape[0] >= 2**31 or m.indices.dtype == np.int32:
        return m
    return sp.csr_array(
        (m.data, m.indices.astype(np.int32), m.indptr.astype(np.int32)), shape=m.shape
    )


class PageRankOperator:
    """``P.T`` prepared once (float64 and float32 copies, int32 indices) for many PageRanks.

    Build it once per graph and call ``solve`` for each damping / personalisation / warm start:
    the transition matrix (the costly part at 10^7 edges) is not rebuilt.

    Parameters
    ----------
    matrix : square scipy sparse matrix
        Weighted adjacency, entry ``[u, v]``: ``u`` passes score to ``v`` (as ``transition``).
    reorder : bool
        Store the nodes internally by in-degree (faster mat-vecs, ~0.7 s more to build at
        10^7 edges); inputs and results stay in node order.

    Examples
    --------
    >>> a = sp.csr_array(np.array([[0, 1, 1], [0, 0, 1], [1, 0, 0]], dtype=float))
    >>> op = PageRankOperator(a)
    >>> res = op.solve(alpha=0.85, tol=1e-12)
    >>> res.converged, np.round(res.x, 4).tolist()
    (True, [0.3878, 0.2148, 0.3974])
    >>> warm = op.solve(alpha=0.85, x0=res.x, tol=1e-12)  # already converged: one step
    >>> warm.iterations, bool(np.abs(warm.x - res.x).max() < 1e-12)
    (1, True)
    >>> biased = op.solve(p=np.array([1.0, 0.0, 0.0]))  # personalised to node 0
    >>> int(biased.x.argmax())
    0
    """

    def __init__(self, matrix: sp.sparray | sp.spmatrix, reorder: bool = False) -> None:
        pt, dangling = transition(matrix)
        self._init(pt, dangling, reorder)

    @classmethod
    def from_transition(
        cls, pt: sp.csr_array, dangling: NDArray[np.bool_], reorder: bool = False
    ) -> PageRankOperator:
        """An operator over an existing ``transition`` result (no copy of the float64 data
        unless ``reorder``)."""
        op = cls.__new__(cls)
        op._init(_int32_indices(sp.csr_array(pt)), np.asarray(dangling, dtype=bool), reorder)
        return op

    def _init(self, pt: sp.csr_array, dangling: NDArray[np.bool_], reorder: bool) -> None:
        #: internal position -> node, or None when nodes keep their order
        self.order: NDArray[np.intp] | None = None
        if reorder:
            self.order = np.argsort(-np.diff(pt.indptr), kind="stable")
            pt, dangling = permute(pt, self.order), dangling[self.order]
        self.n = pt.shape[0]
        self.pt = pt
        self.pt32 = sp.csr_array(
            (pt.data.astype(np.float32), pt.indices, pt.indptr), shape=pt.shape
        )
        self.dangling = dangling
        self.dangling_idx = np.flatnonzero(dangling)
        self._mv64, self._mv32 = MatVec(self.pt), MatVec(self.pt32)

    def solve(
        self,
        alpha: float = 0.85,
        p: ArrayLike | None = None,
        dangling_weights: ArrayLike | None = None,
        x0: ArrayLike | None = None,
        tol: float = 1e-10,
        max_iter: int = 1000,
    ) -> PowerIteration:
        """PageRank in node order: stops when a float64 power step changes ``x`` by < ``tol`` (L1).

        ``p`` (teleport), ``dangling_weights`` (default ``p``) and ``x0`` (warm start, e.g. the
        previous run's scores; default uniform) are arrays in node order, normalised here.
        ``iterations`` counts all mat-vecs; ``max_iter`` caps them.
        """
        if self.n == 0:
            return PowerIteration(np.zeros(0), 0, True, 0.0)
        p_vec = self._inside(_unit(p, self.n, "p"))
        d_vec = (
            p_vec
            if dangling_weights is None
            else self._inside(_unit(dangling_weights, self.n, "dangling"))
        )
        x = self._inside(_unit(x0, self.n, "x0")).copy()
        teleport = (1.0 - alpha) * p_vec
        d32 = d_vec.astype(np.float32)
        it, delta, y = 0, float("inf"), x
        while it < max_iter:
            y = self._step64(x, alpha, teleport, d_vec)
            it += 1
            r = y - x
            delta = float(np.abs(r).sum())
            if delta < tol:
                return PowerIteration(self._outside(y / y.sum()), it, True, delta)
            budget = max_iter - it - 1  # keep one step for the float64 check
            if budget < 1:
                x = y
                continue
            inner_tol = max(0.5 * tol, _INNER_REDUCTION * delta)
            e, k = self._correction(r, alpha, d32, inner_tol, budget)
            it += k
            x += e
            # the fixed point sums to 1; rescaling removes float32 mass drift, the one error
            # mode that decays only at rate alpha (at 1 for LeaderRank, not at all)
            x /= x.sum()
        logger.warning(
            "PageRank did not converge in %d iterations (L1 change %.3g >= tol %.3g)",
            max_iter,
            delta,
            tol,
        )
        return PowerIteration(self._outside(y / y.sum()), it, False, delta)

    def _inside(self, vec: NDArray[np.float64]) -> NDArray[np.float64]:
        return vec if self.order is None else vec[self.order]

    def _outside(self, vec: NDArray[np.float64]) -> NDArray[np.float64]:
        if self.order is None:
            return vec
        out = np.empty_like(vec)
        out[self.order] = vec
        return out

    def _step64(
        self,
        x: NDArray[np.float64],
        alpha: float,
        teleport: NDArray[np.float64],
        d: NDArray[np.float64],
    ) -> NDArray[np.float64]:
        y: NDArray[np.float64] = self._mv64(x)
        mass = float(x[self.dangling_idx].sum())
        if mass:
            y += mass * d
        y *= alpha
        y += teleport
        return y

    def _correction(
        self,
        r: NDArray[np.float64],
        alpha: float,
        d32: NDArray[np.float32],
        tol: float,
        budget: int,
    ) -> tuple[NDArray[np.float32], int]:
        """Float32 iterations of ``e <- alpha * (P.T e + dangling(e) d) + r`` from ``e = r``."""
        r32 = r.astype(np.float32)
        e, diff = r32.copy(), np.empty_like(r32)
        scale, last = np.float32(alpha), float("inf")
        for k in range(1, budget + 1):
            y: NDArray[np.float32] = self._mv32(e)
            mass = float(e[self.dangling_idx].sum(dtype=np.float64))
            if mass:
                y += np.float32(mass) * d32
            y *= scale
            y += r32
            np.subtract(y, e, out=diff)
            delta = float(np.abs(diff, out=diff).sum(dtype=np.float64))
            e = y
            # stop at the target, or when float32 rounding stops the progress
            if delta < tol or delta >= 0.999 * last:
                return e, k
            last = delta
        return e, budget


def permute(m: sp.csr_array, order: NDArray[np.integer]) -> sp.csr_array:
    """``m[order][:, order]`` (row and column ``i`` of the result are ``order[i]`` of ``m``),
    built from index arrays: ~40% faster than SciPy's fancy indexing. Rows stay unsorted.

    Examples
    --------
    >>> m = sp.csr_array(np.array([[0.0, 1.0, 2.0], [3.0, 0.0, 0.0], [0.0, 4.0, 0.0]]))
    >>> permute(m, np.array([2, 0, 1])).toarray().tolist()
    [[0.0, 0.0, 4.0], [2.0, 0.0, 1.0], [0.0, 3.0, 0.0]]
    """
    n = m.shape[0]
    inverse = np.empty(n, dtype=np.int64)
    inverse[order] = np.arange(n)
    lens = np.diff(m.indptr)[order].astype(np.int64)
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lens, out=indptr[1:])
    starts = m.indptr[order].astype(np.int64)
    pos = np.arange(indptr[-1]) + np.repeat(starts - indptr[:-1], lens)
    out = sp.csr_array((m.data[pos], inverse[m.indices[pos]], indptr), shape=m.shape)
    return _int32_indices(out)


def _unit(vec: ArrayLike | None, n: int, name: str) -> NDArray[np.float64]:
    if vec is None:
        return np.full(n, 1.0 / n)
    v = np.asarray(vec, dtype=np.float64).ravel()
    if v.shape != (n,) or (v < 0).any() or not v.sum() > 0:
        raise ValueError(f"{name} needs a non-negative weight per node with a positive sum")
    return v / v.sum()


def fast_pagerank(
    matrix: sp.sparray | sp.spmatrix,
    alpha: float = 0.85,
    p: ArrayLike | None = None,
    x0: ArrayLike | None = None,
    tol: float = 1e-10,
    max_iter: int = 1000,
) -> PowerIteration:
    """PageRank of a CSR adjacency in node order: ``PageRankOperator(matrix).solve(...)``.

    Dangling nodes' score goes by ``p``. Build a ``PageRankOperator`` instead to rank one graph
    several times.

    Examples
    --------
    >>> a = sp.csr_array(np.array([[0, 1], [0, 0]], dtype=float))  # 0 -> 1, 1 dangles
    >>> res = fast_pagerank(a, alpha=0.5, tol=1e-12)
    >>> np.round(res.x, 6).tolist()  # x0 = 0.25 + 0.25 * x1, x1 = 0.25 + 0.5 * x0 + 0.25 * x1
    [0.4, 0.6]
    """
    return PageRankOperator(matrix).solve(alpha, p, None, x0, tol, max_iter)


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

    ``pt`` and ``dangling`` come from ``transition``. ``p``, ``dangling_weights`` and ``x0``
    must each sum to 1. The result is normalised to 1. Runs ``PageRankOperator.solve``
    (float32 iterations, float64 finish); reuse an operator to rank one graph many times.
    """
    op = PageRankOperator.from_transition(pt, dangling)
    return op.solve(alpha, p, dangling_weights, x0, tol, max_iter)


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
