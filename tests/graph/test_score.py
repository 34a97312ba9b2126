"""The ranking stage on the in-memory store: ranks stored, idempotent, new input -> new run."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import networkx as nx
import numpy as np
import pytest
from sqlmodel import Session, select

from crawlers.config import Settings
from crawlers.models import Account, InfluenceScore, Interaction, ScoreRun
from crawlers.store import count
from graph import score
from graph.build import KINDS, build_edges, to_networkx

NOW = datetime(2025, 6, 1, tzinfo=UTC)


def add_interactions(
    session: Session, rows: list[tuple[str, str, str]], platform: str = "weibo"
) -> None:
    for i, (src, dst, kind) in enumerate(rows):
        post = "" if kind == "follow" else f"{platform}-{src}-{dst}-{i}"
        session.add(
            Interaction(
                platform=platform,
                kind=kind,
                src_id=src,
                dst_id=dst,
                post_id=post,
                created_at=NOW - timedelta(days=i),
            )
        )
    session.commit()


@pytest.fixture
def star(session: Session) -> Session:
    """User 100 (拿铁少女) is reposted, commented and followed by everyone; 101 gets one comment."""
    rows = [
        (str(u), "100", kind) for u in range(101, 106) for kind in ("repost", "comment", "follow")
    ]
    add_interactions(session, [*rows, ("102", "101", "comment")])
    session.add_all(
        [
            Account(platform="weibo", platform_id="100", name="拿铁少女"),
            Account(platform="weibo", platform_id="101", name="豆子先生"),
        ]
    )
    session.commit()
    return session


def test_empty_store_ranks_nothing(
    session: Session, bare_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="graph.score"):
        assert score.run(session, bare_settings, NOW) == 0
    assert "nothing to rank" in caplog.text
    assert count(session, ScoreRun) == 0
    assert score.latest_scores(session, "weibo") == []


def test_ranks_are_stored_with_explanations(star: Session, bare_settings: Settings) -> None:
    assert score.run(star, bare_settings, NOW) == 6
    run = star.exec(select(ScoreRun)).one()
    assert (run.platform, run.nodes, run.edges, run.converged) == ("weibo", 6, 6, True)
    assert run.params["damping"] == 0.85 and run.iterations > 1
    top = score.latest_scores(star, "weibo", limit=3)
    assert [s.account_id for s in top] == ["100", "101", "102"]
    assert [s.rank for s in top] == [1, 2, 3]
    first = top[0]
    assert first.explanation.startswith(
        "rank 1 of 6 (top 17%): 5 reposts, 5 comments, 5 follows received; most from "
    )
    assert first.parts["received"]["repost"] == 5 and first.parts["rank"] == 1
    assert top[1].explanation.endswith("1 comment received; most from 102")
    scores = star.exec(select(InfluenceScore.score)).all()
    assert sum(scores) == pytest.approx(1.0)


def test_second_run_writes_nothing(star: Session, bare_settings: Settings) -> None:
    assert score.run(star, bare_settings, NOW) == 6
    # without decay the time of the run does not matter
    assert score.run(star, bare_settings, NOW + timedelta(hours=6)) == 0
    assert (count(star, ScoreRun), count(star, InfluenceScore)) == (1, 6)


def test_new_interactions_make_a_new_run(star: Session, bare_settings: Settings) -> None:
    score.run(star, bare_settings, NOW)
    add_interactions(star, [("200", "101", "repost"), ("201", "101", "repost")])
    assert score.run(star, bare_settings, NOW) == 8
    assert count(star, ScoreRun) == 2
    latest = score.latest_scores(star, "weibo", limit=100)
    assert len(latest) == 8 and latest[0].run_id == score.latest_run(star, "weibo").id


def test_changed_settings_or_names_make_a_new_run(star: Session, bare_settings: Settings) -> None:
    score.run(star, bare_settings, NOW)
    bare_settings.graph.weights.follow = 5.0
    assert score.run(star, bare_settings, NOW) == 6
    star.add(Account(platform="weibo", platform_id="102", name="阿杰"))
    star.commit()
    assert score.run(star, bare_settings, NOW) == 6
    assert "阿杰" in score.latest_scores(star, "weibo", limit=2)[1].explanation
    assert count(star, ScoreRun) == 3


def test_decay_makes_later_runs_new_and_records_now(star: Session, bare_settings: Settings) -> None:
    bare_settings.graph.half_life_days = 7.0
    assert score.run(star, bare_settings, NOW) == 6
    assert score.run(star, bare_settings, NOW) == 0
    assert score.run(star, bare_settings, NOW + timedelta(days=1)) == 6
    assert score.latest_run(star, "weibo").params["now"] == (NOW + timedelta(days=1)).isoformat()


def test_each_platform_is_ranked_on_its_own(star: Session, bare_settings: Settings) -> None:
    add_interactions(star, [("a", "b", "comment")], platform="mastodon")
    assert score.run(star, bare_settings, NOW) == 8
    assert [s.account_id for s in score.latest_scores(star, "mastodon")] == ["b", "a"]
    assert {r.platform for r in star.exec(select(ScoreRun)).all()} == {"weibo", "mastodon"}


def test_only_self_interactions_rank_nothing(session: Session, bare_settings: Settings) -> None:
    add_interactions(session, [("1", "1", "comment")])
    assert score.run(session, bare_settings, NOW) == 0


def test_rank_edges_matches_networkx_on_the_networkx_view(bare_settings: Settings) -> None:
    # the stage's fast path (EdgeSet -> CSR) and the networkx view must describe the same graph
    rng = np.random.default_rng(3)
    src, dst = rng.integers(0, 40, 300).astype(str), rng.zipf(1.6, 300).clip(0, 39).astype(str)
    kinds = rng.choice(list(KINDS), 300)
    edges = build_edges(src, dst, kinds, bare_settings.graph.weights.model_dump())
    ours = score.rank_edges(edges, bare_settings)
    ref = nx.pagerank(to_networkx(edges), 0.85, tol=1e-13 / edges.n_nodes, max_iter=10_000)
    assert ours.converged
    assert max(abs(ours.x[i] - ref[v]) for i, v in enumerate(edges.ids)) < 1e-9
