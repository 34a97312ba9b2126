"""How the sandbox world answers our engagement actions (``POST /api/actions``).

The brand acts as its own account, ``BRAND_UID`` (outside the range of generated uids; it
joins the world with its first action, so a world without actions serves exactly what it
served before). Every reaction is a pure function of the world's seed, the action and its
number, so a test can predict and check it (``GET /_sandbox/outcomes`` lists them):

* **follow**: the brand follows the target; the target follows back with a probability that
  falls with its size (influencers and verified accounts rarely, small accounts a third of
  the time) and rises when it shares the brand's interests (``follow_back_chance``).
* **reply**: the text becomes the brand's comment under the post, with likes and replies (from
  the post's author and its audience) that grow with the text's appeal (``appeal``: a
  question invites answers, a short on-topic text gets liked, an advert does not) and the
  post's reach, and vary by chance.
* **repost**: the text becomes the brand's repost in the post's repost timeline, with likes.

Nothing else changes: other posts, comments and users stay the same objects. Each action
returns a new ``World`` (copy on write), so a page being served never sees one half-done.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from crawlers.sandbox import text as texts
from crawlers.sandbox.catalog import INTERESTS
from crawlers.sandbox.content import _ID_EPOCH, ANCHOR
from crawlers.sandbox.model import Comment, Post, Repost, User, World

BRAND_UID = 8_000_000_001  # generated uids lie in [1_000_000_000, 8_000_000_000)
BRAND_NAME = "拾光咖啡官方"
BRAND_INTERESTS = ("coffee",)
#: words of an advert: a reply that reads like one is liked less
ADVERT_WORDS = ("优惠", "下单", "购买", "链接", "关注我们", "私信", "折扣", "福利")


@dataclass(frozen=True)
class Reacted:
    """The world after an action and what the sandbox did (as ``/_sandbox/outcomes`` shows)."""

    world: World
    record: dict[str, Any]


def brand_user() -> User:
    return User(
        uid=BRAND_UID,
        screen_name=BRAND_NAME,
        gender="f",
        location="上海",
        description="品牌官方微博（沙盒）",
        interests=BRAND_INTERESTS,
        tags=(),
        verified=True,
        verified_reason="拾光咖啡官方微博",
        urank=20,
        mbrank=3,
    )


def _rng(world: World, action: dict[str, Any], salt: str) -> random.Random:
    parts = (world.seed, salt, action.get("kind"), action.get("target_account"),
             action.get("target_post"), action.get("text"))  # fmt: skip
    return random.Random("\x1f".join(str(p) for p in parts))


def _ids(number: int) -> tuple[Any, Any]:
    """The moment of action ``number`` (after everything the world holds) and an id maker."""
    when = ANCHOR + timedelta(minutes=number)
    base = (int(when.timestamp()) - _ID_EPOCH) << 22
    seq = iter(range(number * 1024, number * 1024 + 1024))
    return when, lambda: base | (next(seq) & 0x3FFFFF)


def follow_back_chance(user: User) -> float:
    """The chance that ``user`` follows the brand back: 5% to 45%."""
    if user.influencer or user.verified:
        chance = 0.08
    elif user.followers_count > 200:
        chance = 0.15
    elif user.followers_count > 50:
        chance = 0.25
    else:
        chance = 0.32
    if set(user.interests) & set(BRAND_INTERESTS):
        chance += 0.10
    return min(0.45, max(0.05, chance))


def appeal(text: str, post: Post) -> float:
    """How much a comment invites likes and answers, from its text and the post it answers."""
    score = 1.0
    if "?" in text or "？" in text:
        score += 0.6
    if 12 <= len(text) <= 60:
        score += 0.4
    elif len(text) > 100:
        score -= 0.4
    it = INTERESTS.get(post.interest)
    words = (*post.topics, *(it.tags if it else ()))
    if any(w and w in text for w in words):
        score += 0.5
    if any(w in text for w in ADVERT_WORDS):
        score -= 0.6
    return max(0.2, score)


def _with_user(world: World, users: dict[int, User]) -> list[User]:
    """The world's users with ``users`` replaced (and the brand added when new)."""
    out = [users.get(u.uid, u) for u in world.users]
    if BRAND_UID not in world.user_by_uid:
        out.append(users.get(BRAND_UID) or brand_user())
    return out


def _user(world: World, uid: int) -> User:
    found = world.user_by_uid.get(uid)
    return replace(found) if found is not None else brand_user()


def react(world: World, action: dict[str, Any], number: int) -> Reacted:
    """The world after action ``number`` (1-based) and the record of what happened."""
    kind = action.get("kind")
    record: dict[str, Any] = {"action": action.get("id"), "kind": kind, "account": str(BRAND_UID)}
    try:
        target = int(str(action.get("target_account")))
    except ValueError:
        target = 0
    try:
        mid = int(str(action.get("target_post") or 0))
    except ValueError:
        mid = 0
    if kind == "follow" and target in world.user_by_uid and target != BRAND_UID:
        return _follow(world, action, target, record)
    post = world.post_by_mid.get(mid)
    if kind == "reply" and post is None and mid:
        found = _comment(world, mid)
        if found is not None:
            return _reply_to_comment(world, action, *found, number, record)
    if kind in ("reply", "repost") and post is not None:
        if kind == "reply":
            return _reply(world, action, post, number, record)
        return _repost(world, action, post, number, record)
    record["effect"] = "none: the target is not in this world"
    return Reacted(world, record)


