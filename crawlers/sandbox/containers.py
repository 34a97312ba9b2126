"""``/api/container/getIndex``: search, super-topic feeds, profiles, timelines and fan lists."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from crawlers.config import supertopic_containerid
from crawlers.sandbox.catalog import INTERESTS
from crawlers.sandbox.model import Post, User, World
from crawlers.sandbox.pages import PAGE_SIZE, by_page, by_since_id, card_list, empty, int_arg
from crawlers.sandbox.render import count, mblog_json, user_json

Query = dict[str, str]
HOT_PAGES = 5  # the hot (热门) search stops after this many pages
SIMILAR_OMITTED = {"card_type": 58, "desc": "已为你过滤部分相似结果"}


def newest(posts: list[Post]) -> list[Post]:
    """Realtime order: newest first."""
    return sorted(posts, key=lambda p: (p.created_at, p.mid), reverse=True)


def hottest(posts: list[Post]) -> list[Post]:
    """Hot order, most engaged first, cut to HOT_PAGES pages."""
    ranked = sorted(posts, key=lambda p: (engagement(p), p.mid), reverse=True)
    return ranked[: HOT_PAGES * PAGE_SIZE]


def engagement(post: Post) -> int:
    return post.attitudes_count + post.comments_count + len(post.reposts)


class Containers:
    """Answers getIndex for one world; keyword searches are cached per query."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.supertopics = {
            supertopic_containerid(name): name
            for it in INTERESTS.values()
            for name in it.supertopics
        }
        self._keyword_cache: dict[str, list[Post]] = {}
        self._routes: list[
            tuple[re.Pattern[str], Callable[[re.Match[str], Query], dict[str, Any]]]
        ] = [
            (re.compile(r"100103(.*)", re.S), self.search),
            (re.compile(r"(100808[0-9a-f]{32})(?:_-_\w+)?"), self.supertopic),
            (re.compile(r"100505(\d+)"), self.profile),
            (re.compile(r"230283(\d+)(?:_-_INFO)?"), self.profile_info),
            (re.compile(r"107603(\d+)"), self.timeline),
            (re.compile(r"231051_-_(fans|followers)_-_(\d+)"), self.people),
        ]

    def get_index(self, query: Query) -> dict[str, Any]:
        cid = query.get("containerid", "")
        for pattern, handler in self._routes:
            m = pattern.fullmatch(cid)
            if m:
                return handler(m, query)
        return empty()

    def _mblog_card(self, post: Post) -> dict[str, Any]:
        return {"card_type": 9, "itemid": "", "scheme": "", "mblog": self._mblog(post)}

    def _mblog(self, post: Post) -> dict[str, Any]:
        return mblog_json(post, self.world.user_by_uid[post.uid])

    def _user_card(self, user: User) -> dict[str, Any]:
        return {
            "card_type": 10,
            "user": user_json(user),
            "desc1": user.description or "暂无简介",
            "desc2": f"粉丝：{count(user.followers_count)}",
        }

    def _uid(self, m: re.Match[str], group: int = 1) -> User | None:
        return self.world.user_by_uid.get(int(m.group(group)))

    # -- search --------------------------------------------------------------------------------

    def search(self, m: re.Match[str], query: Query) -> dict[str, Any]:
        """Search by ``type``: 1 all (综合), 61 realtime (实时), 60 hot (热门), 3 users."""
        params = dict(parse_qsl(m.group(1), keep_blank_values=True))
        q = (params.get("q") or query.get("q") or "").strip()
        if not q:
            return empty()
        if params.get("type") == "3":
            return self._user_search(q, query)
        posts = self._topic_posts(q) if len(q) > 2 and q[0] == q[-1] == "#" else self._keyword(q)
        kind = params.get("type")
        if kind == "60":
            posts = hottest(posts)
        elif kind == "61":
            posts = newest(posts)
        cards, nxt = by_page(posts, int_arg(query, "page", 1))
        if not cards:
            return empty()
        info = {
            "containerid": query["containerid"],
            "v_p": 42,
            "total": len(posts),
            "page": nxt,
            "title_top": q,
        }
        found = [self._mblog_card(p) for p in cards]
        if kind == "60" and nxt is None:
            found.append(dict(SIMILAR_OMITTED))
        return card_list(found, info, {"containerid": query["containerid"]})

    def _topic_posts(self, q: str) -> list[Post]:
        return self.world.by_topic.get(q.strip("#"), [])

    def _keyword(self, q: str) -> list[Post]:
        if q not in self._keyword_cache:
            self._keyword_cache[q] = [p for p in self.world.posts if q in p.text]
        return self._keyword_cache[q]

    def _user_search(self, q: str, query: Query) -> dict[str, Any]:
        users = self.world.by_tag.get(q, [])
        users, nxt = by_page(users, int_arg(query, "page", 1))
        if not users:
            return empty()
        group = {
            "card_type": 11,
            "title": "用户",
            "card_group": [self._user_card(u) for u in users],
        }
        info = {"containerid": query["containerid"], "v_p": 42, "page": nxt, "title_top": q}
        return card_list([group], info, {"containerid": query["containerid"]})

    # -- super-topics, profiles, timelines, fans ---------------------------------------------

    def supertopic(self, m: re.Match[str], query: Query) -> dict[str, Any]:
        name = self.supertopics.get(m.group(1))
        if name is None:
            return empty()
        posts = self.world.by_supertopic.get(name, [])
        chunk, nxt = by_since_id(posts, int_arg(query, "since_id"))
        if not chunk:
            return empty()
        page_info: dict[str, Any] = {
            "containerid": query["containerid"],
            "page_type": "08",
            "page_title": name,
            "desc": f"{name}超话｜帖子{len(posts)}｜{name}爱好者的聚集地",
        }
        if nxt is not None:
            page_info["since_id"] = nxt
        group = {"card_type": 11, "card_group": [self._mblog_card(p) for p in chunk]}
        info = {"containerid": query["containerid"], "v_p": 42, "since_id": nxt}
        return card_list([group], info, page_info)

    def profile(self, m: re.Match[str], query: Query) -> dict[str, Any]:
        user = self._uid(m)
        if user is None:
            return empty()
        tabs = [
            {"id": 1, "tabKey": "profile", "title": "主页", "containerid": f"230283{user.uid}"},
            {"id": 2, "tabKey": "weibo", "title": "微博", "containerid": f"107603{user.uid}"},
        ]
        info = user_json(user) | {"cover_image_phone": "", "close_blue_v": False}
        return {
            "ok": 1,
            "data": {
                "isStarStyle": 0,
                "userInfo": info,
                "tabsInfo": {"selectedTab": 1, "tabs": tabs},
            },
        }

    def profile_info(self, m: re.Match[str], query: Query) -> dict[str, Any]:
        user = self._uid(m)
        if user is None:
            return empty()
        items = [
            ("标签", " ".join(user.tags)),
            ("所在地", user.location),
            ("简介", user.description or "暂无简介"),
            ("性别", "女" if user.gender == "f" else "男"),
        ]
        group = [{"card_type": 41, "item_name": k, "item_content": v} for k, v in items if v]
        if user.verified:
            group.insert(
                0, {"card_type": 41, "item_name": "认证", "item_content": user.verified_reason}
            )
        cards = [{"card_type": 11, "card_group": group}]
        return {
            "ok": 1,
            "data": {"cardlistInfo": {"containerid": query["containerid"]}, "cards": cards},
        }

    def timeline(self, m: re.Match[str], query: Query) -> dict[str, Any]:
        user = self._uid(m)
        if user is None:
            return empty()
        chunk, nxt = by_since_id(self.world.timelines[user.uid], int_arg(query, "since_id"))
        if not chunk:
            return empty()
        info: dict[str, Any] = {
            "containerid": query["containerid"],
            "v_p": 42,
            "total": user.statuses_count,
        }
        if nxt is not None:
            info["since_id"] = nxt
        return card_list(
            [self._mblog_card(p) for p in chunk], info, {"containerid": query["containerid"]}
        )

    def people(self, m: re.Match[str], query: Query) -> dict[str, Any]:
        user = self._uid(m, 2)
        if user is None:
            return empty()
        uids = self.world.fans[user.uid] if m.group(1) == "fans" else self.world.followees[user.uid]
        page = int_arg(query, "since_id", 1) or 1
        chunk, nxt = by_page(uids, page)
        if not chunk:
            return empty()
        users = [self.world.user_by_uid[u] for u in chunk]
        group = {"card_type": 11, "card_group": [self._user_card(u) for u in users]}
        info: dict[str, Any] = {"containerid": query["containerid"], "total": len(uids)}
        if nxt is not None:
            info["since_id"] = nxt
        return card_list([group], info, {"containerid": query["containerid"]})
