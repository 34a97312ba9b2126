"""The sandbox world's data: plain dataclasses, compared field by field (indexes excluded)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property

SHORT_TEXT = 140  # feeds cut longer posts here; /statuses/extend serves them in full


@dataclass
class User:
    uid: int
    screen_name: str
    gender: str
    location: str
    description: str
    interests: tuple[str, ...]
    tags: tuple[str, ...]
    verified: bool = False
    verified_reason: str = ""
    influencer: bool = False
    urank: int = 1
    mbrank: int = 0
    followers_count: int = 0
    follow_count: int = 0
    statuses_count: int = 0


@dataclass
class Comment:
    """A comment on a post; sub-comments carry ``reply_id`` and ``root_id`` of their thread."""

    id: int
    mid: int
    uid: int
    text: str
    created_at: datetime
    like_count: int
    root_id: int
    reply_id: int = 0
    replies: list[Comment] = field(default_factory=list)


@dataclass
class Repost:
    id: int
    mid: int
    uid: int
    text: str
    created_at: datetime
    source: str
    attitudes_count: int = 0  # likes: only the brand's reposts get any (``reactions``)


@dataclass
class Post:
    """A post; ``sentiment``/``intent``/``interest`` are the generator's ground truth."""

    mid: int
    uid: int
    created_at: datetime
    text: str
    interest: str
    sentiment: str
    intent: str
    topics: tuple[str, ...]
    supertopic: str | None
    source: str
    is_long: bool
    attitudes_count: int = 0
    comments: list[Comment] = field(default_factory=list)
    reposts: list[Repost] = field(default_factory=list)

    @property
    def comments_count(self) -> int:
        return len(self.comments) + sum(len(c.replies) for c in self.comments)


@dataclass
class World:
    """Users, follows ``(follower, followee)``, posts newest first; lookups are cached views."""

    seed: int
    users: list[User]
    follows: list[tuple[int, int]]
    posts: list[Post]

    @cached_property
    def user_by_uid(self) -> dict[int, User]:
        return {u.uid: u for u in self.users}

    @cached_property
    def post_by_mid(self) -> dict[int, Post]:
        return {p.mid: p for p in self.posts}

    @cached_property
    def timelines(self) -> dict[int, list[Post]]:
        out: dict[int, list[Post]] = {u.uid: [] for u in self.users}
        for post in self.posts:
            out[post.uid].append(post)
        return out

    @cached_property
    def fans(self) -> dict[int, list[int]]:
        """Followers of each user, the most recent follow first (as Weibo lists them)."""
        out: dict[int, list[int]] = {u.uid: [] for u in self.users}
        for src, dst in reversed(self.follows):
            out[dst].append(src)
        return out

    @cached_property
    def followees(self) -> dict[int, list[int]]:
        """Whom each user follows, the most recent follow first."""
        out: dict[int, list[int]] = {u.uid: [] for u in self.users}
        for src, dst in reversed(self.follows):
            out[src].append(dst)
        return out

    @cached_property
    def by_topic(self) -> dict[str, list[Post]]:
        out: dict[str, list[Post]] = {}
        for post in self.posts:
            for topic in post.topics:
                out.setdefault(topic, []).append(post)
        return out

    @cached_property
    def by_supertopic(self) -> dict[str, list[Post]]:
        out: dict[str, list[Post]] = {}
        for post in self.posts:
            if post.supertopic:
                out.setdefault(post.supertopic, []).append(post)
        return out

    @cached_property
    def by_tag(self) -> dict[str, list[User]]:
        """Users carrying each profile tag, most followed first (as search ranks them)."""
        out: dict[str, list[User]] = {}
        for user in sorted(self.users, key=lambda u: (-u.followers_count, u.uid)):
            for tag in user.tags:
                out.setdefault(tag, []).append(user)
        return out
