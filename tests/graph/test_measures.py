"""LeaderRank and coreness on tiny graphs with hand-checked answers, and against references."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp

from graph.measures import coreness, igraph, leaderrank


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


BACKENDS = [
    "numpy",
    "python",
    pytest.param("igraph", marks=pytest.mark.skipif(igraph is None, reason="no igraph")),
]


@pytest.mark.parametrize("backend", BACKENDS)
def test_coreness_hand_checked(backend: str) -> None:
    # a triangle (0, 1, 2) with a tail 2 - 3 - 4, a self-loop on 4 and an isolated node 5;
    # the zero-weight edge 5 -> 0 is no edge, so 5 stays isolated
    edges = [(0, 1), (1, 2), (2, 0), (2, 3), (3, 4), (4, 4), (5, 0)]
    a = _matrix(edges, 6, [1.0] * 6 + [0.0])
    assert coreness(a, backend=backend).tolist() == [2, 2, 2, 1, 1, 0]


@pytest.mark.parametrize("backend", BACKENDS)
def test_coreness_matches_networkx_on_random_graphs(backend: str) -> None:
    rng = np.random.default_rng(11)
    for n, p in ((30, 0.1), (60, 0.08), (100, 0.03), (400, 0.02)):
        a = sp.csr_array(rng.random((n, n)) < p, dtype=float)
        g = nx.Graph(nx.from_scipy_sparse_array(a, create_using=nx.DiGraph).to_undirected())
        g.remove_edges_from(nx.selfloop_edges(g))
        expected = nx.core_number(g)
        assert coreness(a, backend=backend).tolist() == [expected[i] for i in range(n)]


def test_coreness_backends_agree_on_a_heavy_tailed_graph() -> None:
    # hubs with deep cores, many leaves, duplicates, both directions of one pair
    rng = np.random.default_rng(5)
    n, m = 3000, 20_000
    pop = rng.pareto(1.1, n) + 1.0
    src, dst = rng.integers(0, n, m), rng.choice(n, m, p=pop / pop.sum())
    a = sp.coo_array((np.ones(m), (src, dst)), shape=(n, n)).tocsr()
    python = coreness(a, backend="python")
    assert np.array_equal(coreness(a, backend="numpy"), python)
    if igraph is not None:
        assert np.array_equal(coreness(a, backend="igraph"), python)
    assert python.max() > 5  # a deep core exists, so the check means something


def test_coreness_unknown_backend_is_refused() -> None:
    with pytest.raises(ValueError, match="backend"):
        coreness(_matrix([(0, 1)], 2), backend="networkit")  # type: ignore[arg-type]


def test_leaderrank_matches_dense_on_a_medium_graph() -> None:
    # the float32 / float64 kernel with alpha = 1 (no teleport) on a few hundred nodes
    rng = np.random.default_rng(9)
    a = (rng.random((300, 300)) < 0.02) * rng.exponential(1.0, (300, 300))
    a[:40] = 0  # dangling users
    n = a.shape[0]
    aug = np.zeros((n + 1, n + 1))
    aug[:n, :n], aug[:n, n], aug[n, :n] = a, 1.0, 1.0
    # stationary vector by a linear solve: (P.T - I) x = 0 with one row swapped for sum(x) = 1
    system = (aug / aug.sum(axis=1, keepdims=True)).T - np.eye(n + 1)
    system[-1] = 1.0
    x = np.linalg.solve(system, np.eye(n + 1)[-1])
    expected = x[:n] + x[n] / n
    np.testing.assert_allclose(leaderrank(sp.csr_array(a)), expected / expected.sum(), atol=1e-12)
