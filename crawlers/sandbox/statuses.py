"""Per-post endpoints: ``/comments/hotflow``, ``/api/statuses/repostTimeline``, ``/statuses/extend``."""

from __future__ import annotations

from typing import Any

from crawlers.sandbox.model import Post, World
from crawlers.sandbox.pages import PAGE_SIZE, by_page, empty, int_arg
from crawlers.sandbox.render import comment_json, repost_json, to_html

Query = dict[str, str]
NO_COMMENTS = "快来发表你的评论吧"


class Statuses:
    def __init__(self, world: World) -> None:
        self.world = world

    def _post(self, query: Query, *names: str) -> Post | None:
        for name in names:
            mid = int_arg(query, name)
            if mid:
                return self.world.post_by_mid.get(mid)
        return None

    def hotflow(self, query: Query) -> dict[str, Any]:
        """Hot comments, ``max_id`` paging: the id of the next page's first comment, 0 at the end."""
        post = self._post(query, "id", "mid")
        if post is None:
            return empty()
        if not post.comments:
            return {"ok": 0, "msg": NO_COMMENTS}
        start = _position(post, int_arg(query, "max_id"))
        if start is None:
            return {"ok": 0, "msg": NO_COMMENTS}
        chunk = post.comments[start : start + PAGE_SIZE]
        rest = post.comments[start + PAGE_SIZE : start + PAGE_SIZE + 1]
        data = [comment_json(c, self.world.user_by_uid) for c in chunk]
        for floor, item in enumerate(data, start + 1):
            item["floor_number"] = floor
        max_id = rest[0].id if rest else 0
        return {
            "ok": 1,
            "data": {
                "data": data,
                "total_number": post.comments_count,
                "max_id": max_id,
                "max_id_type": 0,
            },
        }

    def reposts(self, query: Query) -> dict[str, Any]:
        post = self._post(query, "id", "mid")
        if post is None:
            return empty()
        chunk, _ = by_page(post.reposts, int_arg(query, "page", 1))
        if not chunk:
            return empty()
        users = self.world.user_by_uid
        pages = -(-len(post.reposts) // PAGE_SIZE)
        data = [repost_json(r, users[r.uid]) for r in chunk]
        return {
            "ok": 1,
            "data": {
                "data": data,
                "total_number": len(post.reposts),
                "hot_total_number": 0,
                "max": pages,
            },
        }

    def extend(self, query: Query) -> dict[str, Any]:
        post = self._post(query, "id", "mid")
        if post is None:
            return empty()
        return {
            "ok": 1,
            "data": {
                "ok": 1,
                "longTextContent": to_html(post.text, post.supertopic),
                "reposts_count": len(post.reposts),
                "comments_count": post.comments_count,
                "attitudes_count": post.attitudes_count,
            },
        }


def _position(post: Post, max_id: int) -> int | None:
    if max_id == 0:
        return 0
    for i, comment in enumerate(post.comments):
        if comment.id == max_id:
            return i
    return None
