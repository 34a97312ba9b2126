"""Influence maximisation under the independent cascade (IC) model.

Information spreads against the adjacency's direction: entry ``[u, v]`` (``u`` reposted,
commented on, mentioned or followed ``v``) means ``v``'s posts reach ``u``. The *spreading
graph* is therefore the transpose, ``S[v, u]``: an active ``v`` gets one chance to activate
``u`` with probability ``p(u <- v)``.

Seeds are chosen from reverse-reachable (RR) sets (Borgs et al. 2014; Tang et al. 2015, IMM):
the RR set of a random node ``u`` is everyone who reaches ``u`` over edges kept with their
probability; a seed set's expected spread is ``n`` times the fraction of RR sets it touches, so
greedy max coverage over RR sets gives the (1 - 1/e - eps) greedy guarantee. ``method="celf"``
is the Monte-Carlo lazy greedy (Leskovec et al. 2007), a slow reference for tiny graphs.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Literal

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

logger = logging.getLogger(__name__)

#: RR sets drawn when ``samples`` is not given: the spread estimate's standard error is at most
#: ``n * 0.5 / sqrt(samples)`` (0.5 % of n), enough to rank seeds; IMM's theta bound (which
#: needs an estimate of OPT) asks for more on large graphs at eps = 0.1.
DEFAULT_SAMPLES = 10_000
#: visited flags per batch of cascades (bytes); above it cascades run in smaller batches
_DENSE_LIMIT = 1 << 25

Rng = np.random.Generator | int | None


def edge_probabilities(
    matrix: sp.sparray | sp.spmatrix,
    kind: Literal["weighted_cascade", "constant"] = "weighted_cascade",
    p: float = 0.01,
) -> tuple[sp.csr_array, NDArray[np.float64]]:
    """The spreading graph (transpose of ``matrix``, no self-loops) and its edge probabilities.

    Parameters
    ----------
    matrix : square scipy sparse matrix
        Weighted adjacency, entry ``[u, v]`` = how much ``u`` acted toward ``v``.
    kind : {"weighted_cascade", "constant"}
        ``weighted_cascade``: ``p(u <- v) = w(u, v) / sum_x w(u, x)``, the weighted cascade
        model (``1 / in-degree`` of the receiver in the spreading graph when unweighted;
        repeated interactions count as parallel edges). ``constant``: every edge ``p``.
    p : float
        The probability for ``kind="constant"``.

    Returns
    -------
    (csr_array, ndarray)
        ``spread`` with ``spread[v, u] > 0`` for each edge ``v -> u``, and the probabilities
        aligned with ``spread.indices``.

    Examples
    --------
    >>> a = sp.csr_array(np.array([[0, 1, 3], [0, 0, 0], [0, 0, 0]]))
    >>> spread, probs = edge_probabilities(a)
    >>> spread.toarray().astype(bool).astype(int).tolist(), probs.tolist()
    ([[0, 0, 0], [1, 0, 0], [1, 0, 0]], [0.25, 0.75])
    """
    a = sp.coo_array(matrix, dtype=np.float64)
    keep = (a.row != a.col) & (a.data > 0)
    a = sp.coo_array((a.data[keep], (a.row[keep], a.col[keep])), shape=a.shape)
    spread = sp.csr_array(a.T)
    spread.sum_duplicates()
    if kind == "weighted_cascade":
        received = np.bincount(spread.indices, weights=spread.data, minlength=spread.shape[0])
        probs = spread.data / received[spread.indices]
    elif kind == "constant":
        probs = np.full(spread.nnz, float(p))
    else:
        raise ValueError(f"unknown kind {kind!r}: use 'weighted_cascade' or 'constant'")
    return spread, probs


def _rng(rng: Rng) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def _cascade(
    graph: sp.csr_array,
    probs: NDArray[np.float64],
    groups: NDArray[np.int64],
    nodes: NDArray[np.int64],
    ngroups: int,
    rng: np.random.Generator,
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Live-edge BFS for ``ngroups`` independent cascades at once.

    ``(groups[i], nodes[i])`` are the starting pairs; each edge is tried once per cascade, kept
    with its probability. Returns all reached ``(group, node)`` pairs, starts included.
    """
    n = graph.shape[0]
    keys = np.unique(groups * n + nodes)
    visited = np.zeros(ngroups * n, dtype=bool)
    visited[keys] = True
    reached, frontier = [keys], keys
    while len(frontier):
        g, v = np.divmod(frontier, n)
        start, count = graph.indptr[v], graph.indptr[v + 1] - graph.indptr[v]
        total = int(count.sum())
        if not total:
            break
        offsets = np.repeat(start - np.cumsum(count) + count, count) + np.arange(total)
        live = rng.random(total) < probs[offsets]
        cand = np.repeat(g, count)[live] * n + graph.indices[offsets[live]]
        frontier = np.unique(cand[~visited[cand]])
        visited[frontier] = True
        reached.append(frontier)
    out = np.concatenate(reached)
    return np.divmod(out, n)


