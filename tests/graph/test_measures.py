"""LeaderRank and coreness on tiny graphs with hand-checked answers, and against references."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp

from graph.measures import coreness, leaderrank


def _matrix(
    edges: list[tuple[int, int]], n: int, weights: list[float] | None = None
) -> sp.csr_array:
    rows, cols = zip(*edges, strict=True) if edges else ((), ())
    data = weights or [1.0] * len(edges)
    return sp.csr_array((data, (rows, cols)), shape=(n, n))


def _leaderrank_dense(a: np.ndarray) -> np.ndarray:
    """Reference: the stationary vector of the augmented walk by an eigen-solve."""
    n = a.shape[0]
    aug = np.zeros((n + 1, n + 1))
    aug[:n, :n] = a
    aug[:n, n] = 1.0
    aug[n, :n] = 1.0
    p = aug / aug.sum(axis=1, keepdims=True)
    vals, vecs = np.linalg.eig(p.T)
    x = np.real(vecs[:, np.argmin(np.abs(vals - 1))])
    x = x / x.sum()
    s = x[:n] + x[n] / n
    return s / s.sum()


def test_leaderrank_star_ranks_the_centre_first_and_leaves_symmetric() -> None:
    # three fans act toward the star (0); the star answers fan 1
    a = _matrix([(1, 0), (2, 0), (3, 0), (0, 1)], 4)
    s = leaderrank(a)
    assert s.argmax() == 0 and s.sum() == pytest.approx(1.0)
    assert s[2] == pytest.approx(s[3]) and s[1] > s[2]  # fan 1 is answered by the star


def test_leaderrank_equals_the_dense_eigenvector() -> None:
    rng = np.random.default_rng(3)
    a = (rng.random((12, 12)) < 0.2) * rng.integers(1, 4, (12, 12)).astype(float)
    a[5] = 0  # a node with no out-edges: the ground node keeps the walk going
    a[7, 7] = 2.0  # a self-loop counts
    np.testing.assert_allclose(leaderrank(sp.csr_array(a)), _leaderrank_dense(a), atol=1e-9)


def test_leaderrank_empty_and_single() -> None:
    assert leaderrank(sp.csr_array((0, 0))).shape == (0,)
    assert leaderrank(sp.csr_array((1, 1))).tolist() == [1.0]


def test_coreness_hand_checked() -> None:
    # a triangle (0, 1, 2) with a tail 2 - 3 - 4, a self-loop on 4 and an isolated node 5
    edges = [(0, 1), (1, 2), (2, 0), (2, 3), (3, 4), (4, 4)]
    assert coreness(_matrix(edges, 6)).tolist() == [2, 2, 2, 1, 1, 0]


def test_coreness_matches_networkx_on_random_graphs() -> None:
    rng = np.random.default_rng(11)
    for n, p in ((30, 0.1), (60, 0.08), (100, 0.03)):
        a = sp.csr_array(rng.random((n, n)) < p, dtype=float)
        g = nx.Graph(nx.from_scipy_sparse_array(a, create_using=nx.DiGraph).to_undirected())
        g.remove_edges_from(nx.selfloop_edges(g))
        expected = nx.core_number(g)
        assert coreness(a).tolist() == [expected[i] for i in range(n)]
