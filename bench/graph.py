"""Benchmark: the graph stage on synthetic heavy-tailed graphs, against baselines in the same run.

Synthetic directed graph (Chung-Lu style: actors and authors drawn with Pareto weights, so a
few users receive most interactions, as preferential attachment gives), 10 raw interactions
per user, string uids, four kinds, timestamps over 90 days with a 30-day half-life.

Per size: build (raw string rows -> aggregated ``EdgeSet`` -> CSR); PageRank ours
(``PageRankOperator``: float32 iterations, float64 finish) vs a bare SciPy CSR float64 power
iteration (same tol) vs igraph PRPACK, each against a high-precision reference (float64
iteration to L1 change < 1e-14): max abs difference and top-100 overlap; the memory-bandwidth
bound (bytes one iteration touches / read bandwidth measured here with a numpy sum) and our
ratio to it; one mat-vec in node, in-degree and random order; a warm start from the scores
of the graph with 1% of its edges rewired; LeaderRank; coreness (ours: numpy peeling, vs
igraph, the Python fallback to 10^6 and networkx at 10^5); Louvain (ours = igraph, vs networkx
at 10^5); expected reach (3 sparse mat-vecs). networkx PageRank (tol / N, which gives our
accuracy) runs up to ``--nx-max-edges``. Headline figures come last as ``key=value``.

    .venv/bin/python bench/graph.py                    # 10^5, 10^6, 10^7 edges: ~5 min, 7.5 GB
    .venv/bin/python bench/graph.py --sizes 100000     # quick: under a minute
"""

from __future__ import annotations

import argparse
import gc
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import igraph
import networkx as nx
import numpy as np
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from graph.build import build_edges, to_csr  # noqa: E402
from graph.communities import communities, modularity  # noqa: E402
from graph.measures import coreness, leaderrank, simple_undirected  # noqa: E402
from graph.rank import PageRankOperator, permute  # noqa: E402

WEIGHTS = {"repost": 3.0, "comment": 2.0, "mention": 1.0, "follow": 1.0}
KIND_P = {"repost": 0.2, "comment": 0.4, "mention": 0.1, "follow": 0.3}
ALPHA, TOL, REF_TOL, MAX_ITER, HALF_LIFE, BETA = 0.85, 1e-10, 1e-14, 1000, 30.0, 0.1
NOW = np.datetime64("2025-06-01T00:00:00")
PY_CORENESS_MAX_EDGES = 1_000_000


