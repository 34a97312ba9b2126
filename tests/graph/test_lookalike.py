"""Look-alikes on a small graph whose answer is known by hand."""

from __future__ import annotations

import doctest

import numpy as np
import scipy.sparse as sp

from graph import lookalike as lookalike_module
from graph.lookalike import lookalikes, tag_similarity

# seeds 0, 1, 2; node 3 is tied to every seed and shares their tags; node 4 has the tags but
# no links; node 5 hangs off node 3 with other tags; nodes 6-7 are an unrelated pair.
EDGES = [(3, 0), (3, 1), (2, 3), (5, 3), (6, 7)]
TAGS = [["tea", "go"], ["tea"], ["tea", "go"], ["tea", "go"], ["tea", "go"], ["cats"], ["cats"], []]


def graph() -> sp.csr_array:
    src, dst = zip(*EDGES, strict=True)
    return sp.csr_array((np.ones(len(src)), (src, dst)), shape=(8, 8))


def test_node_tied_to_seeds_with_their_tags_ranks_first() -> None:
    ranked = lookalikes(graph(), [0, 1, 2], TAGS, k=10)
    nodes = [v for v, _, _ in ranked]
    assert nodes[0] == 3
    assert ranked[0][2]["ppr"] == 1.0  # the most-visited candidate
    # the linkless look-alike still beats the linked node with other tags
    assert nodes.index(4) < nodes.index(5)
    assert 6 not in nodes and 7 not in nodes  # unreachable and no shared tag: score 0
    assert not {0, 1, 2} & set(nodes)


def test_exclude_and_k() -> None:
    ranked = lookalikes(graph(), [0, 1, 2], TAGS, k=1, exclude=[3])
    assert [v for v, _, _ in ranked] == [4]


def test_mix_extremes() -> None:
    # graph only: the linkless node 4 drops out; tags only: node 5 drops out
    graph_only = [v for v, _, _ in lookalikes(graph(), [0, 1, 2], TAGS, mix=1.0)]
    tags_only = [v for v, _, _ in lookalikes(graph(), [0, 1, 2], TAGS, mix=0.0)]
    assert 4 not in graph_only and 5 in graph_only
    assert tags_only == [3, 4]


def test_tag_similarity_is_cosine_to_pooled_profile() -> None:
    # pooled profile of seeds 0, 1: tea 2, go 1 -> |p| = sqrt(5)
    sim = tag_similarity(TAGS, [0, 1])
    assert np.isclose(sim[1], 2 / np.sqrt(5))
    assert np.isclose(sim[3], 3 / (np.sqrt(2) * np.sqrt(5)))
    assert sim[5] == sim[7] == 0.0


def test_docstring_examples() -> None:
    result = doctest.testmod(lookalike_module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
