"""PageRank against two references (networkx with a tight tol, a dense linear solve / eigenvector)
and on tiny graphs whose answer is known by hand."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp

from graph.rank import (
    PageRankOperator,
    fast_pagerank,
    node_vector,
    pagerank,
    permute,
    power_iteration,
    transition,
)

ALPHA = 0.85


def messy_matrix(seed: int, n: int = 30) -> sp.csr_array:
    """A random weighted digraph with every awkward case: dangling nodes, nodes whose only
    out-edges weigh 0 (also dangling), self-loops, zero-weight edges, duplicate entries."""
    rng = np.random.default_rng(seed)
    m = 4 * n
    src = rng.integers(0, n - 4, m)  # the last 4 nodes never act: dangling
    dst = rng.integers(0, n, m)
    w = rng.exponential(1.0, m)
    w[rng.random(m) < 0.15] = 0.0  # zero-weight edges
    src[:3], dst[:3] = [0, 1, 2], [0, 1, 2]  # self-loops
    # duplicate entries
    src, dst, w = np.append(src, [5, 5]), np.append(dst, [6, 6]), np.append(w, [1.0, 2.0])
    w[src == 7] = 0.0  # node 7 acts, but only with zero weight
    return sp.coo_array((w, (src, dst)), shape=(n, n)).tocsr()


def dense_reference(a: np.ndarray, alpha: float, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact PageRank two ways: a linear solve and the Google matrix's leading eigenvector."""
    n = a.shape[0]
    out = a.sum(axis=1)
    m = np.where(out[:, None] > 0, a / np.where(out > 0, out, 1.0)[:, None], p[None, :])
    solve = np.linalg.solve(np.eye(n) - alpha * m.T, (1 - alpha) * p)
    google = alpha * m + (1 - alpha) * np.outer(np.ones(n), p)
    vals, vecs = np.linalg.eig(google.T)
    eig = np.real(vecs[:, np.argmax(np.real(vals))])
    return solve / solve.sum(), eig / eig.sum()


def as_array(scores: dict, n: int) -> np.ndarray:
    return np.array([scores[i] for i in range(n)])


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("personalized", [False, True])
def test_matches_dense_reference(seed: int, personalized: bool) -> None:
    a = messy_matrix(seed)
    n = a.shape[0]
    p = np.random.default_rng(seed).random(n) if personalized else np.ones(n)
    p /= p.sum()
    pr = pagerank(a, ALPHA, personalization=p if personalized else None, tol=1e-13)
    solve, eig = dense_reference(a.toarray(), ALPHA, p)
    assert pr.converged
    assert np.abs(as_array(pr.scores, n) - solve).max() < 1e-9
    assert np.abs(as_array(pr.scores, n) - eig).max() < 1e-9


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_networkx_with_tight_tol(seed: int) -> None:
    a = messy_matrix(seed)
    g = nx.from_scipy_sparse_array(a, create_using=nx.DiGraph)  # keeps zero-weight and self-loops
    n = g.number_of_nodes()
    ours = pagerank(g, ALPHA, tol=1e-13)
    # networkx stops at L1 change < N * tol: divide by N for the same accuracy
    ref = nx.pagerank(g, ALPHA, tol=1e-13 / n, max_iter=100_000)
    assert max(abs(ours.scores[v] - ref[v]) for v in g) < 1e-9


def test_matches_networkx_personalized_and_dangling() -> None:
    g = nx.from_scipy_sparse_array(messy_matrix(4), create_using=nx.DiGraph)
    pers = {0: 1.0, 3: 2.0, 9: 0.5}
    dang = {1: 1.0, 2: 1.0}
    ours = pagerank(g, 0.9, personalization=pers, dangling=dang, tol=1e-13)
    ref = nx.pagerank(
        g, 0.9, personalization=pers, dangling=dang, tol=1e-13 / len(g), max_iter=100_000
    )
    assert max(abs(ours.scores[v] - ref[v]) for v in g) < 1e-9


