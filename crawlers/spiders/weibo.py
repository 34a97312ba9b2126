"""The Weibo spider: m.weibo.cn JSON (or the sandbox that speaks it), per campaign target.

Targets of a campaign: users by profile tag, ``#topic#`` search, keyword search, super-topic
feeds and named accounts. Every collected post brings its comments, reposts and (when cut)
long text; every collected author brings its profile, profile tags and fans - each within the
page limits of ``[crawl]``. Parsing lives in ``weibo_parse`` (pure functions); this module only
decides what to request next. Shapes: docs/weibo-api.md.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from typing import Any
from urllib.parse import urlencode

import scrapy
from scrapy.http import Response

from crawlers.config import Settings, supertopic_containerid
from crawlers.spiders import weibo_parse as wp
from crawlers.spiders.base import BaseSpider

logger = logging.getLogger(__name__)

Out = Iterator[Any]  # items (dicts) and requests

#: where each kind of list says which page comes next: (block of ``data``, key, query param)
PAGING = {
    "search": ("cardlistInfo", "page", "page"),
    "supertopic": ("pageInfo", "since_id", "since_id"),
    "timeline": ("cardlistInfo", "since_id", "since_id"),
    "fans": ("cardlistInfo", "since_id", "since_id"),
}
#: the ``[crawl]`` setting that caps each kind of list
LIMITS = {
    "search": "max_pages",
    "supertopic": "max_pages",
    "timeline": "timeline_pages",
    "fans": "fan_pages",
    "comments": "comment_pages",
    "reposts": "repost_pages",
}


class WeiboSpider(BaseSpider):
    name = "weibo"
    platform = wp.PLATFORM

    def __init__(
        self, settings: Settings, campaigns: list[str] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(settings, campaigns, **kwargs)
        self.crawl = settings.crawl
        self.base_url = settings.crawl.base_url
        self._seen_posts: set[str] = set()
        self._seen_authors: set[str] = set()
        self._plan = list(self._plan_targets())

    # --- targets -----------------------------------------------------------------------------

    def _plan_targets(self) -> Iterator[tuple[str, Callable[[str], Iterable[scrapy.Request]]]]:
        for name in self.campaign_names:
            camp = self.tf_settings.campaigns[name]
            keyed = [(f"tag:{t}", self._tag_requests(t)) for t in camp.tags]
            keyed += [
                (f"topic:{t}", self._search_requests(f"100103type=1&q=#{t}#")) for t in camp.topics
            ]
            keyed += [
                (f"keyword:{k}", self._search_requests(f"100103type=1&q={k}"))
                for k in camp.keywords
            ]
            keyed += [(f"supertopic:{s}", self._supertopic_requests(s)) for s in camp.supertopics]
            keyed += [(f"account:{a}", self._account_requests(a)) for a in camp.accounts]
            for key, make in keyed:
                if key in self.runbook.targets:
                    logger.info("target %s is shared by campaigns; crawled once", key)
                    self.runbook.add(key, name)
                    continue
                self.runbook.add(key, name)
                yield key, make

    async def start(self) -> AsyncIterator[Any]:
        for key, make in self._plan:
            for request in make(key):
                yield request

    def _tag_requests(self, tag: str) -> Callable[[str], Iterable[scrapy.Request]]:
        return lambda key: [self._list("search", key, f"100103type=3&q={tag}&t=", self.parse_users)]

    def _search_requests(self, cid: str) -> Callable[[str], Iterable[scrapy.Request]]:
        return lambda key: [self._list("search", key, cid, self.parse_posts)]

    def _supertopic_requests(self, name: str) -> Callable[[str], Iterable[scrapy.Request]]:
        cid = supertopic_containerid(name)
        return lambda key: [
            self._list("supertopic", key, f"{cid}_-_sort_time", self.parse_posts, group_id=cid)
        ]

    def _account_requests(self, uid: str) -> Callable[[str], Iterable[scrapy.Request]]:
        def make(key: str) -> Iterator[scrapy.Request]:
            yield from self._profile_requests(key, uid, always=True)
            if self.crawl.timeline_pages:
                yield self._list("timeline", key, f"107603{uid}", self.parse_posts)
            yield from self._fan_requests(key, uid)

        return make

    # --- requests ----------------------------------------------------------------------------

    def _url(self, path: str, **params: Any) -> str:
        return f"{self.base_url}{path}?{urlencode(params)}"

    def _request(
        self, url: str, callback: Callable[..., Any] | None, target: str, **meta: Any
    ) -> scrapy.Request:
        return scrapy.Request(
            url, callback=callback, errback=self.on_error, meta={"target": target, **meta}
        )

    def _list(
        self,
        kind: str,
        target: str,
        cid: str,
        callback: Callable[..., Any] | None,
        cursor: str | None = None,
        n: int = 1,
        **meta: Any,
    ) -> scrapy.Request:
        params: dict[str, Any] = {"containerid": cid}
        if cursor is not None:
            params[PAGING[kind][2]] = cursor
        return self._request(
            self._url("/api/container/getIndex", **params),
            callback,
            target,
            kind=kind,
            cid=cid,
            n=n,
            **meta,
        )

    def _profile_requests(
        self, target: str, uid: str, always: bool = False
    ) -> Iterator[scrapy.Request]:
        if always or self.crawl.fetch_profiles:
            yield self._request(
                self._url("/api/container/getIndex", containerid=f"100505{uid}"),
                self.parse_profile,
                target,
                uid=uid,
            )
            yield self._request(
                self._url("/api/container/getIndex", containerid=f"230283{uid}_-_INFO"),
                self.parse_info,
                target,
                uid=uid,
            )

    def _fan_requests(self, target: str, uid: str) -> Iterator[scrapy.Request]:
        if self.crawl.fan_pages:
            yield self._list("fans", target, f"231051_-_fans_-_{uid}", self.parse_fans, uid=uid)

    def _comments(
        self, target: str, post: dict[str, Any], max_id: str | None = None, n: int = 1
    ) -> scrapy.Request:
        params = {"id": post["id"], "mid": post["id"], "max_id_type": 0}
        if max_id:
            params["max_id"] = max_id
        return self._request(
            self._url("/comments/hotflow", **params), self.parse_comments, target, post=post, n=n
        )

    def _reposts(self, target: str, post: dict[str, Any], page: int = 1) -> scrapy.Request:
        return self._request(
            self._url("/api/statuses/repostTimeline", id=post["id"], page=page),
            self.parse_reposts,
            target,
            post=post,
            n=page,
        )

    # --- shared steps ------------------------------------------------------------------------

    def _data(self, response: Response) -> Any:
        """``data`` of a response, or None at the end of a list or when the body is unusable."""
        self.count_page(response)
        body = self.load_json(response)
        if body is None:
            return None
        try:
            ok, data = wp.list_data(body)
        except wp.ParseError as exc:
            self.count_error(response.url, response.meta.get("target"), str(exc))
            return None
        return data if ok else None

    def _safe(
        self, response: Response, fn: Callable[..., list[dict[str, Any]]], *args: Any, **kw: Any
    ) -> list[dict[str, Any]]:
        """``fn(*args)``'s items; a parse failure is logged, counted and skipped."""
        try:
            items = fn(*args, **kw)
        except (
            wp.ParseError,
            KeyError,
            TypeError,
            AttributeError,
            ValueError,
            StopIteration,
        ) as exc:
            self.count_error(response.url, response.meta.get("target"), f"an object ({exc!r})")
            return []
        self.count_items(response, len(items))
        return items

    def _limit(self, kind: str) -> int:
        return int(getattr(self.crawl, LIMITS[kind]))

    def _more(self, response: Response, kind: str, has_next: bool) -> bool:
        """Whether to fetch the next page; notes a truncation when the page limit stops us."""
        if not has_next:
            return False
        if response.meta.get("n", 1) < self._limit(kind):
            return True
        self.note(
            response, f"{kind}: stopped at {LIMITS[kind]}={self._limit(kind)}, more available"
        )
        return False

    def _next_list_page(self, response: Response, data: Any) -> Out:
        meta = response.meta
        block, key, _ = PAGING[meta["kind"]]
        cursor = wp.next_cursor(data, block, key)
        if self._more(response, meta["kind"], cursor is not None):
            extra = {k: meta[k] for k in ("group_id", "uid") if k in meta}
            # a response handed to a spider callback carries the request that fetched it
            request = response.request
            assert request is not None
            yield self._list(
                meta["kind"],
                meta["target"],
                meta["cid"],
                request.callback,
                cursor=cursor,
                n=meta["n"] + 1,
                **extra,
            )

    # --- callbacks ---------------------------------------------------------------------------

    def parse_posts(self, response: Response) -> Out:
        """A page of search results, a super-topic feed or a timeline."""
        data = self._data(response)
        if data is None:
            return
        group_id = response.meta.get("group_id")
        if group_id:
            yield from self._safe(
                response, lambda: [g for g in [wp.supertopic_group(data, group_id)] if g]
            )
        for mblog in self._safe_cards(response, wp.mblog_cards, data):
            items = self._safe(response, wp.mblog_items, mblog, group_id=group_id)
            yield from items
            if items:
                yield from self._follow_post(response, mblog, items)
        yield from self._next_list_page(response, data)

    def _safe_cards(
        self, response: Response, fn: Callable[[Any], Iterator[Any]], data: Any
    ) -> list[Any]:
        try:
            return list(fn(data))
        except wp.ParseError as exc:
            self.count_error(response.url, response.meta.get("target"), str(exc))
            return []

    def _follow_post(
        self, response: Response, mblog: dict[str, Any], items: list[dict[str, Any]]
    ) -> Out:
        target = response.meta["target"]
        main = next(i for i in items if i["item_type"] == "post")
        pid, author = main["platform_id"], main["author_id"]
        if pid not in self._seen_posts:
            self._seen_posts.add(pid)
            post = {
                "id": pid,
                "author": author,
                "root": main.get("root_id") or pid,
                "kind": main["kind"],
            }
            if mblog.get("isLongText") is True:
                yield self._request(
                    self._url("/statuses/extend", id=pid), self.parse_extend, target, post=post
                )
            if self.crawl.comment_pages and main.get("comments_count") != 0:
                yield self._comments(target, post)
            if self.crawl.repost_pages and main.get("reposts_count") != 0:
                yield self._reposts(target, post)
        yield from self._follow_author(target, author)

    def _follow_author(self, target: str, uid: str) -> Out:
        if uid in self._seen_authors:
            return
        self._seen_authors.add(uid)
        yield from self._profile_requests(target, uid)
        yield from self._fan_requests(target, uid)

    def parse_users(self, response: Response) -> Out:
        """A page of users found by profile tag; each is followed like a post's author."""
        data = self._data(response)
        if data is None:
            return
        for user in self._safe_cards(response, wp.user_cards, data):
            items = self._safe(response, lambda u: [wp.account(u)], user)
            yield from items
            for acc in items:
                yield from self._follow_author(response.meta["target"], acc["platform_id"])
        yield from self._next_list_page(response, data)

    def parse_profile(self, response: Response) -> Out:
        data = self._data(response)
        if data is not None:
            yield from self._safe(response, lambda: [wp.profile(data)])

    def parse_info(self, response: Response) -> Out:
        data = self._data(response)
        if data is not None:
            yield from self._safe(response, lambda: [wp.profile_info(response.meta["uid"], data)])

    def parse_fans(self, response: Response) -> Out:
        data = self._data(response)
        if data is None:
            return
        for user in self._safe_cards(response, wp.user_cards, data):
            yield from self._safe(
                response,
                lambda u: wp.fan_items({"cards": [{"user": u}]}, response.meta["uid"]),
                user,
            )
        yield from self._next_list_page(response, data)

    def parse_extend(self, response: Response) -> Out:
        data = self._data(response)
        if data is not None:
            post = response.meta["post"]
            ref = {"platform_id": post["id"], "author_id": post["author"], "kind": post["kind"]}
            yield from self._safe(response, lambda: [wp.long_text(data, ref)])

    def parse_comments(self, response: Response) -> Out:
        data = self._data(response)
        if data is None:
            return
        post = response.meta["post"]
        for comment in _objects(data, "data"):
            yield from self._safe(response, wp.comment_items, comment, post["id"], post["author"])
        max_id = wp.next_cursor({"d": data}, "d", "max_id")
        if self._more(response, "comments", max_id is not None):
            yield self._comments(response.meta["target"], post, max_id, response.meta["n"] + 1)

    def parse_reposts(self, response: Response) -> Out:
        data = self._data(response)
        if data is None:
            return
        post, page = response.meta["post"], response.meta["n"]
        for mblog in _objects(data, "data"):
            yield from self._safe(
                response, wp.repost_items, mblog, post["id"], post["root"], post["author"]
            )
        pages = wp.parse_count(data.get("max")) if isinstance(data, dict) else None
        if self._more(response, "reposts", pages is not None and page < pages):
            yield self._reposts(response.meta["target"], post, page + 1)


def _objects(data: Any, key: str) -> list[Any]:
    value = data.get(key) if isinstance(data, dict) else None
    return value if isinstance(value, list) else []
