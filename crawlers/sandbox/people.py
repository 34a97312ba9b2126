"""Users and the follow graph of the sandbox world.

Follows grow by preferential attachment: each new follow picks a target with probability
proportional to its followers so far plus an initial attractiveness, within the follower's own
interests more often than not, and straight to that interest's influencers some of the time.
That gives the heavy-tailed in-degree of a real platform, with the influencers on top.
"""

from __future__ import annotations

import random

from crawlers.sandbox import names
from crawlers.sandbox.catalog import CITIES, INTERESTS, OTHER_TAGS
from crawlers.sandbox.model import User

INFLUENCER_PULL = 40  # initial attractiveness of an influencer, in "followers" (others: 1)


def influencers_per_interest(users: int) -> int:
    return min(5, 2 + users // 400)


def _uid(rng: random.Random, taken: set[int]) -> int:
    while True:
        uid = rng.randint(1_000_000_000, 7_999_999_999)
        if uid not in taken:
            taken.add(uid)
            return uid


def _interests(rng: random.Random, primary: str) -> tuple[str, ...]:
    others = [n for n in INTERESTS if n != primary]
    return (primary, *rng.sample(others, rng.choice((0, 0, 1, 1, 2))))


def _tags(rng: random.Random, interests: tuple[str, ...]) -> tuple[str, ...]:
    tags: list[str] = []
    for i, name in enumerate(interests):
        pool = INTERESTS[name].tags
        tags += rng.sample(pool, rng.randint(2, 3) if i == 0 else 1)
    if rng.random() < 0.3:
        tags.append(rng.choice(OTHER_TAGS))
    return tuple(dict.fromkeys(tags))


def _user(rng: random.Random, uid: int, primary: str, influencer: bool, taken: set[str]) -> User:
    interests = _interests(rng, primary)
    tags = _tags(rng, interests)
    city = rng.choice(CITIES)
    it = INTERESTS[primary]
    raw = names.influencer_name(rng, it) if influencer else names.nickname(rng)
    user = User(
        uid=uid,
        screen_name=names.unique(raw, taken, rng),
        gender=rng.choice("ffm"),
        location=city,
        description=names.description(rng, list(tags), city),
        interests=interests,
        tags=tags,
        influencer=influencer,
        urank=rng.randint(30, 48) if influencer else rng.randint(1, 35),
        mbrank=rng.randint(4, 7) if influencer else rng.choice((0, 0, 0, 1, 2, 3)),
    )
    if influencer or rng.random() < 0.06:
        desc, reason = names.influencer_profile(rng, it)
        user.verified, user.verified_reason = True, reason
        user.description = desc if influencer else user.description
    return user


def make_users(rng: random.Random, count: int) -> list[User]:
    """``count`` users; the first few of each interest are its influencers."""
    uids: set[int] = set()
    screen_names: set[str] = set()
    per = influencers_per_interest(count)
    users = [
        _user(rng, _uid(rng, uids), name, True, screen_names)
        for name in INTERESTS
        for _ in range(per)
    ]
    interest_names = list(INTERESTS)
    while len(users) < count:
        primary = rng.choice(interest_names)
        users.append(_user(rng, _uid(rng, uids), primary, False, screen_names))
    return users[:count]


def _pools(users: list[User]) -> tuple[list[int], dict[str, list[int]], dict[str, list[int]]]:
    """Attachment pools: a uid appears once per follower (+ its initial attractiveness)."""
    everyone: list[int] = []
    by_interest: dict[str, list[int]] = {n: [] for n in INTERESTS}
    stars: dict[str, list[int]] = {n: [] for n in INTERESTS}
    for user in users:
        weight = INFLUENCER_PULL if user.influencer else 1
        everyone += [user.uid] * weight
        for name in user.interests:
            by_interest[name] += [user.uid] * weight
        if user.influencer:
            stars[user.interests[0]].append(user.uid)
    return everyone, by_interest, stars


def _out_degree(rng: random.Random, user: User, limit: int) -> int:
    base = rng.paretovariate(1.8) * 6
    return max(2, min(limit, int(base * (2 if user.influencer else 1))))


def make_follows(rng: random.Random, users: list[User]) -> list[tuple[int, int]]:
    """Follow edges ``(follower, followee)`` in the order they happened."""
    everyone, by_interest, stars = _pools(users)
    by_uid = {u.uid: u for u in users}
    order = list(users)
    rng.shuffle(order)
    follows: list[tuple[int, int]] = []
    for user in order:
        wanted, seen = _out_degree(rng, user, len(users) // 3), {user.uid}
        for _ in range(wanted * 3):
            if len(seen) > wanted:
                break
            roll, interest = rng.random(), rng.choice(user.interests)
            pool = by_interest[interest] if roll < 0.55 else everyone
            pool = stars[interest] if roll > 0.85 else pool
            target = rng.choice(pool)
            if target in seen:
                continue
            seen.add(target)
            follows.append((user.uid, target))
            everyone.append(target)
            for name in by_uid[target].interests:
                by_interest[name].append(target)
    return follows


def count_follows(users: list[User], follows: list[tuple[int, int]]) -> None:
    """Set ``followers_count``/``follow_count`` from the graph, so the two always agree."""
    by_uid = {u.uid: u for u in users}
    for src, dst in follows:
        by_uid[src].follow_count += 1
        by_uid[dst].followers_count += 1
