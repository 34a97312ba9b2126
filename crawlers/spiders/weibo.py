"""The Weibo spider: m.weibo.cn JSON (or the sandbox that speaks it), per campaign target.

Targets of a campaign: users by profile tag, ``#topic#`` and keyword search (one list per
``[crawl] search_types``: realtime, hot, all), super-topic feeds and named accounts (profile,
timeline, fans and follows). Every collected post brings its comments, reposts and (when cut)
long text; every collected author brings its profile, profile tags and fans - each within the
page limits of ``[crawl]``. Parsing lives in ``weibo_parse`` (pure functions); this module only
decides what to request next. Shapes: docs/weibo-api.md.

Incremental (``[crawl] incremental``): newest-first lists (timelines, super-topic feeds,
realtime search) stop paging after a page that holds only posts at or below the newest id a
previous complete run stored for that list (``CrawlRun.cursor``, see ``base``); hot and "all"
search are ranked, not time-ordered, so their first pages are read again. Comments and reposts
of stored posts are fetched again only when the post's counts grew (``weibo_state``).

Outcomes (``weibo_outcomes``): the fans of each campaign's ``own_accounts`` and the comments
and reposts of the posts we replied to or reposted within ``[bot] outcome_days`` are read on
every crawl, so follow-backs and the likes and replies our comments get are collected.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from functools import partial
from typing import Any
from urllib.parse import urlencode

import scrapy
from scrapy.http import Response

from crawlers.config import Settings, supertopic_containerid
from crawlers.errors import CrawlError
from crawlers.spiders import weibo_outcomes as wo
from crawlers.spiders import weibo_parse as wp
from crawlers.spiders import weibo_state as ws
from crawlers.spiders.base import BaseSpider
from crawlers.store import open_store

logger = logging.getLogger(__name__)

Out = Iterator[Any]  # items (dicts) and requests
Item = dict[str, Any]

#: where each kind of list says which page comes next: (block of ``data``, key, query param)
PAGING = {
    "search": ("cardlistInfo", "page", "page"),
    "supertopic": ("pageInfo", "since_id", "since_id"),
    "timeline": ("cardlistInfo", "since_id", "since_id"),
    "fans": ("cardlistInfo", "since_id", "since_id"),
    "follows": ("cardlistInfo", "since_id", "since_id"),
}
#: the ``[crawl]`` setting that caps each kind of list
LIMITS = {
    "search": "max_pages",
    "supertopic": "max_pages",
    "timeline": "timeline_pages",
    "fans": "fan_pages",
    "follows": "follow_pages",
    "comments": "comment_pages",
    "reposts": "repost_pages",
}
#: pages a visitor without a login cookie sees before ``ok: 0`` (m.weibo.cn, and the sandbox)
GUEST_PAGES = {"search": 3, "timeline": 1}
#: the account count a complete people list would match
PEOPLE_COUNTS = {"fans": "followers_count", "follows": "follows_count"}


class LoginExpired(CrawlError):
    """The login cookie is set but the platform says it is not logged in."""

    def __init__(self) -> None:
        super().__init__(
            "the Weibo login cookie in TINGFENG_WEIBO_COOKIE has expired (GET /api/config "
            "says not logged in). Log in to m.weibo.cn in a browser, copy the Cookie header "
            "into TINGFENG_WEIBO_COOKIE and crawl again - or unset it to crawl as a guest, "
            "who sees fewer pages"
        )


class LoginCheckFailed(CrawlError):
    """The login check itself could not be read."""

    def __init__(self, reason: str) -> None:
        super().__init__(
            f"cannot check the Weibo login: {reason}. Check [crawl] base_url, or set "
            "[crawl] login_check = false to crawl without the check"
        )


class WeiboSpider(BaseSpider):
    name = "weibo"
    platform = wp.PLATFORM

    def __init__(
        self, settings: Settings, campaigns: list[str] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(settings, campaigns, **kwargs)
        self.crawl = settings.crawl
        self.base_url = settings.crawl.base_url
        self.logged_in = settings.secrets.weibo_cookie is not None
        self._seen_posts: set[str] = set()
        self._seen_authors: set[str] = set()
        self._people_counts: dict[str, dict[str, int]] = {}
        self._pending = ws.PendingCounts()
        #: a post's follow-up lists not yet requested (they run one after the other)
        self._later: dict[str, list[scrapy.Request]] = {}
        #: posts whose comments and reposts this crawl fetched (or found nothing new to fetch)
        self._settled: set[str] = set()
        self._plan = list(self._plan_targets())

    def keeps_local(self, request: scrapy.Request) -> bool:
        """Distributed mode: a post's comment/repost pages (and long text) stay with the worker
        that holds its pending counts (``weibo_state.PendingCounts``)."""
        return "post" in request.meta

    # --- targets -----------------------------------------------------------------------------

    def _plan_targets(self) -> Iterator[tuple[str, Callable[[str], Iterable[scrapy.Request]]]]:
        for name in self.campaign_names:
            camp = self.tf_settings.campaigns[name]
            keyed = [(f"tag:{t}", self._tag_requests(t)) for t in camp.tags]
            keyed += [(f"topic:{t}", self._search_requests(f"#{t}#")) for t in camp.topics]
            keyed += [(f"keyword:{k}", self._search_requests(k)) for k in camp.keywords]
            keyed += [(f"supertopic:{s}", self._supertopic_requests(s)) for s in camp.supertopics]
            keyed += [(f"account:{a}", self._account_requests(a)) for a in camp.accounts]
            keyed += [
                (f"own:{a}", self._own_requests(a))
                for a in camp.own_accounts
                if a not in camp.accounts
            ]
            for key, make in keyed:
                if key in self.runbook.targets:
                    logger.info("target %s is shared by campaigns; crawled once", key)
                    self.runbook.add(key, name)
                    continue
                self.runbook.add(key, name)
                yield key, make

    def _opened(self, spider: scrapy.Spider) -> None:
        """Before the run's rows are written: one target per campaign whose sent replies and
        reposts are still within ``[bot] outcome_days`` (``weibo_outcomes``)."""
        days = self.tf_settings.bot.outcome_days
        if days > 0:
            engine = open_store(self.tf_settings)
            try:
                due = wo.answered_posts(engine, self.platform, self.campaign_names, days)
            finally:
                engine.dispose()
            for campaign in dict.fromkeys(a.campaign for a in due):
                key = f"outcomes:{campaign}"
                self.runbook.add(key, campaign)
                mine = [a for a in due if a.campaign == campaign]
                self._plan.append((key, partial(self._outcome_requests, posts=mine)))
        super()._opened(spider)

    def _own_requests(self, uid: str) -> Callable[[str], Iterable[scrapy.Request]]:
        """A campaign's own account: its profile and its newest fans (follow-backs)."""

        def make(key: str) -> Iterator[scrapy.Request]:
            self._seen_authors.add(uid)
            yield from self._profile_requests(key, uid, always=True)
            pages = max(self.crawl.fan_pages, wo.OWN_FAN_PAGES)
            cid = f"231051_-_fans_-_{uid}"
            yield self._list("fans", key, cid, self.parse_people, uid=uid, fetched=0, limit=pages)

        return make

    def _outcome_requests(self, key: str, posts: list[wo.Answered]) -> Iterator[scrapy.Request]:
        """Comments and reposts of the posts we answered, whatever their counts say."""
        for a in posts:
            post = {"id": a.id, "author": a.author, "root": a.root, "kind": a.kind}
            if a.replied:
                yield self._comments(key, post, limit=wo.OUTCOME_PAGES)
            if a.reposted:
                yield self._reposts(key, post, limit=wo.OUTCOME_PAGES)

    async def start(self) -> AsyncIterator[Any]:
        if self.logged_in and self.crawl.login_check:
            yield scrapy.Request(
                self._url("/api/config"),
                callback=self.parse_config,
                errback=self.on_config_error,
                priority=100,
            )
            return
        for request in self._target_requests():
            yield request

    def _target_requests(self) -> Iterator[scrapy.Request]:
        for key, make in self._plan:
            yield from make(key)

    def _tag_requests(self, tag: str) -> Callable[[str], Iterable[scrapy.Request]]:
        cid = f"100103type=3&q={tag}&t="
        return lambda key: [self._list("search", key, cid, self.parse_users, list_name="users")]

    def _search_requests(self, q: str) -> Callable[[str], Iterable[scrapy.Request]]:
        def make(key: str) -> Iterator[scrapy.Request]:
            for kind in dict.fromkeys(self.crawl.search_types):
                cid = wp.search_containerid(kind, q)
                # only realtime search is newest first; hot and all are ranked
                yield self._list(
                    "search", key, cid, self.parse_posts, list_name=kind, ordered=kind == "realtime"
                )

        return make

    def _supertopic_requests(self, name: str) -> Callable[[str], Iterable[scrapy.Request]]:
        cid = supertopic_containerid(name)
        return lambda key: [
            self._list(
                "supertopic",
                key,
                f"{cid}_-_sort_time",
                self.parse_posts,
                group_id=cid,
                list_name="feed",
                ordered=True,
            )
        ]

    def _account_requests(self, uid: str) -> Callable[[str], Iterable[scrapy.Request]]:
        def make(key: str) -> Iterator[scrapy.Request]:
            self._seen_authors.add(uid)
            yield from self._profile_requests(key, uid, always=True)
            if self.crawl.timeline_pages:
                yield self._list(
                    "timeline",
                    key,
                    f"107603{uid}",
                    self.parse_posts,
                    list_name="timeline",
                    ordered=True,
                )
            yield from self._people_requests(key, uid, "fans")
            yield from self._people_requests(key, uid, "follows")

        return make

    # --- requests ----------------------------------------------------------------------------

    def _url(self, path: str, **params: Any) -> str:
        return f"{self.base_url}{path}?{urlencode(params)}" if params else f"{self.base_url}{path}"

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
        meta.setdefault("list_name", kind)
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

    def _people_requests(self, target: str, uid: str, kind: str) -> Iterator[scrapy.Request]:
        """Fans (``231051_-_fans_-_``) or follows (``231051_-_followers_-_``) of ``uid``."""
        if self._limit(kind):
            cid = f"231051_-_{'fans' if kind == 'fans' else 'followers'}_-_{uid}"
            yield self._list(kind, target, cid, self.parse_people, uid=uid, fetched=0)

    def _comments(
        self,
        target: str,
        post: dict[str, Any],
        max_id: str | None = None,
        n: int = 1,
        fetched: int = 0,
        limit: int | None = None,
    ) -> scrapy.Request:
        params = {"id": post["id"], "mid": post["id"], "max_id_type": 0}
        if max_id:
            params["max_id"] = max_id
        extra = {"limit": limit} if limit else {}
        return self._request(
            self._url("/comments/hotflow", **params),
            self.parse_comments,
            target,
            post=post,
            n=n,
            fetched=fetched,
            **extra,
        )

    def _reposts(
        self, target: str, post: dict[str, Any], page: int = 1, limit: int | None = None
    ) -> scrapy.Request:
        extra = {"limit": limit} if limit else {}
        return self._request(
            self._url("/api/statuses/repostTimeline", id=post["id"], page=page),
            self.parse_reposts,
            target,
            post=post,
            n=page,
            **extra,
        )

    # --- shared steps ------------------------------------------------------------------------

    def _page(self, response: Response) -> tuple[str, Any]:
        """``("ok", data)``, ``("end", None)`` at the end of a list (``ok: 0``) or
        ``("error", None)`` when the body is unusable (logged and counted)."""
        self.count_page(response)
        target = self.runbook.get(response.meta.get("target"))
        if target is not None and "kind" in response.meta:
            target.read[response.meta.get("list_name", response.meta["kind"])] += 1
        body = self.load_json(response)
        if body is None:
            return "error", None
        try:
            ok, data = wp.list_data(body)
        except wp.ParseError as exc:
            self.count_error(response.url, response.meta.get("target"), str(exc))
            return "error", None
        if not ok:
            self._note_guest_cap(response)
            return "end", None
        return "ok", data

    def _data(self, response: Response) -> Any:
        """``data`` of a response, or None at the end of a list or when the body is unusable."""
        return self._page(response)[1]

    def _note_guest_cap(self, response: Response) -> None:
        """A list that a previous page said goes on ended with ``ok: 0`` within a guest's
        pages: without a cookie that is the guest cap, not the end of the list."""
        kind, n = response.meta.get("kind"), int(response.meta.get("n", 1))
        cap = GUEST_PAGES.get(str(kind))
        if self.logged_in or cap is None or n < 2 or n - 1 > cap:
            return
        pages = f"{n - 1} page{'s' if n > 2 else ''}"
        self.note(
            response, f"{kind}: guest cap after {pages}; set TINGFENG_WEIBO_COOKIE to see more"
        )

    def _safe(
        self, response: Response, fn: Callable[..., list[Item]], *args: Any, **kw: Any
    ) -> list[Item]:
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
        self._remember_counts(items)
        return items

    def _safe_cards(
        self, response: Response, fn: Callable[[Any], Iterator[Any]], data: Any
    ) -> list[Any]:
        try:
            return list(fn(data))
        except wp.ParseError as exc:
            self.count_error(response.url, response.meta.get("target"), str(exc))
            return []

    def _remember_counts(self, items: list[Item]) -> None:
        """Follower / follow counts of accounts, to tell a capped people list from a full one."""
        for it in items:
            if it.get("item_type") == "account":
                counts = {k: it[k] for k in PEOPLE_COUNTS.values() if isinstance(it.get(k), int)}
                self._people_counts.setdefault(it["platform_id"], {}).update(counts)

    def _limit(self, kind: str) -> int:
        return int(getattr(self.crawl, LIMITS[kind]))

    def _more(self, response: Response, kind: str, has_next: bool) -> bool:
        """Whether to fetch the next page; notes a truncation when the page limit stops us."""
        if not has_next:
            return False
        limit = response.meta.get("limit")  # outcome follow-ups read further (weibo_outcomes)
        if response.meta.get("n", 1) < (limit or self._limit(kind)):
            return True
        where = f"{limit} pages" if limit else f"{LIMITS[kind]}={self._limit(kind)}"
        self.note(response, f"{kind}: stopped at {where}, more available")
        return False

    def _next_list_page(self, response: Response, data: Any, **extra: Any) -> Out:
        meta = response.meta
        block, key, _ = PAGING[meta["kind"]]
        cursor = wp.next_cursor(data, block, key)
        if self._more(response, meta["kind"], cursor is not None):
            keep = ("group_id", "uid", "list_name", "ordered", "fetched", "limit")
            carried = {k: meta[k] for k in keep if k in meta} | extra
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
                **carried,
            )
        elif cursor is None:
            self._note_people_cap(response, int(extra.get("fetched", meta.get("fetched", 0))))

    # --- callbacks: login, lists -------------------------------------------------------------

    def parse_config(self, response: Response) -> Out:
        """``/api/config``: with a cookie set, the crawl starts only when it is logged in."""
        try:
            logged_in = wp.login_state(self.load_json(response))
        except wp.ParseError as exc:
            self.stop(LoginCheckFailed(str(exc)), "login_check_failed")
        if not logged_in:
            self.stop(LoginExpired(), "login_expired")
        logger.info("login check passed: the cookie is logged in")
        yield from self._target_requests()

    def on_config_error(self, failure: Any) -> None:
        self.stop(
            LoginCheckFailed(f"GET /api/config failed ({failure.value!r})"), "login_check_failed"
        )

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
        if wp.similar_omitted(data):
            self.note(response, "search: similar results omitted by the platform")
        mblogs = self._safe_cards(response, wp.mblog_cards, data)
        stored = ws.stored_posts(self.engine, wp.PLATFORM, [_pid(m) for m in mblogs if _pid(m)])
        since = self._since(response)
        for mblog in mblogs:
            yield from self._list_post(response, mblog, stored, since)
        if since is not None and _all_at_or_below(mblogs, since):
            logger.debug("%s: reached the stored cursor; not paging further", response.url)
            return
        yield from self._next_list_page(response, data)

    def _since(self, response: Response) -> int | None:
        """The newest post id stored for this newest-first list, when crawling incrementally."""
        target = self.runbook.get(response.meta.get("target"))
        if target is None or not response.meta.get("ordered") or not self.crawl.incremental:
            return None
        return target.last_seen(response.meta["list_name"])

    def _list_post(
        self, response: Response, mblog: Any, stored: dict[str, ws.Stored], since: int | None
    ) -> Out:
        """The items of one MBLOG of a list and what to fetch for it."""
        items = self._safe(response, wp.mblog_items, mblog, group_id=response.meta.get("group_id"))
        if not items:
            return
        mid = wp.mid_number(mblog)
        target = self.runbook.get(response.meta.get("target"))
        if target is not None and response.meta.get("ordered") and mid and not wp.is_pinned(mblog):
            target.saw(response.meta["list_name"], mid)
        old = since is not None and mid is not None and mid <= since
        yield from self._follow_post(response, mblog, items, stored, old)

    def _follow_post(
        self,
        response: Response,
        mblog: dict[str, Any],
        items: list[Item],
        stored: dict[str, ws.Stored],
        old: bool,
    ) -> Out:
        target = response.meta["target"]
        at = next(n for n, i in enumerate(items) if i["item_type"] == "post")
        main = items[at]
        pid, author = main["platform_id"], main["author_id"]
        if pid in self._seen_posts:
            yield from self._gate(items)
            return
        self._seen_posts.add(pid)
        known = stored.get(pid)
        requests, main = self._post_requests(target, mblog, main, known)
        yield from [*self._gate(items[:at]), main, *self._gate(items[at + 1 :])]
        yield from requests
        if not old:  # an old post's author was followed by the run that stored it
            yield from self._follow_author(target, author)

    def _post_requests(
        self, target: str, mblog: dict[str, Any], main: Item, known: ws.Stored | None
    ) -> tuple[list[scrapy.Request], Item]:
        """Requests for a post's long text, comments and reposts, and its item adjusted so that
        it never overwrites a stored long text nor stores counts ahead of their lists."""
        post = {
            "id": main["platform_id"],
            "author": main["author_id"],
            "root": main.get("root_id") or main["platform_id"],
            "kind": main["kind"],
        }
        requests: list[scrapy.Request] = []
        if mblog.get("isLongText") is True:
            if known is None or known.truncated:
                requests.append(
                    self._request(
                        self._url("/statuses/extend", id=post["id"]),
                        self.parse_extend,
                        target,
                        post=post,
                    )
                )
            else:
                main = ws.without(main, ws.TEXT_FIELDS)
        chains = self._chains(target, post, main, known)
        if chains:
            self._pending.hold(main, len(chains))
            main = ws.without(main, ws.COUNT_FIELDS)
            # one list after the other: whoever takes a post's first list (one worker of a
            # distributed crawl) fetches the rest and so holds every count it releases
            self._later[post["id"]] = chains[1:]
        else:
            self._settled.add(post["id"])
        return requests + chains[:1], main

    def _gate(self, items: list[Item]) -> list[Item]:
        """Post items without their counts unless this crawl settled that post's comments and
        reposts: stored counts must mean "what they count is stored" (see ``weibo_state``).
        A post seen again before its lists ended, the original inside a repost and the posts of
        a repost or comment list all pass here."""
        return [
            ws.without(i, ws.COUNT_FIELDS)
            if i.get("item_type") == "post" and i["platform_id"] not in self._settled
            else i
            for i in items
        ]

    def _chains(
        self, target: str, post: dict[str, Any], main: Item, known: ws.Stored | None
    ) -> list[scrapy.Request]:
        """The first comment and repost pages to fetch for a post."""

        def wanted(pages: int, count_field: str) -> bool:
            now = main.get(count_field)
            if not pages or now == 0:
                return False
            if known is None or not self.crawl.incremental:
                return True
            return ws.grew(getattr(known, count_field), now)

        chains = []
        if wanted(self.crawl.comment_pages, "comments_count"):
            chains.append(self._comments(target, post))
        if wanted(self.crawl.repost_pages, "reposts_count"):
            chains.append(self._reposts(target, post))
        return chains

    def _follow_author(self, target: str, uid: str) -> Out:
        if uid in self._seen_authors:
            return
        self._seen_authors.add(uid)
        yield from self._profile_requests(target, uid)
        yield from self._people_requests(target, uid, "fans")

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

    def parse_people(self, response: Response) -> Out:
        """A page of fans or follows of ``meta["uid"]``."""
        status, data = self._page(response)
        fetched = int(response.meta.get("fetched", 0))
        if status == "end":
            self._note_people_cap(response, fetched)
        if data is None:
            return
        build = wp.fan_items if response.meta["kind"] == "fans" else wp.follow_items
        for user in self._safe_cards(response, wp.user_cards, data):
            items = self._safe(
                response, lambda u: build({"cards": [{"user": u}]}, response.meta["uid"]), user
            )
            fetched += len(items) // 2
            yield from items
        yield from self._next_list_page(response, data, fetched=fetched)

    def _note_people_cap(self, response: Response, fetched: int) -> None:
        """A fans / follows list that ended by itself short of the account's count."""
        kind = response.meta.get("kind")
        if kind not in PEOPLE_COUNTS:
            return
        total = self._people_counts.get(response.meta.get("uid", ""), {}).get(PEOPLE_COUNTS[kind])
        if total is not None and fetched < total:
            self.note(response, f"{kind}: list ended before {PEOPLE_COUNTS[kind]} (platform cap)")

    # --- callbacks: one post's long text, comments, reposts ----------------------------------

    def parse_extend(self, response: Response) -> Out:
        data = self._data(response)
        if data is not None:
            post = response.meta["post"]
            ref = {"platform_id": post["id"], "author_id": post["author"], "kind": post["kind"]}
            yield from self._safe(response, lambda: [wp.long_text(data, ref)])

    def parse_comments(self, response: Response) -> Out:
        yield from self._next_chain(response)
        status, data = self._page(response)
        post, fetched = response.meta["post"], int(response.meta.get("fetched", 0))
        if status == "end":
            yield from self._chain_done(post["id"], response)
        if data is None:
            return
        for comment in _objects(data, "data"):
            items = self._safe(response, wp.comment_items, comment, post["id"], post["author"])
            fetched += sum(1 for i in items if i["item_type"] == "post")
            if _subs_cut(comment):
                self.note(response, "comments: not all sub-comments served")
            yield from self._gate(items)
        max_id = wp.next_cursor({"d": data}, "d", "max_id")
        if self._more(response, "comments", max_id is not None):
            n, limit = response.meta["n"] + 1, response.meta.get("limit")
            yield self._comments(response.meta["target"], post, max_id, n, fetched, limit)
            return
        total = wp.total_number(data)
        if max_id is None and total is not None and fetched < total:
            self.note(response, "comments: list ended before total_number")
        yield from self._chain_done(post["id"], response)

    def parse_reposts(self, response: Response) -> Out:
        yield from self._next_chain(response)
        status, data = self._page(response)
        post, page = response.meta["post"], response.meta["n"]
        if status == "end":
            yield from self._chain_done(post["id"], response)
        if data is None:
            return
        for mblog in _objects(data, "data"):
            yield from self._gate(
                self._safe(
                    response, wp.repost_items, mblog, post["id"], post["root"], post["author"]
                )
            )
        pages = wp.parse_count(data.get("max")) if isinstance(data, dict) else None
        if self._more(response, "reposts", pages is not None and page < pages):
            yield self._reposts(response.meta["target"], post, page + 1, response.meta.get("limit"))
        else:
            yield from self._chain_done(post["id"], response)

    def _next_chain(self, page: Response | scrapy.Request) -> Out:
        """At a list's first page (a response, or the request that failed), whatever it holds,
        the post's next list is requested."""
        if page.meta.get("limit"):  # an outcome follow-up is no part of the post's chain
            return
        if page.meta.get("n", 1) == 1:
            later = self._later.get(page.meta["post"]["id"])
            if later:
                yield later.pop(0)

    def on_error(self, failure: Any) -> Out:  # type: ignore[override]
        """A failed follow-up list still starts the post's next list (its counts stay held)."""
        super().on_error(failure)
        request = failure.request
        if "post" in request.meta and request.callback in (self.parse_comments, self.parse_reposts):
            yield from self._next_chain(request)

    def _chain_done(self, pid: str, page: Response | None = None) -> Out:
        """A comment or repost list of ``pid`` ended cleanly: release its counts when all have
        (an outcome follow-up, ``meta["limit"]``, holds none)."""
        if page is not None and page.meta.get("limit"):
            return
        counts = self._pending.done(pid)
        if counts is not None:
            self._settled.add(pid)
            yield counts


def _pid(mblog: Any) -> str:
    mid = wp.mid_number(mblog)
    return str(mid) if mid is not None else ""


def _all_at_or_below(mblogs: list[Any], since: int) -> bool:
    """Whether a page's posts (pinned ones aside) are all at or below ``since``."""
    mids = [wp.mid_number(m) for m in mblogs if not wp.is_pinned(m)]
    known = [m for m in mids if m is not None]
    return bool(known) and max(known) <= since


def _subs_cut(comment: Any) -> bool:
    """A comment whose ``total_number`` of replies is more than the sub-comments inlined."""
    if not isinstance(comment, dict):
        return False
    subs = comment.get("comments")
    total = wp.parse_count(comment.get("total_number"))
    return total is not None and total > (len(subs) if isinstance(subs, list) else 0)


def _objects(data: Any, key: str) -> list[Any]:
    value = data.get(key) if isinstance(data, dict) else None
    return value if isinstance(value, list) else []
