"""Comments (with sub-comments) and reposts on the sandbox world's posts, heavy-tailed."""

from __future__ import annotations

import random
from typing import cast

from crawlers.sandbox import text
from crawlers.sandbox.catalog import INTERESTS, SOURCES
from crawlers.sandbox.content import Ids, later
from crawlers.sandbox.model import Comment, Post, Repost, User

COMMENTS_PER_POST = 1.3
REPOSTS_PER_POST = 0.9
MAX_PER_POST = 400


class Audience:
    """Who reacts to a user's posts: mostly their fans, sometimes anyone sharing the interest."""

    def __init__(self, users: list[User], fans: dict[int, list[int]]) -> None:
        self.fans = fans
        self.by_uid = {u.uid: u for u in users}
        self.by_interest: dict[str, list[int]] = {n: [] for n in INTERESTS}
        for user in users:
            for name in user.interests:
                self.by_interest[name].append(user.uid)
        mean = sum(len(f) for f in fans.values()) / max(1, len(fans))
        self.mean_fans = mean

    def pick(self, rng: random.Random, post: Post) -> User:
        fans = self.fans[post.uid]
        pool = fans if fans and rng.random() < 0.7 else self.by_interest[post.interest]
        return self.by_uid[rng.choice(pool)]

    def reach(self, rng: random.Random, post: Post) -> float:
        """The post's pull: author's followers relative to the mean, times log-normal luck."""
        ratio = (len(self.fans[post.uid]) + 1) / (self.mean_fans + 1)
        return ratio**1.1 * rng.lognormvariate(-0.3, 0.9)


def _draw(rng: random.Random, mean: float) -> int:
    """An integer with the given mean (stochastic rounding), capped."""
    return min(MAX_PER_POST, int(mean + rng.random()))


def _mood(rng: random.Random, post: Post) -> text.Sentiment:
    if rng.random() < 0.6:
        # the generator only ever sets a Sentiment here (see content._kind)
        return cast(text.Sentiment, post.sentiment)
    moods: tuple[text.Sentiment, ...] = ("positive", "negative", "neutral")
    return rng.choice(moods)


def _replies(rng: random.Random, post: Post, root: Comment, aud: Audience, ids: Ids) -> None:
    to = aud.by_uid[root.uid].screen_name
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        who = aud.by_uid[post.uid] if rng.random() < 0.5 else aud.pick(rng, post)
        when = later(rng, root.created_at, 2)
        root.replies.append(
            Comment(
                id=ids.at(when),
                mid=post.mid,
                uid=who.uid,
                text=text.compose_reply(rng, to),
                created_at=when,
                like_count=int(rng.paretovariate(2)) - 1,
                root_id=root.id,
                reply_id=root.id,
            )
        )


def add_comments(rng: random.Random, post: Post, aud: Audience, reach: float, ids: Ids) -> None:
    it = INTERESTS[post.interest]
    for _ in range(_draw(rng, COMMENTS_PER_POST * reach)):
        who = aud.pick(rng, post)
        when = later(rng, post.created_at, 6)
        cid = ids.at(when)
        comment = Comment(
            id=cid,
            mid=post.mid,
            uid=who.uid,
            text=text.compose_comment(rng, it, _mood(rng, post)),
            created_at=when,
            like_count=int(rng.paretovariate(1.3) * reach) - 1,
            root_id=cid,
        )
        if rng.random() < 0.25:
            _replies(rng, post, comment, aud, ids)
        post.comments.append(comment)
    post.comments.sort(key=lambda c: (-c.like_count, c.id))


def add_reposts(rng: random.Random, post: Post, aud: Audience, reach: float, ids: Ids) -> None:
    for _ in range(_draw(rng, REPOSTS_PER_POST * reach)):
        who = aud.pick(rng, post)
        when = later(rng, post.created_at, 10)
        post.reposts.append(
            Repost(
                id=ids.at(when),
                mid=post.mid,
                uid=who.uid,
                text=text.compose_repost(rng),
                created_at=when,
                source=rng.choice(SOURCES),
            )
        )
    post.reposts.sort(key=lambda r: r.id, reverse=True)


def engage(rng: random.Random, posts: list[Post], aud: Audience, ids: Ids) -> None:
    """Give every post its comments, reposts and likes (reach normalised to mean 1)."""
    reaches = [aud.reach(rng, post) for post in posts]
    scale = len(reaches) / max(1e-9, sum(reaches))
    for post, raw in zip(posts, reaches, strict=True):
        reach = raw * scale
        add_comments(rng, post, aud, reach, ids)
        add_reposts(rng, post, aud, reach, ids)
        likes = (post.comments_count + len(post.reposts)) * rng.randint(2, 9)
        post.attitudes_count = likes + int(rng.paretovariate(1.5) * 3)
