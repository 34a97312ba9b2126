"""Explanations: the parts of each user's score and the sentence built from them."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from graph.build import build_edges, empty_edges
from graph.explain import describe, explain, ordinal_ranks, received, top_sources

W = {"repost": 3.0, "comment": 2.0, "mention": 1.0, "follow": 1.0}


@pytest.fixture
def edges():
    # "hub" receives from four users with different weights; "x" receives one follow
    rows = [
        ("fan1", "hub", "repost"),
        ("fan1", "hub", "repost"),
        ("fan1", "hub", "comment"),  # 8
        ("fan2", "hub", "comment"),
        ("fan2", "hub", "comment"),  # 4
        ("fan3", "hub", "follow"),  # 1
        ("fan4", "hub", "repost"),
        ("fan4", "hub", "follow"),  # 4: ties fan2, smaller id wins
        ("hub", "x", "follow"),
    ]
    return build_edges(*zip(*rows, strict=True), W)


def test_received_by_kind(edges) -> None:
    counts, weights = received(edges)
    hub = edges.ids.index("hub")
    assert counts[hub].tolist() == [3, 3, 0, 2]
    assert weights[hub].tolist() == [9.0, 6.0, 0.0, 2.0]
    assert counts[edges.ids.index("fan1")].sum() == 0


def test_top_sources_by_weight(edges) -> None:
    top = top_sources(edges, 3)[edges.ids.index("hub")]
    assert [(edges.ids[s], w) for s, w in top] == [("fan1", 8.0), ("fan2", 4.0), ("fan4", 4.0)]
    assert top_sources(edges, 3)[edges.ids.index("fan1")] == []


def test_parts_and_sentence(edges) -> None:
    scores = np.array([0.1, 0.1, 0.1, 0.1, 0.4, 0.2])  # ids: fan1..fan4, hub, x
    assert edges.ids == ("fan1", "fan2", "fan3", "fan4", "hub", "x")
    out = explain(edges, scores, names={"fan1": "拿铁少女", "fan2": "豆子先生"}, top=3)
    parts, text = out[edges.ids.index("hub")]
    assert (
        text
        == "rank 1 of 6 (top 17%): 3 reposts, 3 comments, 2 follows received; most from 拿铁少女, 豆子先生, fan4"
    )
    assert parts["rank"] == 1 and parts["of"] == 6
    assert parts["share"] == pytest.approx(0.4) and parts["percentile"] == pytest.approx(83.33)
    assert parts["received"] == {"repost": 3, "comment": 3, "mention": 0, "follow": 2}
    assert [s["name"] for s in parts["top_sources"]] == ["拿铁少女", "豆子先生", "fan4"]
    assert json.loads(json.dumps(parts)) == parts  # JSON-friendly: plain ints, floats, strings
    assert out[edges.ids.index("x")][1] == "rank 2 of 6 (top 34%): 1 follow received; most from hub"
    assert out[0][1] == "rank 3 of 6 (top 50%): no interactions received"


def test_top_limits_the_names(edges) -> None:
    parts, text = explain(edges, np.ones(6), top=1)[edges.ids.index("hub")]
    assert len(parts["top_sources"]) == 1 and text.endswith("most from fan1")


def test_ranks_break_ties_by_id() -> None:
    assert ordinal_ranks([0.5, 0.5, 0.9], ("z", "a", "m")).tolist() == [3, 2, 1]
    assert ordinal_ranks([], ()).tolist() == []


@pytest.mark.parametrize(
    ("rank", "of", "top"),
    [(1, 1, 100), (3, 412, 1), (5, 412, 2), (412, 412, 100), (1, 1000, 1)],
)
def test_top_percent(rank: int, of: int, top: int) -> None:
    scores = np.arange(of, 0, -1, dtype=float)  # node i has rank i + 1
    nodes_only = replace(empty_edges(), ids=tuple(f"u{i:04d}" for i in range(of)))
    parts, _ = explain(nodes_only, scores)[rank - 1]
    assert (parts["rank"], parts["top_percent"]) == (rank, top)


def test_describe_without_sources() -> None:
    parts = {"rank": 1, "of": 2, "top_percent": 50, "received": {"mention": 2}, "top_sources": []}
    assert describe(parts) == "rank 1 of 2 (top 50%): 2 mentions received"