def test_star_hub_ranks_first() -> None:
    # Five fans point at the hub; the hub points back at nobody: it is dangling and spreads
    # its score uniformly. By symmetry all fans are equal, and the hub gets the rest.
    star = nx.DiGraph([(f"fan{i}", "hub") for i in range(5)])
    pr = pagerank(star, tol=1e-14)
    fans = [pr.scores[f"fan{i}"] for i in range(5)]
    assert max(pr.scores, key=pr.scores.get) == "hub"
    assert max(fans) - min(fans) < 1e-15
    # by hand: a fan gets teleport plus its share of the hub's dangling mass,
    # f = (1 - a)/6 + a*h/6 with h = 1 - 5f, so f = 1 / (6 + 5a)
    assert fans[0] == pytest.approx(1 / (6 + 5 * ALPHA), abs=1e-12)
    assert pr.scores["hub"] == pytest.approx(1 - 5 / (6 + 5 * ALPHA), abs=1e-12)


def test_cycle_is_uniform() -> None:
    cycle = nx.DiGraph(nx.cycle_graph(7, create_using=nx.DiGraph))
    pr = pagerank(cycle, tol=1e-14)
    assert pr.converged and pr.iterations == 1  # the uniform start is already the answer
    assert all(abs(v - 1 / 7) < 1e-15 for v in pr.scores.values())


def test_two_node_weights_hand_checked() -> None:
    # a -> b (weight 3), a -> c (weight 1), b and c dangling. With alpha = 0.5:
    # a = 1/6 + 0.5*(b + c)/3, b = 1/6 + 0.5*(3a/4 + (b + c)/3), c = 1/6 + 0.5*(a/4 + (b + c)/3)
    g = nx.DiGraph()
    g.add_weighted_edges_from([("a", "b", 3.0), ("a", "c", 1.0)])
    pr = pagerank(g, alpha=0.5, tol=1e-15)
    m = np.array([[1, -1 / 6, -1 / 6], [-3 / 8, 5 / 6, -1 / 6], [-1 / 8, -1 / 6, 5 / 6]])
    a, b, c = np.linalg.solve(m, np.full(3, 1 / 6))
    assert pr.scores == pytest.approx({"a": a, "b": b, "c": c}, abs=1e-12)
    assert pr.scores["b"] > pr.scores["c"] > pr.scores["a"]


def test_graph_and_matrix_inputs_agree_and_are_not_mutated() -> None:
    a = messy_matrix(5)
    before = a.copy()
    g = nx.from_scipy_sparse_array(a, create_using=nx.DiGraph)
    edges_before = list(g.edges(data=True))
    from_matrix = pagerank(a, nodelist=[f"n{i}" for i in range(a.shape[0])])
    from_graph = pagerank(g)
    assert from_matrix.scores == {f"n{i}": v for i, v in from_graph.scores.items()}
    assert (a != before).nnz == 0 and np.array_equal(a.indices, before.indices)
    assert list(g.edges(data=True)) == edges_before


def test_stops_on_l1_change_not_n_times_tol() -> None:
    a = messy_matrix(6, n=200)
    loose, tight = pagerank(a, tol=1e-4), pagerank(a, tol=1e-12)
    assert loose.delta < 1e-4 and tight.delta < 1e-12
    assert tight.iterations > loose.iterations
    # L1 error after stopping is bounded by delta * alpha / (1 - alpha)
    err = sum(abs(loose.scores[i] - tight.scores[i]) for i in range(200))
    assert err < 1e-4 * ALPHA / (1 - ALPHA)


def test_not_converged_is_reported_not_raised() -> None:
    pr = pagerank(messy_matrix(7), max_iter=2, tol=1e-15)
    assert (pr.converged, pr.iterations) == (False, 2)
    assert sum(pr.scores.values()) == pytest.approx(1.0)


def test_empty_graph() -> None:
    assert pagerank(nx.DiGraph()) == ({}, 0, True, 0.0)
    assert pagerank(sp.csr_array((0, 0))).scores == {}
    assert fast_pagerank(sp.csr_array((0, 0))).x.shape == (0,)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"personalization": {0: 0.0}}, "personalization"),
        ({"nstart": [1.0, -1.0, 1.0]}, "nstart"),
        ({"dangling": [1.0, 1.0]}, "dangling"),
    ],
)
def test_bad_vectors_are_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        pagerank(sp.csr_array(np.ones((3, 3))), **kwargs)


