"""Building the interaction graph: aggregation, weights per kind, time decay, the store loader."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from sqlmodel import Session

from crawlers.config import Settings
from crawlers.models import Interaction
from graph import build
from graph.build import KINDS, ages_in_days, build_edges, decay, load_edges, to_csr, to_networkx

W = {"repost": 3.0, "comment": 2.0, "mention": 1.0, "follow": 1.0}
NOW = datetime(2025, 6, 1, 12, tzinfo=UTC)


def test_aggregates_per_pair_with_weights_per_kind() -> None:
    e = build_edges(
        ["u1", "u1", "u1", "u2", "u3"],
        ["star", "star", "star", "star", "u1"],
        ["repost", "comment", "comment", "follow", "mention"],
        W,
    )
    assert e.ids == ("star", "u1", "u2", "u3")
    pairs = {(e.ids[s], e.ids[d]): w for s, d, w in zip(e.src, e.dst, e.weight, strict=True)}
    assert pairs == {("u1", "star"): 7.0, ("u2", "star"): 1.0, ("u3", "u1"): 1.0}
    row = [e.ids[s] for s in e.src].index("u1")
    assert dict(zip(KINDS, e.kind_count[row].tolist(), strict=True)) == {
        "repost": 1,
        "comment": 2,
        "mention": 0,
        "follow": 0,
    }
    assert e.kind_weight[row].tolist() == [3.0, 4.0, 0.0, 0.0]


def test_influence_points_at_the_author() -> None:
    # the commenter acts, the author gains: row = actor, column = author
    e = build_edges(["fan"], ["author"], ["comment"], W)
    a = to_csr(e).toarray()
    assert a[e.ids.index("fan"), e.ids.index("author")] == 2.0
    assert a[e.ids.index("author"), e.ids.index("fan")] == 0.0


def test_row_order_does_not_change_the_result() -> None:
    rows = [
        ("a", "b", "repost"),
        ("c", "b", "comment"),
        ("b", "a", "follow"),
        ("a", "b", "mention"),
    ]
    one = build_edges(*zip(*rows, strict=True), W)
    two = build_edges(*zip(*rows[::-1], strict=True), W)
    assert one.ids == two.ids
    for field in ("src", "dst", "weight", "kind_count"):
        assert np.array_equal(getattr(one, field), getattr(two, field))


def test_self_loops_and_unknown_kinds_are_dropped(caplog: pytest.LogCaptureFixture) -> None:
    e = build_edges(["a", "a", "b"], ["a", "b", "a"], ["comment", "like", "follow"], W)
    assert (e.n_nodes, e.n_edges) == (2, 1)
    assert "unknown kinds" in caplog.text
    kept = build_edges(["a"], ["a"], ["comment"], W, self_loops=True)
    assert (kept.n_edges, kept.weight.tolist()) == (1, [2.0])


def test_zero_weight_kind_keeps_the_edge_and_its_count() -> None:
    e = build_edges(["a"], ["b"], ["follow"], {**W, "follow": 0.0})
    assert e.weight.tolist() == [0.0] and e.kind_count.tolist() == [[0, 0, 0, 1]]


@pytest.mark.parametrize(
    ("age_days", "half_life", "factor"),
    [
        (0.0, 7.0, 1.0),
        (7.0, 7.0, 0.5),
        (21.0, 7.0, 0.125),
        (3.5, 7.0, 2**-0.5),
        (-2.0, 7.0, 1.0),  # from the future (clock skew): no bonus
        (float("nan"), 7.0, 1.0),  # undated (follows usually are): full weight
        (100.0, 0.0, 1.0),  # half-life 0 = no decay
    ],
)
def test_decay_factor(age_days: float, half_life: float, factor: float) -> None:
    assert decay([age_days], half_life)[0] == pytest.approx(factor, rel=1e-15)


def test_ages_from_datetimes_and_datetime64() -> None:
    times = [NOW - timedelta(days=2), None, (NOW - timedelta(hours=12)).replace(tzinfo=None)]
    assert np.allclose(ages_in_days(times, NOW), [2.0, np.nan, 0.5], equal_nan=True)
    arr = np.array(["2025-05-31T12:00", "NaT"], dtype="datetime64[s]")
    assert np.allclose(ages_in_days(arr, NOW), [1.0, np.nan], equal_nan=True)


def test_decayed_weights_add_up_per_pair() -> None:
    created = [NOW, NOW - timedelta(days=10), None]
    e = build_edges(
        ["a", "a", "a"],
        ["b", "b", "b"],
        ["repost", "repost", "follow"],
        W,
        created_at=created,
        now=NOW,
        half_life_days=10.0,
    )
    assert e.weight.tolist() == pytest.approx([3.0 + 1.5 + 1.0])
    assert e.kind_count.tolist() == [[2, 0, 0, 1]]


def test_decay_needs_now() -> None:
    with pytest.raises(ValueError, match="now"):
        build_edges(["a"], ["b"], ["repost"], W, created_at=[NOW], half_life_days=1.0)


def test_to_networkx_view() -> None:
    e = build_edges(["a", "a", "c"], ["b", "b", "b"], ["repost", "comment", "follow"], W)
    g = to_networkx(e, names={"a": "拿铁少女"})
    assert set(g.edges) == {("a", "b"), ("c", "b")}
    assert g["a"]["b"] == {"weight": 5.0, "repost": 1, "comment": 1, "mention": 0, "follow": 0}
    assert g.nodes["a"]["name"] == "拿铁少女" and "name" not in g.nodes["b"]


def test_load_edges_from_the_store(session: Session, bare_settings: Settings) -> None:
    rows = [
        Interaction(
            platform="weibo",
            kind="repost",
            src_id="1",
            dst_id="2",
            post_id="p1",
            created_at=NOW - timedelta(days=1),
        ),
        Interaction(platform="weibo", kind="follow", src_id="3", dst_id="2"),
        Interaction(platform="mastodon", kind="comment", src_id="9", dst_id="8", post_id="p2"),
    ]
    session.add_all(rows)
    session.commit()
    e = load_edges(session, "weibo", bare_settings, NOW)
    assert e.ids == ("1", "2", "3") and sorted(e.weight.tolist()) == [1.0, 3.0]
    bare_settings.graph.half_life_days = 1.0
    decayed = load_edges(session, "weibo", bare_settings, NOW)
    assert sorted(decayed.weight.tolist()) == pytest.approx([1.0, 1.5])
    assert load_edges(session, "nowhere", bare_settings, NOW).n_nodes == 0


@pytest.mark.parametrize("collide", [False, True])
def test_node_index_survives_hash_collisions(
    monkeypatch: pytest.MonkeyPatch, collide: bool
) -> None:
    # ids are grouped by a 64-bit hash; if two ids ever share one, the strings are sorted instead
    if collide:
        monkeypatch.setattr(build, "_fnv1a", lambda s: np.zeros(s.size, dtype=np.uint64))
    src, dst = ["咖啡豆", "b", "10", "9", "b"], ["9", "咖啡", "b", "10", "ab"]
    ids, s, d = build.index_nodes(src, dst)
    assert ids == ("10", "9", "ab", "b", "咖啡", "咖啡豆")
    assert [ids[i] for i in s] == src and [ids[i] for i in d] == dst
