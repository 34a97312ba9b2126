"""SIR influence, the epidemic threshold and the evaluation on tiny hand-checked graphs."""

from __future__ import annotations

import doctest
import math
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from graph import evaluate
from graph.evaluate import (
    epidemic_threshold,
    evaluate_network,
    load_edge_list,
    sir_influence,
    temporal_check,
)


def directed(n: int, edges: list[tuple[int, int]]) -> sp.csr_array:
    rows, cols = zip(*edges, strict=True)
    return sp.csr_array((np.ones(len(edges)), (rows, cols)), shape=(n, n))


PATH = directed(4, [(0, 1), (1, 2), (2, 3)])
STAR = directed(5, [(0, 1), (0, 2), (0, 3), (0, 4)])  # the hub reaches four leaves
# a hub whose leaves answer back, and a cycle: outbreaks stop at nodes already reached
TWO_WAY = directed(4, [(0, 1), (1, 0), (0, 2), (2, 0), (2, 3), (3, 2)])


@pytest.mark.parametrize(
    ("adj", "expected"),
    [
        (PATH, [4, 3, 2, 1]),
        (STAR, [5, 1, 1, 1, 1]),
        (TWO_WAY, [4, 4, 4, 4]),
        (directed(3, [(0, 1), (1, 2), (2, 0)]), [3, 3, 3]),
    ],
    ids=["path", "star", "two-way", "cycle"],
)
def test_sir_with_certain_infection_reaches_everything_downstream(adj, expected) -> None:
    sizes = sir_influence(adj, beta=1.0, runs=5, rng=np.random.default_rng(1))
    assert sizes.tolist() == expected


@pytest.mark.parametrize("adj", [PATH, STAR, TWO_WAY], ids=["path", "star", "two-way"])
def test_sir_without_infection_is_the_seed_alone(adj) -> None:
    sizes = sir_influence(adj, beta=0.0, runs=5, rng=np.random.default_rng(1), gamma=0.3)
    assert sizes.tolist() == [1.0] * adj.shape[0]


@pytest.mark.parametrize(
    ("gamma", "expected"),
    [
        (1.0, 1.5),  # one try at 1/2
        # tries until the seed recovers: p = 1/2 + (1/2)(1/2) p, so p = 2/3
        (0.5, 1 + 2 / 3),
    ],
)
def test_sir_mean_outbreak_matches_the_closed_form(gamma, expected) -> None:
    edge = directed(2, [(0, 1)])
    sizes = sir_influence(edge, beta=0.5, runs=20_000, rng=np.random.default_rng(3), gamma=gamma)
    assert sizes[0] == pytest.approx(expected, abs=0.02)
    assert sizes[1] == 1.0


def test_sir_is_deterministic_for_a_seeded_generator() -> None:
    one, two = (sir_influence(STAR, 0.4, 50, np.random.default_rng(9)) for _ in range(2))
    assert one.tolist() == two.tolist()


def test_sir_blocks_of_seeds_give_the_same_answer(monkeypatch) -> None:
    # with beta = 1 the result does not depend on how seeds are grouped into blocks
    whole = sir_influence(TWO_WAY, 1.0, 4, np.random.default_rng(0))
    monkeypatch.setattr(evaluate, "_SIR_BLOCK_CELLS", 1)
    assert sir_influence(TWO_WAY, 1.0, 4, np.random.default_rng(0)).tolist() == whole.tolist()


def test_sir_rejects_a_probability_outside_0_1() -> None:
    with pytest.raises(ValueError, match="beta"):
        sir_influence(PATH, 1.5, 1, np.random.default_rng(0))


@pytest.mark.parametrize(
    ("adj", "expected"),
    [
        # 3-regular (K4 both ways): <k> = 3, <k^2> = 9, 3 / (9 - 3)
        (directed(4, [(u, v) for u in range(4) for v in range(4) if u != v]), 0.5),
        # star: out-degrees 4,0,0,0,0 -> <k> = 4/5, <k^2> = 16/5, (4/5) / (12/5)
        (STAR, 1 / 3),
        (PATH, math.inf),  # every out-degree is at most 1
    ],
    ids=["K4", "star", "path"],
)
def test_epidemic_threshold_by_hand(adj, expected) -> None:
    assert epidemic_threshold(adj) == pytest.approx(expected)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "edges.txt"
    path.write_text(text, encoding="utf-8")
    return path


