"""Look-alikes: nodes close to a set of seed users in the graph and in what they talk about.

Closeness in the graph is personalised PageRank teleporting to the seeds, run on the
symmetrised graph ``A + A.T``: a look-alike may act toward the seeds or be acted toward by
them, and either way it sits in their neighbourhood. Closeness in topic is the cosine between a
node's tag set and the seeds' pooled tag profile.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from graph.rank import pagerank

logger = logging.getLogger(__name__)


def tag_similarity(node_tags: Sequence[Iterable[str]], seeds: Sequence[int]) -> NDArray[np.float64]:
    """Cosine between each node's (binary) tag set and the seeds' pooled tag counts.

    Examples
    --------
    >>> tag_similarity([["a"], ["a", "b"], ["c"]], seeds=[0]).round(3).tolist()
    [1.0, 0.707, 0.0]
    """
    sets = [set(tags) for tags in node_tags]
    profile = Counter(tag for s in seeds for tag in sets[s])
    norm = np.sqrt(sum(c * c for c in profile.values()))
    if norm == 0:
        return np.zeros(len(sets))
    return np.array(
        [sum(profile[t] for t in s) / (np.sqrt(len(s)) * norm) if s else 0.0 for s in sets]
    )


def lookalikes(
    matrix: sp.sparray | sp.spmatrix,
    seeds: Sequence[int],
    node_tags: Sequence[Iterable[str]],
    k: int = 20,
    alpha: float = 0.85,
    mix: float = 0.5,
    exclude: Iterable[int] = (),
) -> list[tuple[int, float, dict[str, float]]]:
    """The ``k`` nodes most like ``seeds``, best first.

    Parameters
    ----------
    matrix : square scipy sparse matrix
        Weighted adjacency (direction is ignored here).
    seeds : sequence of int
        Node indices to find look-alikes of; never returned.
    node_tags : sequence of iterables of str
        Tags / interests per node.
    k : int
        How many to return.
    alpha : float
        PageRank damping; lower keeps the walk closer to the seeds.
    mix : float
        Weight of the graph part; ``1 - mix`` goes to tag similarity.
    exclude : iterable of int
        Nodes never returned (e.g. already targeted).

    Returns
    -------
    list of (node, score, parts)
        ``score = mix * ppr + (1 - mix) * similarity`` where ``ppr`` is the personalised
        PageRank divided by its largest value among non-seeds (so in [0, 1]) and
        ``similarity`` the tag cosine; ``parts`` holds both for explanations. Nodes scoring 0
        (unreachable from the seeds and sharing no tag) are left out; ties go to the lower index.

    Examples
    --------
    >>> a = sp.csr_array(np.array([[0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 0], [0, 0, 0, 0]]))
    >>> [v for v, _, _ in lookalikes(a, [0], [["x"], ["y"], ["y"], ["x"]])]
    [1, 3, 2]
    """
    n = matrix.shape[0]
    seed_idx = np.unique(np.asarray(seeds, dtype=np.int64))
    if not len(seed_idx):
        raise ValueError("lookalikes needs at least one seed")
    a = sp.csr_array(matrix, dtype=np.float64)
    teleport = np.zeros(n)
    teleport[seed_idx] = 1.0
    # starting from the seeds keeps nodes they cannot reach at exactly 0
    pr = pagerank(a + a.T, alpha=alpha, personalization=teleport, nstart=teleport)
    ppr = np.fromiter(pr.scores.values(), dtype=np.float64, count=n)
    candidate = np.ones(n, dtype=bool)
    candidate[seed_idx] = False
    # normalise before excluding, so excluding a node leaves the others' scores alone
    top_ppr = ppr[candidate].max(initial=0.0)
    candidate[np.fromiter(exclude, dtype=np.int64)] = False
    ppr = ppr / top_ppr if top_ppr > 0 else np.zeros(n)
    sim = tag_similarity(node_tags, seed_idx.tolist())
    score = mix * ppr + (1.0 - mix) * sim
    score[~candidate] = -1.0
    order = np.lexsort((np.arange(n), -score))[:k]
    return [
        (int(v), float(score[v]), {"ppr": float(ppr[v]), "similarity": float(sim[v])})
        for v in order
        if score[v] > 0
    ]
