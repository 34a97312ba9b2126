"""The sandbox world: deterministic, heavy-tailed, and carrying what settings.toml's campaigns target."""

from __future__ import annotations

import statistics
from pathlib import Path

import pytest

from crawlers.config import DEFAULT_INTERESTS, load_settings
from crawlers.sandbox.content import ANCHOR
from crawlers.sandbox.world import World, build_world, catalog

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def world() -> World:
    return build_world(42, 400)


def test_same_seed_same_world_other_seed_other_world() -> None:
    a, b, c = build_world(7, 60), build_world(7, 60), build_world(8, 60)
    assert a == b
    assert a.users != c.users
    assert [p.text for p in a.posts] != [p.text for p in c.posts]


def test_too_small_a_world_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 10"):
        build_world(1, 3)


def test_interests_are_the_default_taxonomy() -> None:
    assert set(catalog()) == set(DEFAULT_INTERESTS)
    for entry in catalog().values():
        assert 2 <= len(entry["topics"]) <= 4
        assert 1 <= len(entry["supertopics"]) <= 2


def test_campaign_targets_exist_in_the_world(world: World) -> None:
    settings = load_settings(ROOT / "settings.toml")
    tags = {t for u in world.users for t in u.tags}
    for camp in settings.campaigns.values():
        assert set(camp.tags) <= tags
        for topic in camp.topics:
            assert world.by_topic.get(topic), topic
        for name in camp.supertopics:
            assert world.by_supertopic.get(name), name
        for keyword in [*camp.keywords, camp.brand]:
            assert any(keyword in p.text for p in world.posts), keyword


def test_brands_get_praise_complaints_and_questions(world: World) -> None:
    for brand in ("拾光咖啡", "青屿"):
        posts = [p for p in world.posts if brand in p.text]
        assert {p.sentiment for p in posts} >= {"positive", "negative"}
        assert any(p.intent == "question" for p in posts)


def test_users_look_like_weibo_users(world: World) -> None:
    assert len(world.users) == 400
    assert len({u.uid for u in world.users}) == 400
    assert all(1_000_000_000 <= u.uid <= 9_999_999_999 for u in world.users)
    assert len({u.screen_name for u in world.users}) == 400
    assert all(1 <= len(u.interests) <= 3 and u.tags for u in world.users)
    assert all(u.verified for u in world.users if u.influencer)


def test_follow_counts_match_the_graph(world: World) -> None:
    assert len(set(world.follows)) == len(world.follows)
    assert all(src != dst for src, dst in world.follows)
    for user in world.users:
        assert user.followers_count == len(world.fans[user.uid])
        assert user.follow_count == len(world.followees[user.uid])


def test_followers_are_heavy_tailed_with_influencers_on_top(world: World) -> None:
    followers = [u.followers_count for u in world.users]
    assert max(followers) > 10 * statistics.median(followers)
    top = sorted(world.users, key=lambda u: -u.followers_count)[:10]
    assert sum(u.influencer for u in top) >= 8


def test_influencers_posts_collect_most_engagement(world: World) -> None:
    stars = {u.uid for u in world.users if u.influencer}
    on_stars = sum(p.comments_count for p in world.posts if p.uid in stars)
    assert on_stars > 0.5 * sum(p.comments_count for p in world.posts)


def test_sizes_for_the_demo_world(world: World) -> None:
    assert 2_000 <= len(world.posts) <= 5_000
    assert 5_000 <= len(world.follows) <= 10_000
    assert sum(p.comments_count for p in world.posts) > 3_000
    assert sum(len(p.reposts) for p in world.posts) > 2_000


def test_times_are_ordered_and_before_the_anchor(world: World) -> None:
    for post in world.posts[:500]:
        assert post.created_at < ANCHOR
        for comment in post.comments:
            assert post.created_at < comment.created_at <= ANCHOR
            assert all(comment.created_at < r.created_at for r in comment.replies)
        assert all(post.created_at < r.created_at for r in post.reposts)
    mids = [p.mid for p in world.posts]
    assert mids == sorted(mids, reverse=True)


def test_posts_read_like_weibo(world: World) -> None:
    texts = [p.text for p in world.posts]
    assert sum("#" in t for t in texts) > len(texts) / 2
    assert sum("@" in t for t in texts) > len(texts) / 20
    assert sum("[" in t for t in texts) > len(texts) / 5
    assert sum(t.rstrip().endswith("？") or "？" in t for t in texts) > len(texts) / 10
    assert any("想入手" in t for t in texts)
    assert all(len(p.text) > 140 for p in world.posts if p.is_long)
    assert any(p.supertopic for p in world.posts)
    assert {p.sentiment for p in world.posts} == {"positive", "negative", "neutral"}
