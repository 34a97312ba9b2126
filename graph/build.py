"""The weighted directed interaction graph, built straight from edge arrays.

An interaction ``src -> dst`` means ``src`` acted towards ``dst`` (reposted, commented on or
mentioned ``dst``, or followed ``dst``), so influence flows towards ``dst``. Interactions are
aggregated per ``(src, dst)`` pair; each kind keeps its own (optionally time-decayed) weight and
its raw count, which the explanations need. Node ``i`` is the platform id ``ids[i]``; ids are
sorted, so the same interactions give the same index whatever order they were read in.

Building a networkx ``DiGraph`` edge by edge costs ~100x a PageRank at 10^6 edges
(FINDINGS.md), so the edge set goes to a SciPy CSR matrix (``to_csr``); ``to_networkx`` is for
small graphs and for algorithms only networkx has.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import networkx as nx
import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray
from sqlalchemy import select
from sqlmodel import Session

from crawlers.config import Settings
from crawlers.models import Interaction

logger = logging.getLogger(__name__)

#: Interaction kinds, in the column order of ``EdgeSet.kind_weight`` and ``EdgeSet.kind_count``.
KINDS: tuple[str, ...] = ("repost", "comment", "mention", "follow")
_SECONDS_PER_DAY = 86_400.0


@dataclass(frozen=True, eq=False)
class EdgeSet:
    """Aggregated interaction edges: one row per distinct ``(src, dst)`` pair, sorted.

    ``kind_weight[e, k]`` is the (decayed) weight edge ``e`` carries for ``KINDS[k]``,
    ``kind_count[e, k]`` how many such interactions it aggregates, ``weight`` their row sum.
    """

    ids: tuple[str, ...]
    src: NDArray[np.int64]
    dst: NDArray[np.int64]
    weight: NDArray[np.float64]
    kind_weight: NDArray[np.float64]
    kind_count: NDArray[np.int64]

    @property
    def n_nodes(self) -> int:
        return len(self.ids)

    @property
    def n_edges(self) -> int:
        return int(self.src.size)


def empty_edges() -> EdgeSet:
    """An edge set with no nodes."""
    k = len(KINDS)
    return EdgeSet(
        (), _ints([]), _ints([]), np.zeros(0), np.zeros((0, k)), np.zeros((0, k), np.int64)
    )


def _ints(values: ArrayLike) -> NDArray[np.int64]:
    return np.asarray(values, dtype=np.int64)


def decay(ages_days: ArrayLike, half_life_days: float) -> NDArray[np.float64]:
    """Weight factor ``0.5 ** (age / half_life)``; 1 when ``half_life_days <= 0``.

    Undated interactions (NaN age) keep their full weight; ages below 0 (clock skew) count as 0.

    Examples
    --------
    >>> decay([0.0, 7.0, 14.0, float("nan")], half_life_days=7.0).tolist()
    [1.0, 0.5, 0.25, 1.0]
    """
    ages = np.asarray(ages_days, dtype=np.float64)
    if half_life_days <= 0:
        return np.ones_like(ages)
    factor = np.exp2(-np.clip(ages, 0.0, None) / half_life_days)
    return np.where(np.isnan(ages), 1.0, factor)


def ages_in_days(
    created_at: Sequence[datetime | None] | NDArray[Any], now: datetime
) -> NDArray[np.float64]:
    """Age of each timestamp at ``now`` in days; NaN where a timestamp is missing.

    Accepts datetimes (naive ones are taken as UTC, as SQLite returns them) or a ``datetime64``
    array (NaT = missing).
    """
    ref = _aware(now).timestamp()
    if isinstance(created_at, np.ndarray) and np.issubdtype(created_at.dtype, np.datetime64):
        secs = created_at.astype("datetime64[ns]").astype(np.int64) / 1e9
        secs = np.where(np.isnat(created_at), np.nan, secs)
    else:
        secs = np.array(
            [np.nan if t is None else _aware(t).timestamp() for t in created_at], dtype=np.float64
        )
    return (ref - secs) / _SECONDS_PER_DAY


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


def kind_codes(kinds: ArrayLike) -> NDArray[np.int64]:
    """Column of each kind in ``KINDS``; -1 for a kind tingfeng does not know."""
    names = np.asarray(kinds, dtype=str)
    codes = np.full(names.shape, -1, dtype=np.int64)
    for k, name in enumerate(KINDS):
        codes[names == name] = k
    return codes


def index_nodes(
    src_ids: ArrayLike, dst_ids: ArrayLike
) -> tuple[tuple[str, ...], NDArray[np.int64], NDArray[np.int64]]:
    """Sorted distinct ids and the node index of each ``src`` and ``dst``.

    Sorting millions of strings dominated the build (~2 s per 10^6 interactions), so the ids
    are grouped by a 64-bit hash and only the distinct ids are sorted; a hash collision
    (checked) falls back to sorting the strings.
    """
    src = np.asarray(src_ids, dtype=str)
    both = np.concatenate([src, np.asarray(dst_ids, dtype=str)])
    keys, inverse = np.unique(_fnv1a(both), return_inverse=True)
    distinct = np.empty(keys.size, dtype=both.dtype)
    distinct[inverse] = both
    if not np.array_equal(distinct[inverse], both):
        distinct, inverse = np.unique(both, return_inverse=True)
    order = np.argsort(distinct, kind="stable")
    position = np.empty(order.size, dtype=np.int64)
    position[order] = np.arange(order.size)
    inverse = position[inverse.reshape(-1)]
    return tuple(distinct[order].tolist()), inverse[: src.size], inverse[src.size :]


def _fnv1a(strings: NDArray[np.str_]) -> NDArray[np.uint64]:
    """64-bit FNV-1a over the UTF-32 code points of each string (uint64 arithmetic wraps)."""
    width = strings.dtype.itemsize // 4
    points = np.ascontiguousarray(strings).view(np.uint32).reshape(strings.size, width)
    h = np.full(strings.size, 0xCBF29CE484222325, dtype=np.uint64)
    for j in range(width):
        h ^= points[:, j]
        h *= np.uint64(0x100000001B3)
    return h


def aggregate(
    src: ArrayLike,
    dst: ArrayLike,
    kind: ArrayLike,
    weight: ArrayLike,
    ids: Sequence[str],
) -> EdgeSet:
    """Sum per ``(src, dst)`` and kind: node indices in, one row per distinct pair out.

    ``kind`` holds columns of ``KINDS``; ``weight`` the weight of each single interaction.
    """
    s, d, k = _ints(src), _ints(dst), _ints(kind)
    n, nk = len(ids), len(KINDS)
    pairs, inverse = np.unique(s * max(n, 1) + d, return_inverse=True)
    cell = inverse.reshape(-1) * nk + k
    size = pairs.size * nk
    w = np.asarray(weight, dtype=np.float64)
    kind_weight = np.bincount(cell, weights=w, minlength=size).astype(np.float64)
    kind_count = np.bincount(cell, minlength=size).astype(np.int64)
    kind_weight = kind_weight.reshape(pairs.size, nk)
    return EdgeSet(
        ids=tuple(ids),
        src=pairs // max(n, 1),
        dst=pairs % max(n, 1),
        weight=kind_weight.sum(axis=1),
        kind_weight=kind_weight,
        kind_count=kind_count.reshape(pairs.size, nk),
    )


def build_edges(
    src_ids: ArrayLike,
    dst_ids: ArrayLike,
    kinds: ArrayLike,
    weights: Mapping[str, float],
    *,
    created_at: Sequence[datetime | None] | NDArray[Any] | None = None,
    now: datetime | None = None,
    half_life_days: float = 0.0,
    self_loops: bool = False,
) -> EdgeSet:
    """Build the aggregated edge set from one row per interaction.

    Parameters
    ----------
    src_ids, dst_ids : array_like of str
        Platform ids of the actor and of the user the interaction points at.
    kinds : array_like of str
        One of ``KINDS`` per interaction; unknown kinds are dropped (logged).
    weights : mapping
        Weight of one interaction of each kind (``settings.graph.weights``).
    created_at, now, half_life_days
        Optional exponential decay: each interaction weighs ``0.5 ** (age / half_life_days)``
        at ``now``. Needed only when ``half_life_days > 0``.
    self_loops : bool
        Keep interactions with oneself (by default dropped: they grant no influence).

    Examples
    --------
    >>> e = build_edges(["a", "a", "b"], ["b", "b", "c"], ["comment", "repost", "follow"],
    ...                 {"repost": 3.0, "comment": 2.0, "mention": 1.0, "follow": 1.0})
    >>> e.ids, e.weight.tolist(), e.kind_count.tolist()
    (('a', 'b', 'c'), [5.0, 1.0], [[1, 1, 0, 0], [0, 0, 0, 1]])
    """
    codes = kind_codes(kinds)
    per_kind = np.array([float(weights.get(k, 0.0)) for k in KINDS])
    weight = per_kind[np.clip(codes, 0, None)]
    if half_life_days > 0:
        if created_at is None or now is None:
            raise ValueError("time decay (half_life_days > 0) needs created_at and now")
        weight = weight * decay(ages_in_days(created_at, now), half_life_days)
    src, dst = np.asarray(src_ids, dtype=str), np.asarray(dst_ids, dtype=str)
    keep = _keep_mask(src, dst, codes, self_loops)
    ids, s, d = index_nodes(src[keep], dst[keep])
    return aggregate(s, d, codes[keep], weight[keep], ids)


def _keep_mask(
    src: NDArray[np.str_], dst: NDArray[np.str_], codes: NDArray[np.int64], self_loops: bool
) -> NDArray[np.bool_]:
    keep = codes >= 0
    if not keep.all():
        logger.warning(
            "dropped %d interactions of unknown kinds (known: %s)",
            int((~keep).sum()),
            ", ".join(KINDS),
        )
    if not self_loops:
        keep &= src != dst
    return keep


def to_csr(edges: EdgeSet) -> sp.csr_array:
    """``n x n`` CSR matrix, row = actor, column = the user who gains, value = weight."""
    n = edges.n_nodes
    return sp.csr_array((edges.weight, (edges.src, edges.dst)), shape=(n, n))


def to_networkx(edges: EdgeSet, names: Mapping[str, str] | None = None) -> nx.DiGraph:
    """A networkx view: nodes are platform ids, edges carry ``weight`` and a count per kind.

    Edge by edge, so meant for small graphs (~100x a PageRank at 10^6 edges).
    ``names`` (platform id -> display name) become the ``name`` node attribute.
    """
    graph = nx.DiGraph()
    graph.add_nodes_from(edges.ids)
    if names:
        nx.set_node_attributes(graph, {i: names[i] for i in edges.ids if i in names}, "name")
    ids = edges.ids
    for s, d, w, counts in zip(
        edges.src.tolist(),
        edges.dst.tolist(),
        edges.weight.tolist(),
        edges.kind_count.tolist(),
        strict=True,
    ):
        graph.add_edge(ids[s], ids[d], weight=w, **dict(zip(KINDS, counts, strict=True)))
    return graph


def load_edges(session: Session, platform: str, settings: Settings, now: datetime) -> EdgeSet:
    """All interactions of ``platform`` in the store, weighted and decayed per ``settings.graph``."""
    cfg = settings.graph
    decayed = cfg.half_life_days > 0
    t: Any = Interaction.__table__  # type: ignore[attr-defined]  # Core: ORM loading costs ~3x
    # timestamps only when decay needs them: parsing them is half the load time
    columns = [t.c.src_id, t.c.dst_id, t.c.kind, *([t.c.created_at] if decayed else [])]
    stmt = select(*columns).where(t.c.platform == platform).order_by(t.c.id)
    rows = session.connection().execute(stmt).all()
    if not rows:
        return empty_edges()
    src, dst, kinds, *created = zip(*rows, strict=True)
    return build_edges(
        src,
        dst,
        kinds,
        cfg.weights.model_dump(),
        created_at=list(created[0]) if decayed else None,
        now=now,
        half_life_days=cfg.half_life_days,
    )
