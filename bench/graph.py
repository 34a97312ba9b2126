"""Benchmark: building the interaction graph and ranking it, against networkx in the same run.

Synthetic heavy-tailed directed graph (Chung-Lu style: actors and authors drawn with Pareto
weights, so a few users receive most interactions, as preferential attachment gives), 10 raw
interactions per user, string uids, four kinds, timestamps over 90 days with a 30-day half-life.

Ours: ``build_edges`` (index ids, decay, aggregate) + CSR, then the CSR power iteration.
Baseline: networkx ``DiGraph`` built from the same aggregated edges, then ``nx.pagerank`` with
``tol = our_tol / N`` (networkx stops at L1 change < N * tol; this gives the same accuracy).

    .venv/bin/python bench/graph.py                 # 10^5 and 10^6 edges
    .venv/bin/python bench/graph.py --sizes 100000 --nx-max-edges 0
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from graph.build import EdgeSet, build_edges, to_csr  # noqa: E402
from graph.rank import power_iteration, transition  # noqa: E402

WEIGHTS = {"repost": 3.0, "comment": 2.0, "mention": 1.0, "follow": 1.0}
KIND_P = {"repost": 0.2, "comment": 0.4, "mention": 0.1, "follow": 0.3}
ALPHA, TOL, MAX_ITER, HALF_LIFE = 0.85, 1e-10, 1000, 30.0
NOW = np.datetime64("2025-06-01T00:00:00")


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


def ours(raw: dict[str, Any]) -> dict[str, Any]:
    now = NOW.astype(object).replace(tzinfo=None)
    edges, t_build = timed(
        lambda: build_edges(
            raw["src"], raw["dst"], raw["kind"], WEIGHTS,
            created_at=raw["created_at"], now=now, half_life_days=HALF_LIFE,
        )
    )  # fmt: skip
    matrix, t_csr = timed(lambda: to_csr(edges))
    u = np.full(edges.n_nodes, 1.0 / edges.n_nodes)

    def rank() -> Any:
        pt, dangling = transition(matrix)
        return power_iteration(pt, dangling, ALPHA, u, u, u, TOL, MAX_ITER)

    res, t_rank = timed(rank)
    return {"edges": edges, "build": t_build, "csr": t_csr, "rank": t_rank, "result": res}


def baseline(edges: EdgeSet) -> dict[str, Any]:
    def build() -> nx.DiGraph:
        g = nx.DiGraph()
        g.add_nodes_from(range(edges.n_nodes))
        g.add_weighted_edges_from(
            zip(edges.src.tolist(), edges.dst.tolist(), edges.weight.tolist(), strict=True)
        )
        return g

    g, t_build = timed(build)
    n = g.number_of_nodes()
    pr, t_rank = timed(lambda: nx.pagerank(g, ALPHA, tol=TOL / n, max_iter=MAX_ITER))
    x = np.array([pr[i] for i in range(n)])
    loose, _ = timed(lambda: nx.pagerank(g, ALPHA))  # networkx defaults: tol=1e-6 -> N*1e-6
    return {
        "build": t_build,
        "rank": t_rank,
        "x": x,
        "x_default": np.array([loose[i] for i in range(n)]),
    }


def bench_size(n_edges: int, nx_max_edges: int) -> dict[str, Any]:
    raw, t_gen = timed(lambda: synthetic(n_edges))
    row: dict[str, Any] = {"raw_edges": n_edges, "gen": t_gen, **ours(raw)}
    row["nodes"], row["agg_edges"] = row["edges"].n_nodes, row["edges"].n_edges
    row["iterations"] = row["result"].iterations
    if n_edges <= nx_max_edges:
        base = baseline(row["edges"])
        row["nx_build"], row["nx_rank"] = base["build"], base["rank"]
        row["max_abs_diff"] = float(np.abs(row["result"].x - base["x"]).max())
        row["nx_default_tol_max_abs_err"] = float(np.abs(base["x_default"] - base["x"]).max())
    return row


def fmt(v: Any) -> str:
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def report(rows: list[dict[str, Any]]) -> None:
    cols = [
        "raw_edges",
        "nodes",
        "agg_edges",
        "build",
        "csr",
        "rank",
        "iterations",
        "nx_build",
        "nx_rank",
    ]
    print("seconds (wall). build: raw string rows -> aggregated EdgeSet (index ids, decay, sum);")
    print("csr / nx_build: EdgeSet arrays -> CSR matrix / networkx DiGraph;")
    print("rank / nx_rank: PageRank to the same accuracy (ours tol, networkx tol / N)")
    print(" | ".join(f"{c:>10}" for c in cols))
    for r in rows:
        print(" | ".join(f"{fmt(r.get(c, 'skipped')):>10}" for c in cols))
    print()
    for r in rows:
        tag = f"e{len(str(r['raw_edges'])) - 1}"  # 100000 -> e5
        print(f"{tag}_nodes={r['nodes']}")
        print(f"{tag}_ours_build_from_rows_s={r['build']:.3f}")
        print(f"{tag}_ours_csr_from_arrays_s={r['csr']:.3f}")
        print(f"{tag}_ours_pagerank_s={r['rank']:.3f}")
        print(f"{tag}_ours_iterations={r['iterations']}")
        if "nx_rank" not in r:
            print(f"{tag}_networkx=skipped (raise --nx-max-edges to run it)")
            continue
        print(f"{tag}_nx_build_s={r['nx_build']:.3f}")
        print(f"{tag}_nx_pagerank_s={r['nx_rank']:.3f}")
        print(f"{tag}_speedup_build={r['nx_build'] / r['csr']:.1f}")
        print(f"{tag}_speedup_pagerank={r['nx_rank'] / r['rank']:.1f}")
        nx_total, ours_total = r["nx_build"] + r["nx_rank"], r["csr"] + r["rank"]
        print(f"{tag}_speedup_build_and_pagerank={nx_total / ours_total:.1f}")
        print(f"{tag}_max_abs_diff={r['max_abs_diff']:.3g}")
        print(f"{tag}_nx_default_tol_max_abs_err={r['nx_default_tol_max_abs_err']:.3g}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000", help="raw interactions per run")
    parser.add_argument("--nx-max-edges", type=int, default=1_000_000, help="skip networkx above")
    args = parser.parse_args()
    sizes = [int(float(s)) for s in args.sizes.split(",")]
    rows, total = timed(lambda: [bench_size(n, args.nx_max_edges) for n in sizes])
    report(rows)
    print(f"total_s={total:.1f}")


if __name__ == "__main__":
    main()