def _batches(total: int, n: int) -> Iterable[tuple[int, int]]:
    size = max(1, _DENSE_LIMIT // max(n, 1))
    for lo in range(0, total, size):
        yield lo, min(total, lo + size)


def simulate_spread(
    spread: sp.csr_array,
    probs: NDArray[np.float64],
    seeds: Iterable[int],
    runs: int = 1000,
    rng: Rng = None,
) -> float:
    """Mean number of nodes activated from ``seeds`` (seeds included) over ``runs`` IC cascades.

    Examples
    --------
    >>> spread, probs = edge_probabilities(sp.csr_array(np.array([[0, 1], [0, 0]])))
    >>> simulate_spread(spread, probs, [1], runs=10, rng=0), simulate_spread(spread, probs, [0])
    (2.0, 1.0)
    """
    gen, n = _rng(rng), spread.shape[0]
    seed_idx = np.unique(np.fromiter(seeds, dtype=np.int64))
    if not len(seed_idx) or runs < 1:
        return float(len(seed_idx))
    activated = 0
    for lo, hi in _batches(runs, n):
        groups = np.repeat(np.arange(hi - lo), len(seed_idx))
        g, _ = _cascade(spread, probs, groups, np.tile(seed_idx, hi - lo), hi - lo, gen)
        activated += len(g)
    return activated / runs


def rr_sets(
    spread: sp.csr_array, probs: NDArray[np.float64], samples: int, rng: Rng = None
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """``samples`` random RR sets as ``(set_id, node)`` pairs, by reverse live-edge BFS."""
    gen, n = _rng(rng), spread.shape[0]
    # reverse graph with the probabilities carried along: transpose a CSR whose data are
    # edge positions, then look the probabilities up by position
    pos = sp.csr_array((np.arange(spread.nnz) + 1.0, spread.indices, spread.indptr), spread.shape)
    rev = sp.csr_array(pos.T)
    rev_probs = probs[rev.data.astype(np.int64) - 1]
    set_ids, members = [], []
    for lo, hi in _batches(samples, n):
        roots = gen.integers(0, n, hi - lo)
        g, v = _cascade(rev, rev_probs, np.arange(hi - lo), roots, hi - lo, gen)
        set_ids.append(g + lo)
        members.append(v)
    return np.concatenate(set_ids), np.concatenate(members)


def max_coverage(
    set_ids: NDArray[np.int64],
    members: NDArray[np.int64],
    n: int,
    k: int,
    exclude: Iterable[int] = (),
) -> tuple[list[int], int]:
    """Greedy max coverage of sets given as ``(set_id, node)`` pairs; ties to the lower node.

    Marginal coverage counts are updated in place as sets get covered (each pair is touched
    once), which gives the same picks as re-evaluating every node. Returns the chosen nodes and
    the number of sets they cover.
    """
    chosen, _, covered = _greedy(set_ids, members, n, k, exclude, ())
    return chosen, covered


def _greedy(
    set_ids: NDArray[np.int64],
    members: NDArray[np.int64],
    n: int,
    k: int,
    exclude: Iterable[int],
    fixed: Iterable[int],
) -> tuple[list[int], list[int], int]:
    """Greedy max coverage after covering the sets of ``fixed``: picks, the sets each pick
    newly covers, and the sets covered in all."""
    nsets = int(set_ids.max()) + 1 if len(set_ids) else 0
    by_node = sp.csr_array((np.ones(len(set_ids)), (members, set_ids)), shape=(n, nsets))
    by_set = sp.csr_array(by_node.T)
    gain = np.diff(by_node.indptr).astype(np.float64)
    covered = np.zeros(nsets, dtype=bool)

    def take(node: int) -> int:
        sets = by_node.indices[by_node.indptr[node] : by_node.indptr[node + 1]]
        sets = sets[~covered[sets]]
        covered[sets] = True
        gain[:] -= np.bincount(by_set[sets].indices, minlength=n)
        gain[node] = -np.inf
        return int(sets.size)

    for node in fixed:
        take(int(node))
    gain[np.fromiter(exclude, dtype=np.int64)] = -np.inf
    chosen: list[int] = []
    gains: list[int] = []
    for _ in range(min(k, n)):
        best = int(np.argmax(gain))
        if gain[best] == -np.inf:
            break
        chosen.append(best)
        gains.append(take(best))
    return chosen, gains, int(covered.sum())


def plan_engagement(
    spread: sp.csr_array,
    probs: NDArray[np.float64],
    k: int,
    candidates: Iterable[int],
    engaged: Iterable[int] = (),
    samples: int | None = None,
    rng: Rng = None,
) -> tuple[list[tuple[int, float]], float]:
    """Whom to engage next: ``k`` of ``candidates`` adding the most expected reach to the users
    already ``engaged`` (whose reach counts first and who are never picked again).

    Returns ``([(node, users it adds), ...], expected users reached by engaged + picks)``, in
    pick order; the additions are RR-set estimates (greedy marginal gains).

    >>> star = sp.csr_array((np.ones(4), ([1, 2, 3, 4], [0, 0, 0, 0])), shape=(5, 5))
    >>> spread, probs = edge_probabilities(star, kind="constant", p=1.0)
    >>> plan_engagement(spread, probs, 1, candidates=[1, 2], engaged=[0], rng=0)
    ([], 5.0)
    """
    n = spread.shape[0]
    theta = DEFAULT_SAMPLES if samples is None else samples
    set_ids, members = rr_sets(spread, probs, theta, _rng(rng))
    allowed = np.zeros(n, dtype=bool)
    allowed[np.fromiter(candidates, dtype=np.int64)] = True
    fixed = np.fromiter(engaged, dtype=np.int64)
    allowed[fixed] = False
    chosen, gains, covered = _greedy(
        set_ids, members, n, k, np.flatnonzero(~allowed).tolist(), fixed.tolist()
    )
    picks = [(v, n * g / theta) for v, g in zip(chosen, gains, strict=True) if g > 0]
    return picks, n * covered / theta


def select_seeds(
    spread: sp.csr_array,
    probs: NDArray[np.float64],
    k: int,
    exclude: Iterable[int] = (),
    method: Literal["rr", "celf"] = "rr",
    samples: int | None = None,
    rng: Rng = None,
) -> tuple[list[int], float]:
    """``k`` seeds maximising expected IC spread, and that spread's estimate.

    Parameters
    ----------
    spread, probs : from ``edge_probabilities``
    k : int
        Seeds wanted (fewer when fewer nodes are allowed).
    exclude : iterable of int
        Nodes never chosen (suppressed or already engaged); they still pass information on.
    method : {"rr", "celf"}
        ``rr``: greedy max coverage over ``samples`` RR sets (default ``DEFAULT_SAMPLES``).
        ``celf``: lazy greedy on Monte-Carlo spread with ``samples`` runs per evaluation
        (default 1,000); tiny graphs only.

    Returns
    -------
    (list of int, float)
        Seeds in pick order and the estimated expected number of nodes reached.

    Examples
    --------
    >>> star = sp.csr_array((np.ones(4), ([1, 2, 3, 4], [0, 0, 0, 0])), shape=(5, 5))
    >>> spread, probs = edge_probabilities(star, kind="constant", p=1.0)
    >>> select_seeds(spread, probs, k=1, rng=0)
    ([0], 5.0)
    """
    gen, n = _rng(rng), spread.shape[0]
    if method == "rr":
        theta = DEFAULT_SAMPLES if samples is None else samples
        set_ids, members = rr_sets(spread, probs, theta, gen)
        chosen, covered = max_coverage(set_ids, members, n, k, exclude)
        return chosen, n * covered / theta
    if method == "celf":
        return _celf(spread, probs, k, set(exclude), 1000 if samples is None else samples, gen)
    raise ValueError(f"unknown method {method!r}: use 'rr' or 'celf'")


def _celf(
    spread: sp.csr_array,
    probs: NDArray[np.float64],
    k: int,
    exclude: set[int],
    runs: int,
    rng: np.random.Generator,
) -> tuple[list[int], float]:
    """CELF: a node's marginal gain only shrinks, so re-evaluate only the current best."""
    nodes = [v for v in range(spread.shape[0]) if v not in exclude]
    gains = {v: simulate_spread(spread, probs, [v], runs, rng) for v in nodes}
    fresh = dict.fromkeys(nodes, 0)
    chosen: list[int] = []
    total = 0.0
    while len(chosen) < k and gains:
        best = min(gains, key=lambda v: (-gains[v], v))
        if fresh[best] == len(chosen):
            chosen.append(best)
            total += gains.pop(best)
            continue
        gains[best] = simulate_spread(spread, probs, [*chosen, best], runs, rng) - total
        fresh[best] = len(chosen)
    return chosen, total