def test_load_edge_list_skips_comments_blanks_and_a_header(tmp_path) -> None:
    path = write(tmp_path, "# a comment\nsrc dst time\n\n10 20 5\n20 30 3\n")
    src, dst, times = load_edge_list(path)
    assert src.tolist() == [10, 20] and dst.tolist() == [20, 30]
    assert times is not None and times.tolist() == [5, 3]


def test_load_edge_list_without_times(tmp_path) -> None:
    src, dst, times = load_edge_list(write(tmp_path, "1 2\n2 3\n"))
    assert src.tolist() == [1, 2] and dst.tolist() == [2, 3] and times is None


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("1 2\n2 x\n", 2),  # not an integer
        ("1 2\n\n3\n", 3),  # one column
        ("1 2 3\n4 5\n", 2),  # width differs from the first line
        ("1 2 3 4\n", 1),  # too many columns
    ],
)
def test_load_edge_list_names_the_bad_line(tmp_path, text, line) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ValueError, match=rf"edges\.txt:{line}:"):
        load_edge_list(path)


def synthetic() -> tuple[np.ndarray, np.ndarray]:
    # two hubs (ids 100, 200) that many fans write to, fans writing to each other now and then
    rng = np.random.default_rng(5)
    fans = np.arange(1, 41)
    src = np.concatenate([fans, fans[::2], rng.choice(fans, 30)])
    dst = np.concatenate([np.full(40, 100), np.full(20, 200), rng.choice(fans, 30)])
    return np.concatenate([src, [100, 200]]), np.concatenate([dst, [200, 100]])


def test_evaluate_network_reports_a_tau_per_ranking_and_beta() -> None:
    src, dst = synthetic()
    out = evaluate_network(src, dst, betas_factors=(0.5, 2.0), runs=20)
    assert out["nodes"] == 42 and out["interactions"] == len(src)
    assert [r["factor"] for r in out["results"]] == [0.5, 2.0]
    for r in out["results"]:
        assert r["beta"] == pytest.approx(r["factor"] * out["epidemic_threshold"])
        assert set(r["tau"]) == {"influence", "in_degree", "pagerank", "leaderrank", "coreness"}
        assert all(-1 <= t <= 1 for t in r["tau"].values())
    # the hubs are the spreaders here, and every ranking puts them first
    assert out["results"][1]["tau"]["in_degree"] > 0.3


def test_evaluate_network_is_deterministic() -> None:
    src, dst = synthetic()
    assert evaluate_network(src, dst, (1.0,), 10) == evaluate_network(src, dst, (1.0,), 10)


def test_temporal_check_compares_with_later_messages() -> None:
    # by time, first half: 2 gets three messages, 3 one; second half: 2 gets two, 3 one, and
    # 9 (new, so left out) one. Given out of order to check the sort by time.
    src = np.array([1, 4, 1, 1, 4, 1, 4, 1])
    dst = np.array([2, 2, 3, 2, 2, 3, 2, 9])
    times = np.array([1, 2, 3, 5, 6, 7, 8, 9])
    shuffle = np.array([7, 2, 5, 0, 3, 6, 1, 4])
    out = temporal_check(src[shuffle], dst[shuffle], times[shuffle])
    assert (out["nodes"], out["first_half"], out["second_half"], out["split_time"]) == (
        4,
        4,
        4,
        6,
    )
    # nodes 1, 2, 3, 4: received later 0, 2, 1, 0; in-degree in the first half 0, 3, 1, 0
    assert out["rho"]["in_degree"] == pytest.approx(1.0)


def test_docstring_examples() -> None:
    result = doctest.testmod(evaluate, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.shared
def test_evaluate_network_on_email_eu_core(shared_dir) -> None:
    path = shared_dir / "data" / "graphs" / "email-Eu-core.txt"
    if not path.is_file():
        pytest.skip(f"{path} is absent (SNAP's email-Eu-core is not in this shared folder)")
    src, dst, _ = load_edge_list(path)
    out = evaluate_network(src, dst, betas_factors=(1.0,), runs=50, seed=7)
    assert out["nodes"] == 1005
    taus = out["results"][0]["tau"]
    # every ranking tracks spreading influence on this network (tau ~ 0.7-0.8 at 50 runs)
    assert all(t > 0.5 for t in taus.values())
    # ours ranks spreaders better than in-degree and PageRank (0.774 / 0.759 / 0.708 here;
    # the margin held for every seed tried, and grows with more runs: docs/graph.md)
    assert taus["influence"] > taus["in_degree"] > taus["pagerank"]
