"""The ranking stage on the in-memory store: ranks stored, idempotent, new input -> new run."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import networkx as nx
import numpy as np
import pytest
from sqlmodel import Session, select

from crawlers.config import Settings
from crawlers.models import (
    Account,
    AccountLabel,
    Community,
    InfluenceScore,
    Interaction,
    Post,
    PostLabel,
    ScoreRun,
)
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
        "rank 1 of 6 (top 17%): 5 users engage with them (5 reposts, 5 comments, 5 follows), "
        "and 1 user engages with those; effective audience "
    )
    assert "; most from 豆子先生, 102, 103; in community #" in first.explanation
    assert first.parts["received"]["repost"] == 5 and first.parts["rank"] == 1
    assert first.parts["audience"] == 5 and first.parts["pagerank_rank"] == 1
    assert top[1].explanation.startswith(
        "rank 2 of 6 (top 34%): 1 user engages with them (1 comment)"
    )
    assert top[1].explanation.endswith(
        "most from 102; in community #" + str(top[1].parts["community"])
    )
    pagerank = star.exec(select(InfluenceScore.parts)).all()
    assert sum(p["pagerank"] for p in pagerank) == pytest.approx(1.0)
    # nobody engaged with the fans: no reach, ranked by id
    assert top[2].score == 0 and top[2].explanation.endswith("nobody has engaged with them yet")


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


@pytest.fixture
def two_groups(session: Session) -> Session:
    """Coffee fans 1-5 engage with 100 (a coffee blogger); gamers 11-15 with 200 (a gamer);
    one bridge comment 1 -> 200. 100 posts about coffee, 200 about gaming; 300 is followed
    by nobody but declares coffee in its profile tags."""
    rows = [(str(u), "100", "repost") for u in range(1, 6)]
    rows += [(str(u), str(v), "comment") for u in range(1, 6) for v in range(1, 6) if u < v]
    rows += [(str(u), "200", "repost") for u in range(11, 16)]
    rows += [(str(u), str(v), "comment") for u in range(11, 16) for v in range(11, 16) if u < v]
    rows += [("1", "200", "comment"), ("300", "100", "comment")]
    add_interactions(session, rows)
    session.add_all(
        [
            Account(platform="weibo", platform_id="100", name="咖啡师", followers_count=1000),
            Account(platform="weibo", platform_id="200", name="游戏王", followers_count=1000),
            Account(platform="weibo", platform_id="300", name="新人", profile_tags=["拿铁控"]),
        ]
    )
    for i, (author, interest, likes) in enumerate(
        [("100", "coffee", 50), ("100", "coffee", 40), ("200", "gaming", 5), ("200", "gaming", 6)]
    ):
        post = Post(platform="weibo", platform_id=f"p{i}", author_id=author, text="t",
                    likes_count=likes, reposts_count=0, comments_count=0)  # fmt: skip
        session.add(post)
        session.flush()
        session.add(PostLabel(post_id=post.id, model_version="v1", interests=[interest]))
    session.commit()
    return session


def test_interests_communities_and_quality_are_stored(
    two_groups: Session, bare_settings: Settings
) -> None:
    s = two_groups
    assert score.run(s, bare_settings, NOW) > 0
    run = score.latest_run(s, "weibo")
    assert run.summary["communities"] == 2 and run.summary["modularity"] > 0.3
    assert run.summary["interests"] == {"coffee": 2, "gaming": 1}
    coffee = score.latest_scores(s, "weibo", interest="coffee")
    assert [r.account_id for r in coffee] == ["100", "300"]
    assert coffee[0].explanation.startswith("rank 1 of 2 in coffee: 2 of 2 posts about coffee")
    assert coffee[1].parts["tagged"] and coffee[1].parts["posts_in_interest"] == 0
    assert [r.account_id for r in score.latest_scores(s, "weibo", interest="gaming")] == ["200"]
    overall = {r.account_id: r for r in score.latest_scores(s, "weibo", limit=100)}
    # same audience shape; 100's posts engage ~8x more per follower: quality is the square root
    # of each rate over the median rate (here the midpoint of the two)
    median = (0.045 + 0.0055) / 2
    assert overall["100"].parts["quality"] == pytest.approx((0.045 / median) ** 0.5)
    assert overall["200"].parts["quality"] == 0.5  # sqrt(0.0055 / median) = 0.47, clipped
    assert (
        overall["100"].rank == 1 and "engagement rate 4.50% per post" in overall["100"].explanation
    )
    groups = s.exec(select(Community).order_by(Community.community)).all()
    assert [(g.size, g.voices[0]) for g in groups][0] == (7, "100")
    # 200's low engagement rate (quality 0.5) lets gamer 15 (4 engagers, rate unknown) lead
    assert groups[1].size == 6 and groups[1].voices[:2] == ["15", "200"]
    assert groups[0].interests[0][0] == "coffee"
    assert groups[0].explanation.startswith(
        "7 users; they post about coffee (14%); top voices 咖啡师"
    )
    assert overall["100"].parts["community"] != overall["200"].parts["community"]


def test_spam_verdicts_cut_scores_and_new_labels_make_a_new_run(
    two_groups: Session, bare_settings: Settings
) -> None:
    s = two_groups
    score.run(s, bare_settings, NOW)
    assert score.run(s, bare_settings, NOW) == 0
    acc = s.exec(select(Account).where(Account.platform_id == "100")).one()
    s.add(AccountLabel(account_id=acc.id, model_version="v1", spam_score=0.8, is_spam=True))
    s.commit()
    assert score.run(s, bare_settings, NOW) > 0  # new input: the verdict
    top = {r.account_id: r for r in score.latest_scores(s, "weibo", limit=100)}
    quality = ((0.045 / ((0.045 + 0.0055) / 2)) ** 0.5) * 0.2
    assert top["100"].parts["spam"] == 0.8 and top["100"].parts["quality"] == pytest.approx(quality)
    assert "looks like a 水军 account, score cut by 80%" in top["100"].explanation
    assert top["200"].rank < top["100"].rank


def test_analyse_on_a_bare_graph_needs_no_store(bare_settings: Settings) -> None:
    edges = build_edges(["a", "b", "c"], ["z", "z", "a"], ["comment"] * 3, {"comment": 1.0})
    out = score.analyse(edges, score.no_inputs(edges), bare_settings)
    assert out.audience.tolist() == [1, 0, 0, 2]  # ids a, b, c, z
    assert out.score.argmax() == 3 and out.per_interest == {}
    assert out.quality.tolist() == [1.0] * 4


def test_interest_rankings_keep_the_best_interest_top(
    two_groups: Session, bare_settings: Settings
) -> None:
    bare_settings.graph.interest_top = 1
    score.run(two_groups, bare_settings, NOW)
    coffee = score.latest_scores(two_groups, "weibo", interest="coffee")
    assert [(r.account_id, r.rank, r.parts["of"]) for r in coffee] == [("100", 1, 2)]
    assert score.latest_run(two_groups, "weibo").summary["interests"]["coffee"] == 2


def test_louvain_in_a_child_process_gives_the_same_communities(
    two_groups: Session, bare_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    score.run(two_groups, bare_settings, NOW)
    inline = {
        r.account_id: r.parts["community"] for r in score.latest_scores(two_groups, "weibo", 100)
    }
    monkeypatch.setattr(score, "BACKGROUND_LOUVAIN_EDGES", 1)
    bare_settings.graph.explain_top = 2  # a new input: ranks again, now with the child process
    assert score.run(two_groups, bare_settings, NOW) > 0
    child = {
        r.account_id: r.parts["community"] for r in score.latest_scores(two_groups, "weibo", 100)
    }
    assert child == inline
    assert score.run(two_groups, bare_settings, NOW) == 0  # unchanged: the child is stopped


def _fails(x: int) -> int:
    raise ValueError(f"bad {x}")


def test_background_hands_back_results_and_errors() -> None:
    assert score.Background(divmod, 7, 2).result() == (3, 1)
    with pytest.raises(ValueError, match="bad 3"):
        score.Background(_fails, 3).result()
    slow = score.Background(__import__("time").sleep, 30)
    slow.cancel()  # returns at once: the child is terminated
