"""Expected reach, the per-interest audience, engagement rate, and the combined influence score.

Pure functions over the adjacency matrix that ``graph.build.to_csr`` gives (entry ``[u, v]``:
``u`` reposted, commented on, mentioned or followed ``v``). Information travels the other way,
from ``v`` to the ``u`` who engage with ``v``, so reach is measured on the *spreading graph*
``S = A.T`` with every distinct engager counted once (a superfan's hundredth comment adds no
audience, and repetition is what bought engagement looks like).

**Expected reach** of ``v`` is ``sum_{h=1..H} (beta S)^h 1``: the users who engage with ``v``,
plus the users who engage with *them*, and so on for ``H`` steps, each step discounted by the
chance ``beta`` that a user passes a post on. ``beta`` defaults to the graph's epidemic
threshold (heterogeneous mean field, ``<k> / (<k^2> - <k>)``), the point where spreading starts
to pay, and ``H`` to 3. It is a truncated Katz centrality; against SIR outbreaks seeded at each
node (``tingfeng graph eval``) it ranks spreaders better than in-degree and PageRank on both
public networks we test, at every infection rate tried.

Divided by ``beta`` it reads in people: the **effective audience** counts each direct engager
as 1, each of their engagers as ``beta``, and so on; the stage stores and explains that.

The **combined score** is the effective audience times a quality factor: engagement rate against
the median account (square root, clipped to [0.5, 2]) and a 水军 (spam account) discount.
Per interest the reach counts only the audience's interest in the topic (``audience``
weights), times the user's own interest in it (``affinity``).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray

#: quality factor bounds: engagement can at most halve or double a score
QUALITY_MIN, QUALITY_MAX = 0.5, 2.0


def spreading(matrix: sp.sparray | sp.spmatrix) -> sp.csr_array:
    """The unweighted spreading graph ``S = A.T``, self-loops dropped.

    ``S[v, u] = 1`` where ``u`` acted toward ``v`` at least once (with positive weight).

    >>> a = sp.csr_array(np.array([[0, 2, 0], [0, 0, 0], [0, 5, 1]]))
    >>> spreading(a).toarray().tolist()
    [[0.0, 0.0, 0.0], [1.0, 0.0, 1.0], [0.0, 0.0, 0.0]]
    """
    a = sp.coo_array(matrix, dtype=np.float64)
    keep = (a.row != a.col) & (a.data != 0)
    n = a.shape[0]
    s = sp.csr_array(
        (np.ones(int(keep.sum())), (a.col[keep], a.row[keep])), shape=(n, n), dtype=np.float64
    )
    s.sum_duplicates()
    s.data[:] = 1.0
    return s


def epidemic_threshold(spread: sp.sparray | sp.spmatrix) -> float:
    """Heterogeneous mean-field SIR threshold ``<k> / (<k^2> - <k>)``.

    ``k`` is a node's out-degree in the (unweighted) spreading graph, the number of users it
    can pass a post to; the averages are over all nodes. ``inf`` when no node has more than
    one out-neighbour.

    >>> ring = sp.csr_array(np.roll(np.eye(6), 1, axis=1) + np.roll(np.eye(6), -1, axis=1))
    >>> epidemic_threshold(ring)  # 2-regular: 2 / (4 - 2)
    1.0
    """
    a = sp.csr_array(spread)
    k = np.diff(a.indptr).astype(np.float64)
    if not k.size:
        return float("inf")
    mean_k, mean_k2 = k.mean(), (k**2).mean()
    return float(mean_k / (mean_k2 - mean_k)) if mean_k2 > mean_k else float("inf")


def reach_beta(spread: sp.sparray | sp.spmatrix, beta: float = 0.0) -> float:
    """``beta`` if positive, else the epidemic threshold capped at 1."""
    return float(beta) if beta > 0 else min(1.0, epidemic_threshold(spread))


def expected_reach(
    spread: sp.sparray | sp.spmatrix,
    beta: float,
    hops: int = 3,
    audience: ArrayLike | None = None,
) -> NDArray[np.float64]:
    """``sum_{h=1..hops} (beta S)^h w`` per node: the discounted audience within ``hops`` steps.

    Parameters
    ----------
    spread : square sparse matrix
        The spreading graph (``spreading(A)``).
    beta : float
        Chance a user passes a post on (``reach_beta``).
    hops : int
        Steps counted (1 = direct engagers only).
    audience : array, optional
        Weight of each user reached (e.g. their interest in a topic, 0..1); 1 by default.

    Examples
    --------
    >>> s = spreading(sp.csr_array((np.ones(3), ([1, 2, 3], [0, 0, 1])), shape=(4, 4)))
    >>> expected_reach(s, beta=0.5, hops=2).tolist()  # 0 reaches 1 and 2, and 3 through 1
    [1.25, 0.5, 0.0, 0.0]
    """
    s = sp.csr_array(spread, dtype=np.float64)
    n = s.shape[0]
    x = np.ones(n) if audience is None else np.asarray(audience, dtype=np.float64).copy()
    if x.shape != (n,):
        raise ValueError(f"audience needs one weight per node ({n}), got shape {x.shape}")
    total = np.zeros(n)
    for _ in range(max(0, hops)):
        x = beta * (s @ x)
        total += x
    return total


def engagement_rates(
    author: ArrayLike,
    engagements: ArrayLike,
    followers: ArrayLike,
    n_nodes: int,
) -> NDArray[np.float64]:
    """Median engagement per post over followers, per node (NaN where unknown).

    Parameters
    ----------
    author : array of int
        Node index of each post's author.
    engagements : array of float
        Reposts + comments + likes the platform reported for each post (NaN = not reported).
    followers : array of float
        Followers per node (NaN or 0 = unknown).

    >>> engagement_rates([0, 0, 1, 1], [10, 30, np.nan, -1], [100, 50, 0], 3).tolist()
    [0.2, nan, nan]
    """
    a = np.asarray(author, dtype=np.int64)
    e = np.asarray(engagements, dtype=np.float64)
    f = np.asarray(followers, dtype=np.float64)
    rates = np.full(n_nodes, np.nan)
    known = ~np.isnan(e) & (e >= 0)  # a negative count is a platform placeholder, not data
    if not known.any():
        return rates
    a, e = a[known], e[known]
    order = np.lexsort((e, a))  # by author, then by value: each author's run is sorted
    a, e = a[order], e[order]
    starts = np.flatnonzero(np.r_[True, a[1:] != a[:-1]])
    sizes = np.diff(np.r_[starts, a.size])
    median = (e[starts + (sizes - 1) // 2] + e[starts + sizes // 2]) / 2
    nodes = a[starts]
    f_nodes = f[nodes]
    has = f_nodes > 0
    rates[nodes[has]] = median[has] / f_nodes[has]
    return rates


def quality(rates: ArrayLike, spam: ArrayLike | None = None) -> NDArray[np.float64]:
    """Score multiplier: ``sqrt(rate / median rate)`` clipped to [0.5, 2] (1 where the rate is
    unknown), times ``1 - spam`` (a 水军 probability, 0..1).

    >>> quality([0.01, 0.04, np.nan, 0.0], spam=[0, 0, 0.5, 0]).tolist()
    [1.0, 2.0, 0.5, 0.5]
    """
    r = np.asarray(rates, dtype=np.float64)
    q = np.ones(r.size)
    known = ~np.isnan(r) & (r >= 0)
    if known.any():
        median = float(np.median(r[known]))
        if median > 0:
            q[known] = np.clip(np.sqrt(r[known] / median), QUALITY_MIN, QUALITY_MAX)
    if spam is not None:
        q *= 1.0 - np.clip(np.asarray(spam, dtype=np.float64), 0.0, 1.0)
    return q


def affinity(
    author: ArrayLike,
    post_interests: Sequence[Sequence[str]],
    node_tags: Sequence[Sequence[str]],
    interests: Sequence[str],
    prior: float = 2.0,
    tag_posts: float = 3.0,
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """How much each user is about each interest, 0..1, and their labelled posts in it.

    ``affinity[u, i] = (posts of u in i + tag_posts * tagged + prior * base_i)
    / (posts of u + tag_posts * tagged + prior)``, where ``base_i`` is the share of all posts
    in interest ``i`` and ``tagged`` is 1 when ``u``'s profile tags (matched against the
    interest names) include ``i``. With no posts and no tag a user sits at the base rate.

    Returns
    -------
    (affinity, counts)
        ``n_nodes x len(interests)`` arrays; ``counts`` is posts in each interest.

    >>> aff, cnt = affinity([0, 0, 1], [["tea"], [], ["go"]], [[], ["tea"]], ["tea", "go"],
    ...                     prior=0, tag_posts=1)
    >>> aff.tolist(), cnt.tolist()
    ([[0.5, 0.0], [0.5, 1.0]], [[1, 0], [0, 1]])
    """
    a = np.asarray(author, dtype=np.int64)
    n, m = len(node_tags), len(interests)
    column = {name: j for j, name in enumerate(interests)}
    counts = np.zeros((n, m), dtype=np.int64)
    for node, labels in zip(a.tolist(), post_interests, strict=True):
        for j in {column[x] for x in labels if x in column}:
            counts[node, j] += 1
    posts = np.bincount(a, minlength=n).astype(np.float64)
    tagged = np.zeros((n, m))
    for node, tags in enumerate(node_tags):
        for tag in tags:
            if tag in column:
                tagged[node, column[tag]] = 1.0
    base = counts.sum(axis=0) / max(1.0, float(posts.sum())) if m else np.zeros(0)
    num = counts + tag_posts * tagged + prior * base[None, :]
    den = posts[:, None] + tag_posts * tagged + prior
    aff = np.divide(num, den, out=np.zeros((n, m)), where=den > 0)
    return aff, counts


def tag_interests(tags: Sequence[str], taxonomy: Mapping[str, Sequence[str]]) -> list[str]:
    """Interests a profile's tags declare: a tag that is an interest's name, or that contains
    or is contained in one of its seed words (``咖啡达人`` -> coffee, ``拿铁`` -> coffee).

    >>> tag_interests(["咖啡达人", "旅行", "猫"], {"coffee": ["咖啡"], "travel": ["旅行"]})
    ['coffee', 'travel']
    """
    return list(_tag_interests(tuple(tags), tuple((k, tuple(v)) for k, v in taxonomy.items())))


@functools.lru_cache(maxsize=65_536)
def _tag_interests(
    tags: tuple[str, ...], taxonomy: tuple[tuple[str, tuple[str, ...]], ...]
) -> tuple[str, ...]:
    found = []
    for name, words in taxonomy:
        for tag in tags:
            t = tag.strip().lower()
            if t and (
                t == name.lower() or any(w and (w in t or (len(t) > 1 and t in w)) for w in words)
            ):
                found.append(name)
                break
    return tuple(found)


def modularity_of(
    matrix: sp.sparray | sp.spmatrix, labels: ArrayLike, resolution: float = 1.0
) -> float:
    """Newman modularity of ``labels`` on the undirected weighted graph ``A + A.T``, in O(edges)
    (networkx's needs a networkx graph, ~100x slower to build at 10^6 edges). Equal to
    networkx's on graphs without self-loops (the stage drops them).

    >>> two = sp.csr_array(np.array([[0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0]]))
    >>> modularity_of(two, [0, 0, 1, 1])
    0.5
    """
    a = sp.coo_array(matrix, dtype=np.float64)
    lab = np.asarray(labels, dtype=np.int64)
    if lab.shape != (a.shape[0],):
        raise ValueError(f"need one label per node ({a.shape[0]}), got shape {lab.shape}")
    total = 2.0 * float(a.data.sum())  # each entry counts once in A and once in A.T
    if total <= 0:
        return 0.0
    k = np.bincount(a.row, a.data, a.shape[0]) + np.bincount(a.col, a.data, a.shape[0])
    inside = 2.0 * float(a.data[lab[a.row] == lab[a.col]].sum())
    degree_sum = np.bincount(lab, k)
    return inside / total - resolution * float((degree_sum**2).sum()) / total**2
