"""Posts, comments and reposts of the sandbox world.

Times count back from a fixed anchor (never the wall clock), so a world is a pure function of
its seed. Ids are time-ordered like Weibo's: seconds since 2011 shifted left, plus a sequence.
Engagement is heavy-tailed: a post's expected comments and reposts grow with its author's
followers and vary log-normally, so the influencers' posts collect most of them.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

from crawlers.sandbox import text
from crawlers.sandbox.catalog import BRANDS, INTERESTS, SOURCES
from crawlers.sandbox.model import SHORT_TEXT, Post, User

CST = timezone(timedelta(hours=8))
ANCHOR = datetime(2026, 11, 1, 0, 0, 0, tzinfo=CST)
WINDOW_DAYS = 60
_ID_EPOCH = 1_300_000_000
# posting hours: mornings, lunch and evenings are busy, small hours quiet
_HOURS = (1, 1, 0, 0, 0, 0, 1, 3, 5, 5, 4, 4, 6, 5, 3, 3, 3, 4, 5, 6, 8, 9, 8, 4)
_BRAND_BY_INTEREST = {b.interest: b for b in BRANDS}


class Ids:
    """Unique, time-ordered 16-digit ids (as strings they look like real mids)."""

    def __init__(self) -> None:
        self._seq = 0

    def at(self, when: datetime) -> int:
        self._seq += 1
        return ((int(when.timestamp()) - _ID_EPOCH) << 22) | (self._seq & 0x3FFFFF)


def post_time(rng: random.Random) -> datetime:
    day = rng.randint(0, WINDOW_DAYS - 1)
    hour = rng.choices(range(24), weights=_HOURS)[0]
    moment = (
        ANCHOR
        - timedelta(days=day + 1, hours=1)
        + timedelta(hours=hour, seconds=rng.randint(0, 3599))
    )
    return moment


def later(rng: random.Random, start: datetime, mean_hours: float) -> datetime:
    """A moment after ``start`` and before the anchor (never past the world's "now")."""
    room = (ANCHOR - start).total_seconds()
    delay = min(30 + rng.expovariate(1 / (mean_hours * 3600)), room * rng.uniform(0.5, 0.95))
    return start + timedelta(seconds=int(delay) or 1)


def _post_count(rng: random.Random, user: User) -> int:
    if user.influencer:
        return rng.randint(35, 70)
    return min(60, 1 + int(rng.paretovariate(1.6) * 2))


def _kind(rng: random.Random) -> tuple[text.Sentiment, text.Intent]:
    """(sentiment, intent): questions read neutral, purchase intent mildly positive."""
    intents: tuple[text.Intent, ...] = ("share", "question", "purchase")
    intent = rng.choices(intents, weights=(77, 15, 8))[0]
    if intent == "question":
        return "neutral", intent
    if intent == "purchase":
        return "positive", intent
    sentiments: tuple[text.Sentiment, ...] = ("positive", "negative", "neutral")
    return rng.choices(sentiments, weights=(45, 25, 30))[0], intent


def _topics(rng: random.Random, topics: tuple[str, ...]) -> list[str]:
    roll = rng.random()
    if roll < 0.1:
        return rng.sample(topics, 2)
    return [rng.choice(topics)] if roll < 0.7 else []


def make_post(rng: random.Random, user: User, mention: str | None, ids: Ids) -> Post:
    name = user.interests[0] if rng.random() < 0.6 else rng.choice(user.interests)
    it = INTERESTS[name]
    sentiment, intent = _kind(rng)
    brand = _BRAND_BY_INTEREST.get(name) if rng.random() < 0.07 else None
    if brand is not None and intent != "question":
        intent, sentiment = "share", "negative" if sentiment == "negative" else "positive"
    topics = _topics(rng, it.topics)
    body = text.compose_post(
        rng,
        it,
        sentiment,
        intent,
        topics=topics,
        mention=mention,
        brand=brand,
        long=rng.random() < 0.03,
    )
    when = post_time(rng)
    supertopic = rng.choice(it.supertopics) if rng.random() < 0.15 else None
    return Post(
        mid=ids.at(when),
        uid=user.uid,
        created_at=when,
        text=body,
        interest=name,
        sentiment=sentiment,
        intent=intent,
        topics=tuple(topics),
        supertopic=supertopic,
        source=rng.choice(SOURCES),
        is_long=len(body) > SHORT_TEXT,
    )


def make_posts(
    rng: random.Random, users: list[User], followees: dict[int, list[int]], ids: Ids
) -> list[Post]:
    """Every user's posts, newest first; some mention someone the author follows."""
    by_uid = {u.uid: u for u in users}
    posts: list[Post] = []
    for user in users:
        for _ in range(_post_count(rng, user)):
            mention = None
            if followees[user.uid] and rng.random() < 0.1:
                mention = by_uid[rng.choice(followees[user.uid])].screen_name
            posts.append(make_post(rng, user, mention, ids))
    posts.sort(key=lambda p: p.mid, reverse=True)
    return posts
