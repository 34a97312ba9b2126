"""Benchmark the whole ranking stage on a synthetic store, against a baseline.

The store (SQLite in a temporary folder) holds ``--edges`` interactions among ``edges / 10``
users (heavy-tailed, as in ``bench/graph.py``), a labelled post per ten interactions with an
interest each, and accounts with followers and profile tags. ``tingfeng rank``'s function
(``graph.score.run``) then loads the interactions and what the scores read beside them, computes
PageRank, LeaderRank, coreness, expected reach, engagement quality, communities and a ranking
per interest, and stores every row with its explanation.

The baseline, measured in the same run on the same store, is the bare ``SELECT`` of the
interaction rows plus one plain SciPy PageRank on them: what any ranking must at least pay.
``ratio`` = stage time / baseline time.

    python bench/graph_stage.py [--edges 1000000]

Ends with ``key=value`` lines.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert, text  # noqa: E402
from sqlmodel import Session  # noqa: E402

from crawlers.config import DEFAULT_INTERESTS, default_settings  # noqa: E402
from crawlers.models import Account, Interaction, Post, PostLabel  # noqa: E402
from crawlers.store import make_engine, migrate  # noqa: E402
from graph import score  # noqa: E402
from graph.build import build_edges, to_csr  # noqa: E402
from graph.rank import power_iteration, transition  # noqa: E402

NOW = datetime(2025, 6, 1, tzinfo=UTC)
KINDS = np.array(["repost", "comment", "mention", "follow"])
INTERESTS = sorted(DEFAULT_INTERESTS)


def fill(session: Session, n_edges: int, seed: int = 7) -> None:
    """Interactions, accounts and labelled posts, bulk-inserted."""
    rng = np.random.default_rng(seed)
    n = max(n_edges // 10, 10)
    uids = (rng.permutation(n) + 1_000_000_000).astype(str).tolist()
    pop = rng.pareto(1.1, n) + 1.0
    act = rng.pareto(1.8, n) + 1.0
    dst = rng.choice(n, n_edges, p=pop / pop.sum()).tolist()
    src = rng.choice(n, n_edges, p=act / act.sum()).tolist()
    kinds = KINDS[rng.choice(4, n_edges, p=[0.2, 0.4, 0.1, 0.3])].tolist()
    ages = rng.integers(0, 90 * 86_400, n_edges).tolist()
    rows = [
        {"platform": "weibo", "kind": k, "src_id": uids[s], "dst_id": uids[d],
         "post_id": "" if k == "follow" else f"x{i}",
         "created_at": NOW - timedelta(seconds=a)}
        for i, (s, d, k, a) in enumerate(zip(src, dst, kinds, ages, strict=True))
    ]  # fmt: skip
    seen: set[tuple[str, str, str, str]] = set()
    unique = []
    for r in rows:  # a follow is one row per pair
        key = (r["kind"], r["src_id"], r["dst_id"], r["post_id"])
        if key not in seen:
            seen.add(key)
            unique.append(r)
    rows = unique
    for lo in range(0, len(rows), 200_000):
        session.execute(insert(Interaction), rows[lo : lo + 200_000])
    followers = (pop * 50).astype(int).tolist()
    tags = [["咖啡"], ["旅行"], [], [], []]
    session.execute(
        insert(Account),
        [{"platform": "weibo", "platform_id": u, "name": f"user{i}", "followers_count": followers[i],
          "profile_tags": tags[i % len(tags)]} for i, u in enumerate(uids)],
    )  # fmt: skip
    n_posts = n_edges // 10
    authors = rng.choice(n, n_posts, p=pop / pop.sum()).tolist()
    likes = rng.poisson(5, n_posts).tolist()
    session.execute(
        insert(Post),
        [{"id": i + 1, "platform": "weibo", "platform_id": f"p{i}", "author_id": uids[a],
          "text": "t", "likes_count": likes[i], "reposts_count": 0, "comments_count": 0}
         for i, a in enumerate(authors)],
    )  # fmt: skip
    interests = rng.integers(0, len(INTERESTS), n_posts).tolist()
    session.execute(
        insert(PostLabel),
        [{"post_id": i + 1, "model_version": "bench", "interests": [INTERESTS[j]],
          "labeled_at": NOW} for i, j in enumerate(interests)],
    )  # fmt: skip
    session.commit()


def baseline(session: Session, settings: Any) -> float:
    """SELECT the interaction rows, build the edge set, one plain PageRank."""
    start = time.perf_counter()
    rows = session.execute(
        text("SELECT src_id, dst_id, kind FROM interaction WHERE platform = 'weibo'")
    ).all()
    src, dst, kinds = zip(*rows, strict=True)
    edges = build_edges(src, dst, kinds, settings.graph.weights.model_dump())
    pt, dangling = transition(to_csr(edges))
    u = np.full(edges.n_nodes, 1.0 / edges.n_nodes)
    power_iteration(pt, dangling, 0.85, u, u, u, settings.graph.tol, settings.graph.max_iter)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--edges", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = default_settings(store={"url": f"sqlite:///{Path(tmp) / 'bench.db'}"})
        engine = make_engine(settings.store.url)
        migrate(engine)
        with Session(engine) as session:
            t0 = time.perf_counter()
            fill(session, args.edges)
            print(f"filled the store with {args.edges} interactions in "
                  f"{time.perf_counter() - t0:.1f} s")  # fmt: skip
            base = baseline(session, settings)
            start = time.perf_counter()
            ranked = score.run(session, settings, NOW)
            stage = time.perf_counter() - start
            run = score.latest_run(session, "weibo")
            assert run is not None
            print(f"stage: {ranked} users ranked, {run.edges} edges, "
                  f"{run.summary['communities']} communities, "
                  f"{sum(run.summary['interests'].values())} per-interest entries")  # fmt: skip
            for part, seconds in run.summary["seconds"].items():
                print(f"  {part:<14} {seconds:8.2f} s")
            again = time.perf_counter()
            assert score.run(session, settings, NOW) == 0
            rerun = time.perf_counter() - again
        engine.dispose()
    print(f"edges={args.edges}")
    print(f"baseline_select_build_pagerank_s={base:.2f}")
    print(f"rerun_unchanged_s={rerun:.2f}")
    print(f"stage_s={stage:.2f}")
    print(f"ratio={stage / base:.2f}")


if __name__ == "__main__":
    main()