def test_negative_weights_and_non_square_are_refused() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        transition(sp.csr_array(np.array([[0.0, -1.0], [1.0, 0.0]])))
    with pytest.raises(ValueError, match="square"):
        transition(sp.csr_array(np.ones((2, 3))))
    with pytest.raises(TypeError):
        pagerank(np.ones((2, 2)))  # type: ignore[arg-type]


# --- the float32 / float64 kernel (PageRankOperator) ----------------------------------------


def heavy_tailed(seed: int, n: int = 2000, m: int = 12_000) -> sp.csr_array:
    """A medium digraph like the real one: a few users receive most edges, many dangle,
    with self-loops and zero-weight edges mixed in."""
    rng = np.random.default_rng(seed)
    pop = rng.pareto(1.1, n) + 1.0
    src = rng.integers(0, n // 2, m)  # half the nodes never act: dangling
    dst = rng.choice(n, m, p=pop / pop.sum())
    w = rng.exponential(1.0, m)
    w[rng.random(m) < 0.05] = 0.0
    dst[:20] = src[:20]  # self-loops (on nodes that also have other out-edges)
    return sp.coo_array((w, (src, dst)), shape=(n, n)).tocsr()


def long_reference(a: sp.csr_array, alpha: float, p: np.ndarray) -> np.ndarray:
    """Plain float64 power iteration run far past any tolerance in use (the old kernel)."""
    out = np.asarray(a.sum(axis=1)).ravel()
    dangling = out == 0
    pt = sp.csr_array(
        (sp.diags_array(np.divide(1.0, out, where=~dangling, out=np.zeros_like(out))) @ a).T
    )
    x = np.full(a.shape[0], 1.0 / a.shape[0])
    for _ in range(2000):
        x = alpha * (pt @ x + x[dangling].sum() * p) + (1 - alpha) * p
    return x / x.sum()


def top(x: np.ndarray, k: int = 100) -> set[int]:
    return set(np.argsort(-x, kind="stable")[:k].tolist())


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("personalized", [False, True])
def test_fast_kernel_matches_long_float64_reference(seed: int, personalized: bool) -> None:
    a = heavy_tailed(seed)
    n = a.shape[0]
    rng = np.random.default_rng(seed)
    p = rng.random(n) * (rng.random(n) < 0.1) if personalized else np.ones(n)
    p /= p.sum()
    ref = long_reference(a, ALPHA, p)
    for tol in (1e-10, 1e-13):
        res = fast_pagerank(a, ALPHA, p=p, tol=tol)
        assert res.converged and res.delta < tol
        # after an L1 change d the L1 error is at most d * alpha / (1 - alpha)
        assert np.abs(res.x - ref).sum() < res.delta * ALPHA / (1 - ALPHA) + 1e-15
        assert top(res.x) == top(ref)
    assert np.abs(res.x - ref).max() < 1e-12


def test_operator_is_reusable_and_agrees_with_pagerank() -> None:
    a = messy_matrix(8, n=60)
    op = PageRankOperator(a)
    for alpha, pers in ((0.85, None), (0.6, {0: 1.0, 5: 3.0})):
        want = pagerank(a, alpha, personalization=pers, tol=1e-13)
        p = None if pers is None else node_vector(pers, list(range(60)), "p")
        got = op.solve(alpha, p=p, tol=1e-13)
        assert np.abs(got.x - as_array(want.scores, 60)).max() < 1e-12


def test_warm_start_same_answer_in_fewer_iterations() -> None:
    a = heavy_tailed(3)
    # the previous run's graph: 1% of the edges rewired
    old = a.tocoo()
    rng = np.random.default_rng(0)
    moved = rng.random(old.nnz) < 0.01
    col = np.where(moved, rng.integers(0, a.shape[0], old.nnz), old.col)
    before = sp.coo_array((old.data, (old.row, col)), shape=a.shape).tocsr()
    previous = fast_pagerank(before, tol=1e-10).x
    cold, warm = fast_pagerank(a, tol=1e-10), fast_pagerank(a, x0=previous, tol=1e-10)
    assert warm.converged and warm.iterations < cold.iterations
    assert np.abs(warm.x - cold.x).max() < 1e-11
    # starting from the answer itself: one float64 step confirms it
    assert fast_pagerank(a, x0=cold.x, tol=1e-10).iterations == 1


def test_fast_kernel_leaves_inputs_alone() -> None:
    a = heavy_tailed(4, n=300, m=1500)
    pt, dangling = transition(a)
    before = (pt.data.copy(), pt.indices.copy(), dangling.copy())
    x0 = np.full(300, 1 / 300)
    power_iteration(pt, dangling, ALPHA, x0, x0, x0, 1e-10, 1000)
    assert np.array_equal(pt.data, before[0]) and np.array_equal(pt.indices, before[1])
    assert np.array_equal(dangling, before[2]) and np.all(x0 == 1 / 300)


def test_matches_igraph_prpack() -> None:
    igraph = pytest.importorskip("igraph")
    a = heavy_tailed(5).tocoo()
    keep = a.data > 0  # PRPACK gets the same graph without the zero-weight edges
    g = igraph.Graph(n=a.shape[0], edges=np.column_stack([a.row[keep], a.col[keep]]), directed=True)
    ref = np.array(
        g.pagerank(damping=ALPHA, weights=a.data[keep].tolist(), implementation="prpack")
    )
    res = fast_pagerank(a.tocsr(), ALPHA, tol=1e-12)
    assert np.abs(res.x - ref).max() < 1e-9
    assert top(res.x) == top(ref)


def test_permute_round_trip() -> None:
    a = messy_matrix(9, n=50)
    order = np.random.default_rng(1).permutation(50)
    moved = permute(a, order)
    assert np.array_equal(moved.toarray(), a.toarray()[order][:, order])
    back = np.empty(50, dtype=np.int64)
    back[order] = np.arange(50)
    assert np.array_equal(permute(moved, back).toarray(), a.toarray())


@pytest.mark.parametrize("seed", [0, 1])
def test_reordered_operator_gives_the_same_answer_in_node_order(seed: int) -> None:
    a = heavy_tailed(seed, n=500, m=3000)
    rng = np.random.default_rng(seed)
    p, d, x0 = rng.random(500), rng.random(500), rng.random(500)
    plain = PageRankOperator(a)
    reordered = PageRankOperator(a, reorder=True)
    assert reordered.order is not None and not np.array_equal(reordered.order, np.arange(500))
    for kwargs in ({}, {"p": p, "dangling_weights": d, "x0": x0}):
        want, got = plain.solve(tol=1e-13, **kwargs), reordered.solve(tol=1e-13, **kwargs)
        assert got.converged and np.abs(got.x - want.x).max() < 1e-13


def test_threaded_matvec_on_row_blocks_equals_the_plain_product(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from graph import rank

    rng = np.random.default_rng(11)
    n = 300
    rows, cols = rng.integers(0, n, 4000), rng.zipf(1.5, 4000) % n
    m = sp.csr_array((rng.random(4000), (rows, cols)), shape=(n, n))
    m.sum_duplicates()
    x = rng.random(n)
    monkeypatch.setattr(rank, "PARALLEL_NNZ", 1)
    for threads in (2, 3, 7):
        mv = rank.MatVec(m, threads=threads)
        assert 1 < len(mv.blocks) <= threads
        assert sum(b.nnz for b in mv.blocks) == m.nnz
        assert np.array_equal(mv(x), m @ x)
    # the whole PageRank on blocks equals the one on the plain matrix
    threaded = rank.PageRankOperator(m).solve(tol=1e-12)
    monkeypatch.setattr(rank, "PARALLEL_NNZ", 10**9)
    plain = rank.PageRankOperator(m).solve(tol=1e-12)
    assert np.array_equal(threaded.x, plain.x) and threaded.iterations == plain.iterations
