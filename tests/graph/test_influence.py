"""Expected reach, engagement rate, quality, affinity and modularity on hand-checked graphs."""

from __future__ import annotations

import doctest

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp

from graph import influence
from graph.influence import (
    affinity,
    engagement_rates,
    epidemic_threshold,
    expected_reach,
    modularity_of,
    quality,
    reach_beta,
    spreading,
    tag_interests,
)


def adjacency(n: int, edges: list[tuple[int, int]], weights: list[float] | None = None):
    rows, cols = zip(*edges, strict=True)
    w = np.ones(len(edges)) if weights is None else np.asarray(weights, dtype=float)
    return sp.csr_array((w, (rows, cols)), shape=(n, n))


def test_spreading_counts_each_engager_once_and_drops_self_loops_and_zero_weights() -> None:
    # 1 comments on 0 five times (one aggregated entry of weight 5), 2 once, 3 with weight 0
    a = adjacency(4, [(1, 0), (2, 0), (3, 0), (0, 0)], [5.0, 1.0, 0.0, 2.0])
    s = spreading(a)
    assert s.toarray().tolist() == [[0, 1, 1, 0], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]


def test_expected_reach_by_hand() -> None:
    # 1 and 2 engage with 0; 3 engages with 1; 4 engages with 3 (three steps from 0)
    s = spreading(adjacency(5, [(1, 0), (2, 0), (3, 1), (4, 3)]))
    b = 0.5
    reach = expected_reach(s, b, hops=3)
    assert reach[0] == pytest.approx(2 * b + 1 * b**2 + 1 * b**3)
    assert reach[1] == pytest.approx(b + b**2)
    assert reach[4] == 0.0
    assert expected_reach(s, b, hops=1).tolist() == [1.0, 0.5, 0.0, 0.5, 0.0]
    # audience weights: only node 4 cares about the topic -> only 0, 1 and 3 reach it
    only4 = expected_reach(s, b, hops=3, audience=[0, 0, 0, 0, 1])
    assert only4.tolist() == pytest.approx([b**3, b**2, 0, b, 0])
    with pytest.raises(ValueError, match="one weight per node"):
        expected_reach(s, b, audience=[1, 2])


def test_reach_beta_is_the_threshold_unless_set() -> None:
    star = spreading(adjacency(5, [(1, 0), (2, 0), (3, 0), (4, 0)]))
    # out-degrees in the spreading graph: [4, 0, 0, 0, 0] -> <k> = 0.8, <k^2> = 3.2
    assert epidemic_threshold(star) == pytest.approx(0.8 / (3.2 - 0.8))
    assert reach_beta(star) == pytest.approx(1 / 3)
    assert reach_beta(star, 0.2) == 0.2
    lonely = spreading(adjacency(2, [(1, 0)]))
    assert reach_beta(lonely) == 1.0  # no node passes to two: threshold inf, capped at 1


def test_engagement_rate_is_the_median_per_post_over_followers() -> None:
    rates = engagement_rates(
        author=[0, 0, 0, 1, 2], engagements=[10, 20, 1000, np.nan, 5],
        followers=[100, 10, np.nan], n_nodes=4,
    )  # fmt: skip
    assert rates[0] == pytest.approx(0.2)  # median 20 over 100, the viral outlier ignored
    assert np.isnan(rates[1]) and np.isnan(rates[2]) and np.isnan(rates[3])


def test_quality_is_clipped_and_spam_cuts() -> None:
    q = quality([0.001, 0.01, 0.01, 1.0, np.nan], spam=[0, 0, 0.9, 0, 0])
    assert q.tolist() == pytest.approx([0.5, 1.0, 0.1, 2.0, 1.0])
    assert quality([np.nan, np.nan]).tolist() == [1.0, 1.0]


def test_affinity_smooths_toward_the_base_rate() -> None:
    aff, counts = affinity(
        author=[0, 0, 0, 0, 1], post_interests=[["coffee"]] * 4 + [["travel"]],
        node_tags=[[], [], ["coffee"]], interests=["coffee", "travel"], prior=2.0,
        tag_posts=3.0,
    )  # fmt: skip
    base = np.array([4 / 5, 1 / 5])
    assert aff[0].tolist() == pytest.approx((np.array([4, 0]) + 2 * base) / 6)
    assert aff[1].tolist() == pytest.approx((np.array([0, 1]) + 2 * base) / 3)
    # no posts, declares coffee: 3 pseudo-posts about it
    assert aff[2, 0] == pytest.approx((3 + 2 * 0.8) / 5) and aff[2, 1] == pytest.approx(0.2)
    assert counts.tolist() == [[4, 0], [0, 1], [0, 0]]


def test_tag_interests_match_names_and_seed_words() -> None:
    taxonomy = {"coffee": ["咖啡", "拿铁"], "travel": ["旅行"], "gaming": ["游戏"]}
    assert tag_interests(["拿铁控", "Travel", "咖"], taxonomy) == ["coffee", "travel"]
    assert tag_interests([], taxonomy) == []


def test_modularity_matches_networkx() -> None:
    rng = np.random.default_rng(5)
    r, c = rng.integers(0, 30, 200), rng.integers(0, 30, 200)
    keep = r != c
    a = sp.csr_array((rng.random(int(keep.sum())), (r[keep], c[keep])), shape=(30, 30))
    labels = rng.integers(0, 4, 30)
    g = nx.from_scipy_sparse_array(sp.csr_array(a + a.T), edge_attribute="weight")
    groups = [set(np.flatnonzero(labels == k).tolist()) for k in range(4)]
    for res in (1.0, 0.5):
        ref = nx.community.modularity(g, groups, weight="weight", resolution=res)
        assert modularity_of(a, labels, res) == pytest.approx(ref)
    assert modularity_of(sp.csr_array((3, 3)), [0, 1, 2]) == 0.0


def test_docstring_examples() -> None:
    result = doctest.testmod(influence)
    assert result.attempted > 0 and result.failed == 0
