"""Louvain on hand-made graphs whose communities are obvious, and the per-community summary."""

from __future__ import annotations

import doctest
import itertools
import random
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from graph import communities as communities_module
from graph.communities import communities, describe, igraph, modularity

needs_igraph = pytest.mark.skipif(igraph is None, reason="igraph is not installed")
BACKENDS = ["networkx", pytest.param("igraph", marks=needs_igraph)]


def two_cliques(size: int = 5) -> sp.csr_array:
    """Two directed cliques of ``size`` nodes joined by one edge (node size-1 -> node size)."""
    pairs = [
        (u, v)
        for block in (range(size), range(size, 2 * size))
        for u, v in itertools.permutations(block, 2)
    ]
    pairs.append((size - 1, size))
    src, dst = zip(*pairs, strict=True)
    return sp.csr_array((np.ones(len(src)), (src, dst)), shape=(2 * size, 2 * size))


@pytest.mark.parametrize("backend", BACKENDS)
def test_two_cliques_split_in_two(backend: str) -> None:
    labels = communities(two_cliques(), backend=backend)
    assert sorted(set(labels.tolist())) == [0, 1]
    assert len(set(labels[:5].tolist())) == 1 and len(set(labels[5:].tolist())) == 1
    assert labels[0] != labels[5]
    assert modularity(two_cliques(), labels) > 0.4


@pytest.mark.parametrize("backend", BACKENDS)
def test_ids_run_by_size_and_isolated_nodes_stand_alone(backend: str) -> None:
    # a bigger clique (6) then a smaller one (4), then one isolated node
    a = sp.block_diag([two_cliques(3)[:3, :3], two_cliques(2)[:2, :2], sp.csr_array((1, 1))])
    big = sp.block_diag([sp.csr_array(np.ones((6, 6)) - np.eye(6)), a]).tocsr()
    labels = communities(big, backend=backend)
    assert labels[:6].tolist() == [0] * 6  # the largest community gets id 0
    assert len(set(labels.tolist())) == 4
    assert labels[-1] == 3  # the isolated node, smallest, last


def test_describe_picks_dominant_interest_and_top_voices() -> None:
    labels = np.array([0, 0, 0, 1, 1])
    scores = np.array([0.1, 0.4, 0.2, 0.05, 0.25])
    interests = [["tea", "go"], ["tea"], ["tea", "tea"], ["go"], ["go", "cats"]]
    out = describe(labels, scores, interests, top=2)
    assert [c["size"] for c in out] == [3, 2]
    # "tea" repeated by node 2 still counts once for that node
    assert out[0]["interests"] == [("tea", 3, 1.0), ("go", 1, 1 / 3)]
    assert out[0]["voices"] == [1, 2]
    assert out[1]["interests"][0] == ("go", 2, 1.0)
    assert out[1]["voices"] == [4, 3]


def test_docstring_examples() -> None:
    result = doctest.testmod(communities_module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


@needs_igraph
def test_igraph_is_seeded_and_leaves_the_global_random_state_alone() -> None:
    rng = np.random.default_rng(2)
    a = sp.csr_array((rng.random((200, 200)) < 0.03).astype(float))
    state = random.getstate()
    first = communities(a, seed=3, backend="igraph")
    assert random.getstate() == state
    assert np.array_equal(communities(a, seed=3, backend="igraph"), first)


@needs_igraph
def test_modularity_backends_agree() -> None:
    rng = np.random.default_rng(4)
    dense = rng.exponential(1.0, (80, 80)) * (rng.random((80, 80)) < 0.1)
    dense[3, 3] = 2.0  # a self-loop counts the same way in both
    a = sp.csr_array(dense)
    labels = rng.integers(0, 4, 80)
    assert modularity(a, labels, backend="igraph") == pytest.approx(
        modularity(a, labels, backend="networkx"), abs=1e-12
    )


@pytest.mark.shared
@needs_igraph
def test_backends_reach_the_same_modularity_on_email_eu_core(shared_dir: Path) -> None:
    path = shared_dir / "data" / "graphs" / "email-Eu-core.txt"
    if not path.exists():
        pytest.skip(f"{path} is absent")
    edges = np.loadtxt(path, dtype=np.int64)
    n = int(edges.max()) + 1
    a = sp.csr_array((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(n, n))
    q = {b: modularity(a, communities(a, backend=b)) for b in ("igraph", "networkx")}
    assert q["igraph"] > 0.4 and abs(q["igraph"] - q["networkx"]) < 0.01
