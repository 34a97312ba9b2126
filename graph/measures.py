"""Influence measures beside PageRank, over the same CSR matrices (pure functions).

* ``leaderrank``: Lü et al. (2011). A *ground* node is linked both ways to every user, the walk
  has no teleport (the ground node plays its part, so there is no damping factor to choose), and
  at the end the ground node's score is shared equally among the users. Edge weights count
  (weighted LeaderRank); the ground links weigh 1.
* ``coreness``: the k-core number of each node on the undirected simple graph (self-loops and
  weights ignored), by the Batagelj-Zaversnik bucket algorithm, O(edges).

Both take the adjacency matrix that ``graph.build.to_csr`` gives (entry ``[u, v]``: ``u`` acted
toward ``v``, so influence flows to ``v``) and return arrays in node order.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from graph.rank import power_iteration, transition


def leaderrank(
    matrix: sp.sparray | sp.spmatrix, tol: float = 1e-12, max_iter: int = 10_000
) -> NDArray[np.float64]:
    """LeaderRank scores in node order, summing to 1 (empty graph: empty array)."""
    a = sp.csr_array(matrix, dtype=np.float64)
    n = a.shape[0]
    if n == 0:
        return np.zeros(0)
    ones = np.ones(n)
    # the ground node is row/column n: user -> ground and ground -> user, weight 1 each
    augmented = sp.block_array(
        [[a, sp.csr_array(ones[:, None])], [sp.csr_array(ones[None, :]), None]], format="csr"
    )
    pt, dangling = transition(augmented)  # no node dangles: every user links to the ground
    start = np.full(n + 1, 1.0 / (n + 1))
    res = power_iteration(pt, dangling, 1.0, start, start, start, tol, max_iter)
    scores = res.x[:n] + res.x[n] / n
    return scores / scores.sum()


def coreness(matrix: sp.sparray | sp.spmatrix) -> NDArray[np.int64]:
    """k-core number of each node of the undirected simple graph behind ``matrix``."""
    a = sp.csr_array(matrix)
    n = a.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    sym = sp.csr_array(a + a.T)
    sym.setdiag(0)
    sym.eliminate_zeros()
    sym.sort_indices()
    indptr, indices = sym.indptr, sym.indices
    degree = np.diff(indptr).astype(np.int64)
    # Batagelj-Zaversnik: nodes sorted by degree in buckets; peel the smallest, lowering the
    # degree of its neighbours that are still in a higher bucket.
    max_deg = int(degree.max(initial=0))
    bin_start = np.zeros(max_deg + 2, dtype=np.int64)
    np.add.at(bin_start, degree + 1, 1)
    bin_start = np.cumsum(bin_start)[:-1]
    order = np.argsort(degree, kind="stable")
    pos = np.empty(n, dtype=np.int64)
    pos[order] = np.arange(n)
    deg = degree.copy()
    starts = bin_start.copy()
    order_l, pos_l, deg_l, starts_l = order.tolist(), pos.tolist(), deg.tolist(), starts.tolist()
    ptr, nbrs = indptr.tolist(), indices.tolist()
    for i in range(n):
        v = order_l[i]
        dv = deg_l[v]
        for u in nbrs[ptr[v] : ptr[v + 1]]:
            du = deg_l[u]
            if du > dv:
                # swap u with the first node of its bucket, then move the bucket start past it
                pu, pw = pos_l[u], starts_l[du]
                w = order_l[pw]
                if u != w:
                    order_l[pu], order_l[pw] = w, u
                    pos_l[u], pos_l[w] = pw, pu
                starts_l[du] += 1
                deg_l[u] = du - 1
    return np.array(deg_l, dtype=np.int64)
