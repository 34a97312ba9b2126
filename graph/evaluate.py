"""Do the rankings find the spreaders? SIR and temporal checks on public edge lists.

Following Kitsak et al. (2010) and Lü et al. (2016): seed a discrete-time SIR epidemic at each
node in turn, take the mean final outbreak size as that node's true spreading influence, and
compare each ranking with it by Kendall's tau-b, at infection probabilities ``beta`` set as
multiples of the epidemic threshold. ``temporal_check`` asks the same question of time: do the
rankings of the first half of the messages predict who is written to in the second half?

Direction. An edge list line ``src dst`` (email-Eu-core, CollegeMsg: ``src`` wrote to ``dst``)
is read as an interaction ``src -> dst``, the project's convention for ``u acted toward v``
(``graph.build.to_csr``): ``dst`` gains influence. So the *ranking graph* is ``src -> dst``,
weighted by message count, and the *spreading graph* is its transpose, unweighted: information
flows from the one attended to (``dst``) to the one who engaged with them (``src``), as from an
author to a reposter. Self-loops are dropped from both.

>>> import numpy as np
>>> src, dst = np.array([1, 2, 3, 4]), np.array([0, 0, 0, 0])  # four fans write to node 0
>>> out = evaluate_network(src, dst, betas_factors=(1.0,), runs=20)
>>> out["nodes"], out["edges"], sorted(out["results"][0]["tau"])
(5, 4, ['coreness', 'in_degree', 'influence', 'leaderrank', 'pagerank'])
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from graph.influence import epidemic_threshold, expected_reach, reach_beta, spreading
from graph.measures import coreness, leaderrank
from graph.rank import pagerank

logger = logging.getLogger(__name__)

IntArray = NDArray[np.int64]
Ranking = Callable[[sp.csr_array], NDArray[np.float64]]

#: cells in one block of the SIR state (seeds x runs x nodes booleans), about 32 MB
_SIR_BLOCK_CELLS = 32_000_000


def load_edge_list(path: str | Path) -> tuple[IntArray, IntArray, IntArray | None]:
    """Read ``src dst [time]`` lines (whitespace-separated integers) into arrays.

    Blank lines and lines starting with ``#`` are skipped, and so is a first line with no
    number in it (a header such as ``src dst time``). Every line must have the column count of
    the first; ``times`` is ``None`` for a two-column file. Node ids are returned as read.

    Raises
    ------
    ValueError
        Naming the file and the line number, for a line that is not 2 or 3 integers or whose
        column count differs from the first line's.
    """
    path = Path(path)
    rows: list[list[int]] = []
    width = 0
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            fields = line.split()
            if not fields or fields[0].startswith("#"):
                continue
            if not rows and not width and not any(_is_int(f) for f in fields):
                width = -1  # header seen; the width is set by the first data line
                continue
            if len(fields) not in (2, 3) or not all(_is_int(f) for f in fields):
                raise ValueError(
                    f"{path}:{lineno}: expected 'src dst [time]' as integers, got {line.strip()!r}"
                )
            if width <= 0:
                width = len(fields)
            elif len(fields) != width:
                raise ValueError(
                    f"{path}:{lineno}: expected {width} columns like the first line, got "
                    f"{len(fields)}: {line.strip()!r}"
                )
            rows.append([int(f) for f in fields])
    data = np.array(rows, dtype=np.int64).reshape(-1, max(width, 2))
    times = data[:, 2].copy() if width == 3 else None
    return data[:, 0].copy(), data[:, 1].copy(), times


def _is_int(field: str) -> bool:
    try:
        int(field)
    except ValueError:
        return False
    return True


def ranking_matrix(src: IntArray, dst: IntArray, n: int) -> sp.csr_array:
    """``n x n`` CSR, entry ``[u, v]`` = messages ``u -> v`` (self-loops dropped)."""
    keep = src != dst
    a = sp.csr_array(
        (np.ones(int(keep.sum())), (src[keep], dst[keep])), shape=(n, n), dtype=np.float64
    )
    a.sum_duplicates()
    return a


def spreading_matrix(ranking: sp.csr_array) -> sp.csr_array:
    """The unweighted transpose: entry ``[v, u]`` = 1 where ``u`` acted toward ``v``."""
    return spreading(ranking)


def sir_influence(
    adj_spread: sp.sparray | sp.spmatrix,
    beta: float,
    runs: int,
    rng: np.random.Generator,
    gamma: float = 1.0,
) -> NDArray[np.float64]:
    """Mean final outbreak size of a discrete-time SIR seeded at each node alone.

    Each step every infected node tries each susceptible out-neighbour once, succeeding with
    probability ``beta`` (so a node with ``k`` infected in-neighbours falls ill with probability
    ``1 - (1 - beta)^k``); then each infected node recovers with probability ``gamma``. The run
    ends when nobody is infected; its size counts every node ever infected, the seed included.

    Runs are simulated as one boolean matrix (seed x run, node) per block of seeds, spreading by
    gathering the out-neighbours of the infected pairs only, so a step costs the out-degree of
    the infected nodes rather than the whole graph.

    >>> path = sp.csr_array(np.eye(4, k=1))  # 0 -> 1 -> 2 -> 3
    >>> sir_influence(path, beta=1.0, runs=3, rng=np.random.default_rng(0)).tolist()
    [4.0, 3.0, 2.0, 1.0]
    """
    a = sp.csr_array(adj_spread)
    a.sum_duplicates()
    n = a.shape[0]
    if not 0 <= beta <= 1 or not 0 < gamma <= 1 or runs < 1:
        raise ValueError(
            f"need 0 <= beta <= 1, 0 < gamma <= 1, runs >= 1; got {beta}, {gamma}, {runs}"
        )
    block = max(1, _SIR_BLOCK_CELLS // max(1, runs * n))
    sizes = np.empty(n)
    for start in range(0, n, block):
        seeds = np.arange(start, min(n, start + block))
        sizes[seeds] = _sir_block(a, seeds, beta, gamma, runs, rng)
    return sizes


def _sir_block(
    a: sp.csr_array,
    seeds: IntArray,
    beta: float,
    gamma: float,
    runs: int,
    rng: np.random.Generator,
) -> NDArray[np.float64]:
    """Mean outbreak size for each of ``seeds``; row ``i * runs + r`` is run ``r`` of seed ``i``."""
    n = a.shape[0]
    indptr, indices = a.indptr.astype(np.int64), a.indices.astype(np.int64)
    rows = np.arange(len(seeds) * runs, dtype=np.int64)
    reached = np.zeros((len(rows), n), dtype=bool)
    inf_rows, inf_nodes = rows, np.repeat(seeds, runs)
    reached[inf_rows, inf_nodes] = True
    while len(inf_rows):
        deg = indptr[inf_nodes + 1] - indptr[inf_nodes]
        total = int(deg.sum())
        first = np.repeat(indptr[inf_nodes] - (np.cumsum(deg) - deg), deg)
        targets = indices[first + np.arange(total)]
        t_rows = np.repeat(inf_rows, deg)
        hit = rng.random(total) < beta
        t_rows, targets = t_rows[hit], targets[hit]
        fresh = ~reached[t_rows, targets]
        keys = np.unique(t_rows[fresh] * n + targets[fresh])
        new_rows, new_nodes = keys // n, keys % n
        reached[new_rows, new_nodes] = True
        if gamma < 1:
            stay = rng.random(len(inf_rows)) >= gamma
            new_rows = np.concatenate([inf_rows[stay], new_rows])
            new_nodes = np.concatenate([inf_nodes[stay], new_nodes])
        inf_rows, inf_nodes = new_rows, new_nodes
    return reached.sum(axis=1).reshape(len(seeds), runs).mean(axis=1)


def in_degree(a: sp.csr_array) -> NDArray[np.float64]:
    """Weighted in-degree: messages received."""
    return np.asarray(a.sum(axis=0), dtype=np.float64).ravel()


def pagerank_scores(a: sp.csr_array) -> NDArray[np.float64]:
    """``graph.rank.pagerank`` (alpha 0.85) in node order."""
    return np.array(list(pagerank(a, alpha=0.85).scores.values()))


def influence_scores(a: sp.csr_array) -> NDArray[np.float64]:
    """tingfeng's influence score on a bare network: the expected reach (3 hops, ``beta`` at
    the epidemic threshold). With no engagement counts or spam labels its quality factor is 1."""
    s = spreading(a)
    return expected_reach(s, reach_beta(s), hops=3)


#: the rankings compared, each a function of the ranking graph returning scores in node order
RANKINGS: dict[str, Ranking] = {
    "influence": influence_scores,
    "in_degree": in_degree,
    "pagerank": pagerank_scores,
    "leaderrank": leaderrank,
    "coreness": lambda a: coreness(a).astype(np.float64),
}


def relabel(src: ArrayLike, dst: ArrayLike) -> tuple[IntArray, IntArray, IntArray]:
    """Map node ids to ``0..n-1`` in sorted order: ``(src, dst, labels)``."""
    s, d = np.asarray(src), np.asarray(dst)
    labels, inverse = np.unique(np.concatenate([s, d]), return_inverse=True)
    return inverse[: len(s)].astype(np.int64), inverse[len(s) :].astype(np.int64), labels


def evaluate_network(
    src: ArrayLike,
    dst: ArrayLike,
    betas_factors: Sequence[float] = (0.5, 1.0, 1.5, 2.0),
    runs: int = 100,
    seed: int = 7,
) -> dict[str, Any]:
    """Kendall's tau-b of each ranking against SIR spreading influence, per ``beta``.

    ``src[i] -> dst[i]`` is one interaction (``src`` acted toward ``dst``; see the module
    docstring for the direction). ``beta = factor * epidemic_threshold``, capped at 1.

    Returns
    -------
    dict
        ``nodes``, ``edges`` (distinct, no self-loops), ``interactions``, ``epidemic_threshold``,
        ``runs``, ``seed`` and ``results``: one dict per factor with ``factor``, ``beta``,
        ``mean_outbreak`` and ``tau`` (``{ranking: tau-b}``; NaN where a side is constant).
    """
    s, d, labels = relabel(src, dst)
    a = ranking_matrix(s, d, len(labels))
    spread = spreading_matrix(a)
    threshold = epidemic_threshold(spread)
    scores = {name: rank(a) for name, rank in RANKINGS.items()}
    rng = np.random.default_rng(seed)
    results = []
    for factor in betas_factors:
        beta = min(1.0, factor * threshold)
        influence = sir_influence(spread, beta, runs, rng)
        tau = {name: _kendall(x, influence) for name, x in scores.items()}
        logger.info("beta %.4g (x%.2g threshold): tau %s", beta, factor, tau)
        results.append(
            {"factor": factor, "beta": beta, "mean_outbreak": float(influence.mean()), "tau": tau}
        )
    return {
        "nodes": len(labels),
        "edges": a.nnz,
        "interactions": len(s),
        "epidemic_threshold": threshold,
        "runs": runs,
        "seed": seed,
        "results": results,
    }


def temporal_check(src: ArrayLike, dst: ArrayLike, times: ArrayLike) -> dict[str, Any]:
    """Spearman's rho of each ranking of the first half against messages received later.

    Messages are ordered by time (ties keep file order); the rankings are computed on the
    graph of the first ``m // 2`` messages, restricted to the nodes that appear in it, and
    compared with how many of the remaining messages each of those nodes receives.

    Returns
    -------
    dict
        ``nodes`` (present in the first half), ``first_half``, ``second_half`` (message counts),
        ``split_time`` (time of the first second-half message) and ``rho`` (``{ranking: rho}``).
    """
    order = np.argsort(np.asarray(times), kind="stable")
    s, d = np.asarray(src)[order], np.asarray(dst)[order]
    half = len(s) // 2
    s1, d1, labels = relabel(s[:half], d[:half])
    a = ranking_matrix(s1, d1, len(labels))
    later = d[half:]
    known = np.isin(later, labels)
    received = np.bincount(np.searchsorted(labels, later[known]), minlength=len(labels))
    rho = {name: _spearman(rank(a), received.astype(np.float64)) for name, rank in RANKINGS.items()}
    split = np.asarray(times)[order][half] if half < len(s) else None
    return {
        "nodes": len(labels),
        "first_half": half,
        "second_half": len(s) - half,
        "split_time": None if split is None else int(split),
        "rho": rho,
    }


def _kendall(x: NDArray[np.float64], y: NDArray[np.float64]) -> float:
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    return float(stats.kendalltau(x, y).statistic)


def _spearman(x: NDArray[np.float64], y: NDArray[np.float64]) -> float:
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    return float(stats.spearmanr(x, y).statistic)