def synthetic(n_edges: int, seed: int = 7) -> dict[str, Any]:
    """Raw interactions: string uids, kinds and timestamps, heavy-tailed in- and out-degree."""
    rng = np.random.default_rng(seed)
    n = max(n_edges // 10, 10)
    uids = (rng.permutation(n) + 1_000_000_000).astype(str)
    pop = rng.pareto(1.1, n) + 1.0  # who gets reposted: very skewed
    act = rng.pareto(1.8, n) + 1.0  # who acts: skewed, less so
    dst = rng.choice(n, n_edges, p=pop / pop.sum())
    src = rng.choice(n, n_edges, p=act / act.sum())
    kinds = np.array(list(KIND_P))[rng.choice(4, n_edges, p=list(KIND_P.values()))]
    ages = rng.integers(0, 90 * 86_400, n_edges).astype("timedelta64[s]")
    return {"src": uids[src], "dst": uids[dst], "kind": kinds, "created_at": NOW - ages}


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def read_bandwidth() -> float:
    """Bytes per second of a numpy sum over 400 MB (best of 5)."""
    big = np.ones(50_000_000)
    best = min(timed(big.sum)[1] for _ in range(5))
    return big.nbytes / best


def build(n_edges: int, row: dict[str, Any]) -> sp.csr_array:
    raw, row["gen_s"] = timed(lambda: synthetic(n_edges))
    now = NOW.astype(object)
    edges, row["build_s"] = timed(
        lambda: build_edges(
            raw["src"], raw["dst"], raw["kind"], WEIGHTS,
            created_at=raw["created_at"], now=now, half_life_days=HALF_LIFE,
        )
    )  # fmt: skip
    matrix, row["csr_s"] = timed(lambda: to_csr(edges))
    row["nodes"], row["edges"] = edges.n_nodes, edges.n_edges
    return matrix


def scipy_pagerank(a: sp.csr_array, tol: float, x0: Any = None) -> tuple[Any, int, float, float]:
    """The bare baseline: float64 CSR power iteration, uniform teleport and dangling."""
    start = time.perf_counter()
    n = a.shape[0]
    out = np.asarray(a.sum(axis=1)).ravel()
    dangling = np.flatnonzero(out == 0)
    inv = np.divide(1.0, out, out=np.zeros_like(out), where=out > 0)
    pt = sp.csr_array((sp.diags_array(inv) @ a).T)
    t_build = time.perf_counter() - start
    x = np.full(n, 1.0 / n) if x0 is None else x0
    for it in range(1, MAX_ITER + 1):  # noqa: B007 (it is returned)
        new = ALPHA * (pt @ x + x[dangling].sum() / n) + (1 - ALPHA) / n
        delta = float(np.abs(new - x).sum())
        x = new
        if delta < tol:
            break
    return x / x.sum(), it, t_build, time.perf_counter() - start - t_build


def igraph_pagerank(a: sp.csr_array) -> tuple[Any, float, float]:
    coo = a.tocoo()
    g, t_build = timed(
        lambda: igraph.Graph(
            n=a.shape[0],
            edges=list(zip(coo.row.tolist(), coo.col.tolist(), strict=True)),
            directed=True,
        )
    )
    weights = coo.data.tolist()
    x, t_rank = timed(lambda: g.pagerank(damping=ALPHA, weights=weights, implementation="prpack"))
    return np.asarray(x), t_build, t_rank


def accuracy(row: dict[str, Any], name: str, x: Any, ref: Any) -> None:
    row[f"{name}_max_abs_diff"] = float(np.abs(x - ref).max())
    top = min(100, ref.size)
    ours = set(np.argsort(-x)[:top].tolist())
    row[f"{name}_top100_overlap"] = len(ours & set(np.argsort(-ref)[:top].tolist())) / top


def bench_pagerank(a: sp.csr_array, row: dict[str, Any], bandwidth: float) -> None:
    op, row["pr_prepare_s"] = timed(lambda: PageRankOperator(a))
    res, row["pr_solve_s"] = timed(lambda: op.solve(ALPHA, tol=TOL, max_iter=MAX_ITER))
    row["pagerank_s"] = row["pr_prepare_s"] + row["pr_solve_s"]
    row["pr_iterations"], row["pr_delta"] = res.iterations, res.delta
    bench_reordered(a, res.x, row)
    x_sp, row["scipy_iterations"], t_b, t_r = scipy_pagerank(a, TOL)
    row["scipy_prepare_s"], row["scipy_solve_s"], row["scipy_s"] = t_b, t_r, t_b + t_r
    ref, row["ref_iterations"], _, _ = scipy_pagerank(a, REF_TOL, x0=x_sp.copy())
    x_ig, row["igraph_build_s"], row["igraph_s"] = igraph_pagerank(a)
    for name, x in (("ours", res.x), ("scipy", x_sp), ("igraph", x_ig)):
        accuracy(row, name, x, ref)
    # bytes one float32 iteration reads and writes: index + value per edge, row pointers,
    # x and y, and ~6 passes of vector arithmetic (float64 steps are few)
    n, nnz = a.shape[0], op.pt32.nnz
    per_iter = nnz * (op.pt32.indices.itemsize + 4) + n * 4 * (2 + 2 + 6)
    row["bytes_per_iter_mb"] = per_iter / 1e6
    row["bound_s"] = res.iterations * per_iter / bandwidth
    row["vs_bound"] = row["pr_solve_s"] / row["bound_s"]
    row["s_per_iter_ms"] = 1e3 * row["pr_solve_s"] / res.iterations
    # FINDINGS' reference: a float64 CSR with int64 indices reads 16 bytes an edge
    row["f64_bound_ms"] = 1e3 * (nnz * 16 + n * 8 * 4) / bandwidth
    bench_matvec_orders(op.pt32, row)
    bench_warm(a, op, row)


def bench_reordered(a: sp.csr_array, plain: Any, row: dict[str, Any]) -> None:
    """The operator with nodes stored by in-degree: build and solve times, same answer."""
    op, row["pr_reorder_prepare_s"] = timed(lambda: PageRankOperator(a, reorder=True))
    res, row["pr_reorder_solve_s"] = timed(lambda: op.solve(ALPHA, tol=TOL, max_iter=MAX_ITER))
    row["reorder_max_abs_diff_vs_plain"] = float(np.abs(res.x - plain).max())


def bench_matvec_orders(pt32: sp.csr_array, row: dict[str, Any]) -> None:
    """One float32 mat-vec (best of 5) in node order, by in-degree (most-read scores first)
    and in a random order (the worst case for cache hits)."""
    n = pt32.shape[0]
    x = np.full(n, 1.0 / n, dtype=np.float32)
    in_degree = np.diff(pt32.indptr)
    orders = {
        "natural": None,
        "indegree": np.argsort(-in_degree, kind="stable"),
        "random": np.random.default_rng(2).permutation(n),
    }
    for name, perm in orders.items():
        m = pt32 if perm is None else permute(pt32, perm)
        row[f"matvec_{name}_ms"] = 1e3 * min(timed(lambda m=m: m @ x)[1] for _ in range(5))


def bench_warm(a: sp.csr_array, op: PageRankOperator, row: dict[str, Any]) -> None:
    """Warm start from the scores of the same graph with 1% of the edges rewired."""
    coo = a.tocoo()
    rng = np.random.default_rng(1)
    moved = rng.random(coo.nnz) < 0.01
    col = np.where(moved, rng.integers(0, a.shape[0], coo.nnz), coo.col)
    before = sp.csr_array((coo.data, (coo.row, col)), shape=a.shape)
    previous = PageRankOperator(before).solve(ALPHA, tol=TOL).x
    del before, coo
    warm, row["warm_s"] = timed(lambda: op.solve(ALPHA, x0=previous, tol=TOL))
    row["warm_iterations"] = warm.iterations


def bench_measures(a: sp.csr_array, row: dict[str, Any], nx_max_edges: int) -> None:
    _, row["leaderrank_s"] = timed(lambda: leaderrank(a))
    _, row["coreness_s"] = timed(lambda: coreness(a))
    # what coreness(a, backend="igraph") does, in two timed parts
    sym = simple_undirected(a)
    g, row["igraph_convert_s"] = timed(lambda: undirected_simple_igraph(sym))
    _, row["igraph_coreness_only_s"] = timed(g.coreness)
    row["igraph_coreness_s"] = row["igraph_convert_s"] + row["igraph_coreness_only_s"]
    del g
    if row["edges"] <= PY_CORENESS_MAX_EDGES:
        _, row["py_coreness_s"] = timed(lambda: coreness(a, backend="python"))
    labels, row["louvain_s"] = timed(lambda: communities(a))
    row["louvain_q"] = modularity(a, labels)
    row["louvain_communities"] = int(labels.max()) + 1
    if row["edges"] <= nx_max_edges:
        g_nx = nx.Graph(sym)
        _, row["nx_coreness_s"] = timed(lambda: nx.core_number(g_nx))
        nx_labels, row["nx_louvain_s"] = timed(lambda: communities(a, backend="networkx"))
        row["nx_louvain_q"] = modularity(a, nx_labels)
    _, row["reach_s"] = timed(lambda: expected_reach(a))


def undirected_simple_igraph(sym: sp.csr_array) -> Any:
    upper = sp.triu(sym, k=1).tocoo()
    edges = list(zip(upper.row.tolist(), upper.col.tolist(), strict=True))
    return igraph.Graph(n=sym.shape[0], edges=edges)


def expected_reach(a: sp.csr_array, hops: int = 3) -> Any:
    s = sp.csr_array(a.T)
    s.data[:] = BETA
    x = np.ones(a.shape[0])
    total = np.zeros(a.shape[0])
    for _ in range(hops):
        x = s @ x
        total += x
    return total


def bench_networkx(a: sp.csr_array, row: dict[str, Any]) -> None:
    coo = a.tocoo()

    def graph() -> nx.DiGraph:
        g = nx.DiGraph()
        g.add_nodes_from(range(a.shape[0]))
        g.add_weighted_edges_from(
            zip(coo.row.tolist(), coo.col.tolist(), coo.data.tolist(), strict=True)
        )
        return g

    g, row["nx_build_s"] = timed(graph)
    n = g.number_of_nodes()
    _, row["nx_pagerank_s"] = timed(lambda: nx.pagerank(g, ALPHA, tol=TOL / n, max_iter=MAX_ITER))


def bench_size(n_edges: int, nx_max_edges: int, bandwidth: float) -> dict[str, Any]:
    row: dict[str, Any] = {"raw_edges": n_edges}
    a = build(n_edges, row)
    gc.collect()
    bench_pagerank(a, row, bandwidth)
    bench_measures(a, row, nx_max_edges)
    if row["edges"] <= nx_max_edges:
        bench_networkx(a, row)
    row["stage_s"] = (
        sum(
            row[k]
            for k in ("build_s", "csr_s", "pagerank_s", "leaderrank_s", "coreness_s", "louvain_s")
        )
        + row["reach_s"]
    )
    return row


TABLE = [
    ("nodes", "nodes"),
    ("edges", "aggregated edges"),
    ("build_s", "build: raw rows -> EdgeSet (s)"),
    ("csr_s", "EdgeSet -> CSR (s)"),
    ("pr_prepare_s", "PageRank ours: operator (s)"),
    ("pr_solve_s", "PageRank ours: solve (s)"),
    ("pr_iterations", "PageRank ours: mat-vecs"),
    ("pr_reorder_prepare_s", "ours reorder=True: operator (s)"),
    ("pr_reorder_solve_s", "ours reorder=True: solve (s)"),
    ("reorder_max_abs_diff_vs_plain", "reorder=True max abs diff vs plain"),
    ("s_per_iter_ms", "PageRank ours: ms per mat-vec"),
    ("bound_s", "bandwidth bound for our solve (s)"),
    ("f64_bound_ms", "f64/int64 CSR bound per iteration (ms)"),
    ("matvec_natural_ms", "f32 mat-vec, node order (ms)"),
    ("matvec_indegree_ms", "f32 mat-vec, by in-degree (ms)"),
    ("matvec_random_ms", "f32 mat-vec, random order (ms)"),
    ("vs_bound", "ours / bound"),
    ("ours_max_abs_diff", "ours max abs diff vs ref"),
    ("ours_top100_overlap", "ours top-100 overlap"),
    ("scipy_prepare_s", "scipy f64: P.T (s)"),
    ("scipy_solve_s", "scipy f64: iterate (s)"),
    ("scipy_iterations", "scipy f64: iterations"),
    ("scipy_max_abs_diff", "scipy max abs diff vs ref"),
    ("igraph_build_s", "igraph: Graph from arrays (s)"),
    ("igraph_s", "igraph PRPACK (s)"),
    ("igraph_max_abs_diff", "igraph max abs diff vs ref"),
    ("igraph_top100_overlap", "igraph top-100 overlap"),
    ("warm_iterations", "warm start: mat-vecs"),
    ("warm_s", "warm start: solve (s)"),
    ("leaderrank_s", "LeaderRank (s)"),
    ("coreness_s", "coreness ours (numpy waves) (s)"),
    ("igraph_coreness_s", "coreness igraph, incl. conversion (s)"),
    ("igraph_convert_s", "igraph: undirected Graph from arrays (s)"),
    ("igraph_coreness_only_s", "igraph coreness() alone (s)"),
    ("py_coreness_s", "coreness Python fallback (s)"),
    ("nx_coreness_s", "networkx core_number (s)"),
    ("louvain_s", "Louvain ours=igraph (s)"),
    ("louvain_q", "Louvain ours modularity"),
    ("nx_louvain_s", "Louvain networkx (s)"),
    ("nx_louvain_q", "Louvain networkx modularity"),
    ("reach_s", "expected reach, 3 mat-vecs (s)"),
    ("nx_build_s", "networkx DiGraph build (s)"),
    ("nx_pagerank_s", "networkx pagerank tol/N (s)"),
    ("stage_s", "graph stage total (s)"),
]


def fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 0.01 or abs(v) >= 1000 else f"{v:.3f}"
    return str(v)


def tag(row: dict[str, Any]) -> str:
    return f"1e{round(math.log10(row['raw_edges']))}"


def report(rows: list[dict[str, Any]], bandwidth: float) -> None:
    print(f"read bandwidth (numpy sum over 400 MB): {bandwidth / 1e9:.1f} GB/s; tol {TOL} (L1)")
    head = f"{'raw interactions':>42} | " + " | ".join(f"{r['raw_edges']:>10}" for r in rows)
    print(head)
    print("-" * len(head))
    for key, label in TABLE:
        print(f"{label:>42} | " + " | ".join(f"{fmt(r.get(key, '-')):>10}" for r in rows))
    print()
    for r in rows:
        t = tag(r)
        print(f"pagerank_{t}_s={r['pagerank_s']:.3f}")
        print(f"pagerank_solve_{t}_s={r['pr_solve_s']:.3f}")
        print(f"pagerank_vs_igraph_{t}={r['igraph_s'] / r['pagerank_s']:.1f}x")
        print(f"pagerank_solve_vs_igraph_{t}={r['igraph_s'] / r['pr_solve_s']:.1f}x")
        print(f"pagerank_vs_scipy_{t}={r['scipy_s'] / r['pagerank_s']:.1f}x")
        print(f"pagerank_vs_bandwidth_bound_{t}={r['vs_bound']:.1f}x")
        print(f"pagerank_ms_per_matvec_{t}={r['s_per_iter_ms']:.2f}")
        print(f"pagerank_matvec_vs_f64_csr_bound_{t}={r['s_per_iter_ms'] / r['f64_bound_ms']:.1f}x")
        print(f"pagerank_max_abs_diff_{t}={r['ours_max_abs_diff']:.2g}")
        print(f"pagerank_top100_overlap_{t}={r['ours_top100_overlap']:.2f}")
        print(f"warm_start_iterations_{t}={r['warm_iterations']}/{r['pr_iterations']}")
        print(f"coreness_{t}_s={r['coreness_s']:.3f}")
        print(f"louvain_{t}_s={r['louvain_s']:.3f}")
        print(f"stage_{t}_s={r['stage_s']:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000,10000000", help="raw interactions")
    parser.add_argument("--nx-max-edges", type=int, default=100_000, help="skip networkx above")
    args = parser.parse_args()
    sizes = [int(float(s)) for s in args.sizes.split(",")]
    bandwidth = read_bandwidth()
    rows = []
    for n in sizes:
        rows.append(bench_size(n, args.nx_max_edges, bandwidth))
        print(f"# {n} raw interactions done", file=sys.stderr, flush=True)
        gc.collect()
    report(rows, bandwidth)


if __name__ == "__main__":
    main()
