"""Influence maximisation on graphs whose best seeds are known by hand, and RR against CELF."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
import scipy.sparse as sp

from graph import im as im_module
from graph.im import edge_probabilities, select_seeds, simulate_spread


def star(n: int = 8) -> sp.csr_array:
    """Every leaf 1..n-1 acted toward the centre 0, so the centre's posts reach every leaf."""
    leaves = np.arange(1, n)
    return sp.csr_array((np.ones(n - 1), (leaves, np.zeros(n - 1, dtype=int))), shape=(n, n))


def random_graph(seed: int = 3, n: int = 25, m: int = 70) -> sp.csr_array:
    rng = np.random.default_rng(seed)
    src, dst = rng.integers(0, n, m), rng.integers(0, n, m)
    # node 0 is acted toward by many: the obvious best seed
    src, dst = np.append(src, np.arange(1, 12)), np.append(dst, np.zeros(11, dtype=int))
    return sp.csr_array((np.ones(len(src)), (src, dst)), shape=(n, n))


def test_edge_probabilities_weighted_cascade() -> None:
    # node 0 acted toward 1 once and toward 2 three times: 2's posts reach 0 with p 3/4
    a = sp.csr_array(np.array([[5.0, 1, 3], [0, 0, 0], [1, 0, 0]]))
    spread, probs = edge_probabilities(a)
    p = sp.csr_array((probs, spread.indices, spread.indptr), spread.shape).toarray()
    assert np.allclose(p, [[0, 0, 1], [0.25, 0, 0], [0.75, 0, 0]])  # self-loop dropped
    # every receiver's incoming probabilities sum to 1 (or 0 when it never acted)
    assert np.allclose(p.sum(axis=0), [1, 0, 1])


@pytest.mark.parametrize("method", ["rr", "celf"])
def test_star_centre_first_with_spread_n(method: str) -> None:
    spread, probs = edge_probabilities(star(), kind="constant", p=1.0)
    seeds, est = select_seeds(spread, probs, k=2, method=method, samples=500, rng=1)
    assert seeds[0] == 0
    assert est == pytest.approx(8.0)
    assert simulate_spread(spread, probs, [0], runs=50, rng=0) == 8.0


@pytest.mark.parametrize("method", ["rr", "celf"])
def test_excluded_never_chosen(method: str) -> None:
    spread, probs = edge_probabilities(random_graph())
    exclude = {0, 5, 7}
    seeds, _ = select_seeds(spread, probs, k=6, exclude=exclude, method=method, samples=300, rng=2)
    assert len(seeds) == 6 and not exclude & set(seeds)


def test_k_larger_than_allowed_nodes() -> None:
    spread, probs = edge_probabilities(star(4), kind="constant", p=1.0)
    seeds, _ = select_seeds(spread, probs, k=10, exclude=[1], samples=100, rng=0)
    assert sorted(seeds) == [0, 2, 3]


def test_rr_and_celf_agree_on_first_seed() -> None:
    spread, probs = edge_probabilities(random_graph())
    rr, rr_est = select_seeds(spread, probs, k=1, samples=5000, rng=3)
    celf, celf_est = select_seeds(spread, probs, k=1, method="celf", samples=2000, rng=4)
    assert rr[0] == celf[0] == 0
    assert rr_est == pytest.approx(celf_est, rel=0.1)


def test_isolated_seed_spreads_to_itself_only() -> None:
    a = star(5)
    a = sp.block_diag([a, sp.csr_array((1, 1))]).tocsr()
    spread, probs = edge_probabilities(a, kind="constant", p=1.0)
    assert simulate_spread(spread, probs, [5], runs=20, rng=0) == 1.0


def test_simulated_spread_matches_exact_on_a_path() -> None:
    # 2 -> 1 -> 0 in the spreading graph with p = 0.5: E = 1 + 0.5 + 0.25
    a = sp.csr_array((np.ones(2), ([0, 1], [1, 2])), shape=(3, 3))
    spread, probs = edge_probabilities(a, kind="constant", p=0.5)
    assert simulate_spread(spread, probs, [2], runs=20_000, rng=0) == pytest.approx(1.75, abs=0.03)


def test_docstring_examples() -> None:
    result = doctest.testmod(im_module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
