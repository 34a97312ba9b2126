"""Louvain on hand-made graphs whose communities are obvious, and the per-community summary."""

from __future__ import annotations

import doctest
import itertools

import numpy as np
import scipy.sparse as sp

from graph import communities as communities_module
from graph.communities import communities, describe, modularity


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


def test_two_cliques_split_in_two() -> None:
    labels = communities(two_cliques())
    assert sorted(set(labels.tolist())) == [0, 1]
    assert len(set(labels[:5].tolist())) == 1 and len(set(labels[5:].tolist())) == 1
    assert labels[0] != labels[5]
    assert modularity(two_cliques(), labels) > 0.4


def test_ids_run_by_size_and_isolated_nodes_stand_alone() -> None:
    # a bigger clique (6) then a smaller one (4), then one isolated node
    a = sp.block_diag([two_cliques(3)[:3, :3], two_cliques(2)[:2, :2], sp.csr_array((1, 1))])
    big = sp.block_diag([sp.csr_array(np.ones((6, 6)) - np.eye(6)), a]).tocsr()
    labels = communities(big)
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
