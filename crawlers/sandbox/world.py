"""``build_world(seed, users)``: the sandbox's users, follows, posts, comments and reposts.

A pure function of its arguments: one ``random.Random(seed)`` drives every choice, times count
back from a fixed anchor, so the same seed always gives the same world.
"""

from __future__ import annotations

import logging
import random
import time
from collections import Counter
from dataclasses import replace

from crawlers.sandbox.catalog import INTERESTS
from crawlers.sandbox.content import Ids, make_posts
from crawlers.sandbox.engagement import Audience, engage
from crawlers.sandbox.model import Comment, Post, Repost, User, World
from crawlers.sandbox.people import count_follows, make_follows, make_users

__all__ = [
    "Comment",
    "Post",
    "Repost",
    "User",
    "World",
    "build_world",
    "catalog",
    "hide_newest_posts",
]

logger = logging.getLogger(__name__)


def _followees(users: list[User], follows: list[tuple[int, int]]) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {u.uid: [] for u in users}
    for src, dst in follows:
        out[src].append(dst)
    return out


def _count_statuses(rng: random.Random, world: World) -> None:
    """Statuses ever posted: the world's recent posts plus older ones it does not serve."""
    for user in world.users:
        older = rng.randint(3_000, 40_000) if user.influencer else int(rng.paretovariate(1.2) * 50)
        user.statuses_count = len(world.timelines[user.uid]) + older


def build_world(seed: int, users: int) -> World:
    """The sandbox world of ``users`` users generated from ``seed``."""
    if users < 10:
        raise ValueError(f"a sandbox world needs at least 10 users, got {users}")
    started = time.perf_counter()
    rng = random.Random(seed)
    people = make_users(rng, users)
    follows = make_follows(rng, people)
    count_follows(people, follows)
    ids = Ids()
    posts = make_posts(rng, people, _followees(people, follows), ids)
    world = World(seed=seed, users=people, follows=follows, posts=posts)
    engage(rng, posts, Audience(people, world.fans), ids)
    _count_statuses(rng, world)
    logger.debug(
        "built world seed=%s users=%s posts=%s follows=%s in %.2fs",
        seed,
        users,
        len(posts),
        len(follows),
        time.perf_counter() - started,
    )
    return world


def hide_newest_posts(world: World, fraction: float) -> World:
    """The world before its newest ``fraction`` of posts (and their comments and reposts) existed.

    Everything else is the same objects, so a crawl of this world followed by one of the full
    world sees the hidden posts appear as new.
    """
    hidden = int(len(world.posts) * fraction)
    if hidden <= 0:
        return world
    unwritten = Counter(p.uid for p in world.posts[:hidden])
    users = [replace(u, statuses_count=u.statuses_count - unwritten[u.uid]) for u in world.users]
    return World(seed=world.seed, users=users, follows=world.follows, posts=world.posts[hidden:])


def catalog() -> dict[str, dict[str, list[str]]]:
    """interest -> {"tags", "topics", "supertopics"} of every sandbox world."""
    return {
        name: {
            "tags": list(it.tags),
            "topics": list(it.topics),
            "supertopics": list(it.supertopics),
        }
        for name, it in INTERESTS.items()
    }