def _follow(world: World, action: dict[str, Any], target: int, record: dict[str, Any]) -> Reacted:
    brand, them = _user(world, BRAND_UID), _user(world, target)
    follows = list(world.follows)
    edges = set(follows)
    chance = follow_back_chance(them)
    back = _rng(world, action, "follow-back").random() < chance
    if (BRAND_UID, target) not in edges:
        follows.append((BRAND_UID, target))
        brand.follow_count += 1
        them.followers_count += 1
    followed_back = back and (target, BRAND_UID) not in edges
    if followed_back:
        follows.append((target, BRAND_UID))
        them.follow_count += 1
        brand.followers_count += 1
    users = _with_user(world, {BRAND_UID: brand, target: them})
    record.update(target=str(target), chance=round(chance, 4), follow_back=followed_back)
    return Reacted(World(world.seed, users, follows, world.posts), record)


def _audience(world: World, post: Post) -> list[int]:
    fans = [u for u in world.fans.get(post.uid, []) if u != BRAND_UID]
    return fans or [
        u.uid for u in world.users if post.interest in u.interests and u.uid != BRAND_UID
    ]


def _reply(
    world: World, action: dict[str, Any], post: Post, number: int, record: dict[str, Any]
) -> Reacted:
    rng = _rng(world, action, "reply")
    when, next_id = _ids(number)
    text = str(action.get("text") or "")
    score = appeal(text, post)
    reach = 1.0 + math.log1p(len(world.fans.get(post.uid, []))) / 2
    likes = int(score * reach * rng.lognormvariate(0.0, 0.6))
    cid = next_id()
    replies: list[Comment] = []
    author_answers = rng.random() < min(0.85, 0.15 + 0.3 * (score - 0.5))
    pool = _audience(world, post)
    others = sum(rng.random() < 0.2 * score for _ in range(3)) if pool else 0
    repliers = ([post.uid] if author_answers else []) + [rng.choice(pool) for _ in range(others)]
    for k, uid in enumerate(repliers):
        at = when + timedelta(minutes=10 * (k + 1))
        replies.append(Comment(
            id=next_id(), mid=post.mid, uid=uid, text=texts.compose_reply(rng, BRAND_NAME),
            created_at=at, like_count=max(0, int(rng.paretovariate(2.0)) - 1), root_id=cid,
            reply_id=cid,
        ))  # fmt: skip
    ours = Comment(id=cid, mid=post.mid, uid=BRAND_UID, text=text, created_at=when,
                   like_count=likes, root_id=cid, replies=replies)  # fmt: skip
    comments = sorted([*post.comments, ours], key=lambda c: (-c.like_count, c.id))
    changed = replace(post, comments=comments)
    record.update(
        post=str(post.mid), post_author=str(post.uid), comment_id=str(cid), likes=likes,
        appeal=round(score, 3), author_replied=author_answers,
        replies=[{"id": str(c.id), "uid": str(c.uid)} for c in replies],
    )  # fmt: skip
    return Reacted(_with_post(world, changed), record)


def _repost(
    world: World, action: dict[str, Any], post: Post, number: int, record: dict[str, Any]
) -> Reacted:
    rng = _rng(world, action, "repost")
    when, next_id = _ids(number)
    text = str(action.get("text") or "") or "转发微博"
    score = appeal(text, post)
    reach = 1.0 + math.log1p(len(world.fans.get(post.uid, []))) / 2
    likes = int(score * reach * rng.lognormvariate(0.0, 0.6))
    ours = Repost(id=next_id(), mid=post.mid, uid=BRAND_UID, text=text, created_at=when,
                  source="微博网页版", attitudes_count=likes)  # fmt: skip
    changed = replace(post, reposts=sorted([*post.reposts, ours], key=lambda r: r.id, reverse=True))
    record.update(post=str(post.mid), post_author=str(post.uid), repost_id=str(ours.id),
                  likes=likes, appeal=round(score, 3))  # fmt: skip
    return Reacted(_with_post(world, changed), record)


def _with_post(world: World, post: Post) -> World:
    posts = [post if p.mid == post.mid else p for p in world.posts]
    users = _with_user(world, {})
    return World(world.seed, users, world.follows, posts)


def _comment(world: World, cid: int) -> tuple[Post, Comment, Comment] | None:
    """The post, thread (top-level comment) and comment of comment id ``cid``."""
    for post in world.posts:
        for top in post.comments:
            if top.id == cid:
                return post, top, top
            for sub in top.replies:
                if sub.id == cid:
                    return post, top, sub
    return None


def _reply_to_comment(
    world: World,
    action: dict[str, Any],
    post: Post,
    top: Comment,
    comment: Comment,
    number: int,
    record: dict[str, Any],
) -> Reacted:
    """A reply to a comment joins its thread as a sub-comment, with likes (a thread is flat:
    answers to it would read as answers to the thread, so none are made)."""
    rng = _rng(world, action, "reply")
    when, next_id = _ids(number)
    text = str(action.get("text") or "")
    score = appeal(text, post)
    likes = int(score * rng.lognormvariate(0.0, 0.6))
    ours = Comment(id=next_id(), mid=post.mid, uid=BRAND_UID, text=text, created_at=when,
                   like_count=likes, root_id=top.id, reply_id=comment.id)  # fmt: skip
    thread = replace(top, replies=[*top.replies, ours])
    comments = [thread if c.id == top.id else c for c in post.comments]
    record.update(
        post=str(post.mid), post_author=str(post.uid), thread=str(top.id),
        comment_id=str(ours.id), likes=likes, appeal=round(score, 3), author_replied=False,
        replies=[],
    )  # fmt: skip
    return Reacted(_with_post(world, replace(post, comments=comments)), record)
