"""The Mastodon spider: an instance's REST API, per campaign target.

Targets of a campaign: one hashtag timeline (``hashtags``: the first in the path, the rest as
``any[]``; ``hashtags_all`` as ``all[]``, ``hashtags_none`` as ``none[]``) and named accounts
(``mastodon_accounts``, ``user@host``: looked up, then their statuses and followers). Every
collected status brings its replies (``context``) and who boosted it (``reblogged_by``). Lists
page by the ``Link`` header's ``rel="next"`` within the ``[mastodon]`` page limits. Parsing lives
in ``mastodon_parse`` (pure functions); this module only decides what to request next.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any
from urllib.parse import quote, urlencode

import scrapy
from scrapy.http import Response
from scrapy.settings import BaseSettings

from crawlers.config import Campaign, Settings
from crawlers.settings import SETTINGS_KEY
from crawlers.spiders import mastodon_parse as mp
from crawlers.spiders.base import BaseSpider

logger = logging.getLogger(__name__)

Out = Iterator[Any]  # items (dicts) and requests
Params = list[tuple[str, str]]

#: the ``[mastodon]`` setting that caps each kind of list
LIMITS = {"hashtag": "max_pages", "statuses": "status_pages", "followers": "follower_pages"}


class MastodonSpider(BaseSpider):
    name = "mastodon"
    platform = mp.PLATFORM
    #: on Mastodon a 403 is an ordinary answer (hidden followers); bans show as 429s, which
    #: the rate-limit and Retry-After middlewares handle, or as an HTML challenge page
    ban_statuses: frozenset[int] = frozenset()
    #: Weibo's captcha JSON (a small object with "url" and no "data") is every Account here
    captcha_json = False
    #: added to the project's middlewares (politeness, bans, budgets, proxies stay on): a
    #: spider's custom_settings would replace that dict, not extend it
    extra_middlewares = {
        "crawlers.mastodon_ratelimit.MastodonRateLimitMiddleware": 580,
        "crawlers.middlewares.MastodonTokenMiddleware": 541,
    }

    @classmethod
    def update_settings(cls, settings: BaseSettings) -> None:
        super().update_settings(settings)
        tf: Settings | None = settings.get(SETTINGS_KEY)
        if tf is None:
            return
        m = tf.mastodon
        settings.set("ROBOTSTXT_OBEY", m.obey_robots, priority="spider")
        settings.set("DOWNLOAD_DELAY", m.download_delay, priority="spider")
        settings.set("AUTOTHROTTLE_START_DELAY", max(m.download_delay, 0.1), priority="spider")
        settings.set("DEFAULT_REQUEST_HEADERS", {"Accept": "application/json"}, priority="spider")
        middlewares = {**settings.getdict("DOWNLOADER_MIDDLEWARES"), **cls.extra_middlewares}
        settings.set("DOWNLOADER_MIDDLEWARES", middlewares, priority="spider")

    def __init__(
        self, settings: Settings, campaigns: list[str] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(settings, campaigns, **kwargs)
        self.m = settings.mastodon
        self.base_url = settings.mastodon.base_url
        self._seen_posts: set[str] = set()
        self._plan = list(self._plan_targets())

    # --- targets -----------------------------------------------------------------------------

    def _plan_targets(self) -> Iterator[tuple[str, Callable[[str], Iterator[scrapy.Request]]]]:
        for name in self.campaign_names:
            camp = self.tf_settings.campaigns[name]
            keyed = [(f"account:{a}", self._lookup_requests(a)) for a in camp.mastodon_accounts]
            hashtag = hashtag_query(camp)
            if hashtag:
                keyed.insert(0, (f"hashtag:{hashtag[0]}", self._hashtag_requests(*hashtag)))
            for key, make in keyed:
                shared = key in self.runbook.targets
                self.runbook.add(key, name)
                if shared:
                    logger.info("target %s is shared by campaigns; crawled once", key)
                    continue
                yield key, make

    async def start(self) -> AsyncIterator[Any]:
        for key, make in self._plan:
            for request in make(key):
                yield request

    def _hashtag_requests(
        self, tag: str, params: Params
    ) -> Callable[[str], Iterator[scrapy.Request]]:
        def make(key: str) -> Iterator[scrapy.Request]:
            path = f"/api/v1/timelines/tag/{quote(tag, safe='')}"
            yield self._list("hashtag", key, path, params, self.parse_statuses)

        return make

    def _lookup_requests(self, acct: str) -> Callable[[str], Iterator[scrapy.Request]]:
        def make(key: str) -> Iterator[scrapy.Request]:
            url = self._url("/api/v1/accounts/lookup", [("acct", acct.lstrip("@"))])
            yield self._request(url, self.parse_lookup, key)

        return make

    # --- requests ----------------------------------------------------------------------------

    def _url(self, path: str, params: Params) -> str:
        return f"{self.base_url}{path}?{urlencode(params)}" if params else self.base_url + path

    def _request(
        self, url: str, callback: Callable[..., Any], target: str, **meta: Any
    ) -> scrapy.Request:
        # the token is added at download by MastodonTokenMiddleware (never stored in a request
        # that may travel through a shared frontier)
        return scrapy.Request(
            url,
            callback=callback,
            errback=self.on_error,
            meta={"target": target, **meta},
        )

    def _list(
        self,
        kind: str,
        target: str,
        path: str,
        params: Params,
        callback: Callable[..., Any],
        max_id: str | None = None,
        n: int = 1,
        **meta: Any,
    ) -> scrapy.Request:
        query = [*params, ("limit", str(self.m.page_limit))]
        if max_id is not None:
            query.append(("max_id", max_id))
        return self._request(
            self._url(path, query),
            callback,
            target,
            kind=kind,
            path=path,
            params=params,
            n=n,
            **meta,
        )

    def _account_requests(self, target: str, account_id: str) -> Out:
        base = f"/api/v1/accounts/{quote(account_id, safe='')}"
        if self.m.status_pages:
            yield self._list("statuses", target, f"{base}/statuses", [], self.parse_statuses)
        if self.m.follower_pages:
            yield self._list(
                "followers", target, f"{base}/followers", [], self.parse_followers, uid=account_id
            )

    def _status_requests(self, target: str, status_id: str, author_id: str) -> Out:
        if status_id in self._seen_posts:
            return
        self._seen_posts.add(status_id)
        base = f"/api/v1/statuses/{quote(status_id, safe='')}"
        meta = {"status_id": status_id, "author_id": author_id}
        if self.m.fetch_context:
            yield self._request(
                self._url(f"{base}/context", []), self.parse_context, target, **meta
            )
        if self.m.fetch_reblogged_by:
            url = self._url(f"{base}/reblogged_by", [("limit", str(self.m.page_limit))])
            yield self._request(url, self.parse_reblogged_by, target, **meta)

    # --- shared steps ------------------------------------------------------------------------

    def _body(self, response: Response) -> Any:
        self.count_page(response)
        return self.load_json(response)

    def _safe(
        self, response: Response, fn: Callable[..., list[dict[str, Any]]], *args: Any
    ) -> list[dict[str, Any]]:
        """``fn(*args)``'s items; a parse failure is logged, counted and skipped."""
        try:
            items = fn(*args)
        except mp.ParseError as exc:
            self.count_error(response.url, response.meta.get("target"), str(exc))
            return []
        self.count_items(response, len(items))
        return items

    def _objects(self, response: Response, body: Any, what: str) -> list[Any]:
        try:
            return mp.object_list(body, what)
        except mp.ParseError as exc:
            self.count_error(response.url, response.meta.get("target"), str(exc))
            return []

    def _next_page(self, response: Response) -> Out:
        """The next page of a list, when the ``Link`` header names one and the limit allows."""
        meta = response.meta
        max_id = mp.next_max_id(_link(response))
        if max_id is None:
            return
        limit = LIMITS[meta["kind"]]
        if meta["n"] >= getattr(self.m, limit):
            self.note(response, f"{meta['kind']}: stopped at {limit}={getattr(self.m, limit)}")
            return
        request = response.request
        assert request is not None  # a response handed to a callback carries its request
        extra = {k: meta[k] for k in ("uid",) if k in meta}
        yield self._list(
            meta["kind"],
            meta["target"],
            meta["path"],
            meta["params"],
            request.callback,  # type: ignore[arg-type]
            max_id=max_id,
            n=meta["n"] + 1,
            **extra,
        )

    # --- callbacks ---------------------------------------------------------------------------

    def parse_lookup(self, response: Response) -> Out:
        """The account a campaign names; then its statuses and followers."""
        body = self._body(response)
        if body is None:
            return
        items = self._safe(response, lambda b: [mp.account(b)], body)
        yield from items
        for acc in items:
            yield from self._account_requests(response.meta["target"], acc["platform_id"])

    def parse_statuses(self, response: Response) -> Out:
        """A page of a hashtag timeline or of an account's statuses."""
        body = self._body(response)
        if body is None:
            return
        for status in self._objects(response, body, "status list"):
            items = self._safe(response, mp.status_items, status)
            yield from items
            for p in (i for i in items if i["item_type"] == "post" and i["kind"] != "repost"):
                yield from self._status_requests(
                    response.meta["target"], p["platform_id"], p["author_id"]
                )
        yield from self._next_page(response)

    def parse_followers(self, response: Response) -> Out:
        body = self._body(response)
        if body is None:
            return
        for follower in self._objects(response, body, "follower list"):
            yield from self._safe(response, mp.follower_items, follower, response.meta["uid"])
        yield from self._next_page(response)

    def parse_context(self, response: Response) -> Out:
        """Replies below a status (``descendants``), each with its author and edges."""
        body = self._body(response)
        if body is None:
            return
        try:
            root, descendants = mp.context(body, response.meta["status_id"])
        except mp.ParseError as exc:
            self.count_error(response.url, response.meta.get("target"), str(exc))
            return
        for status in descendants:
            yield from self._safe(response, lambda s: mp.status_items(s, root_id=root), status)

    def parse_reblogged_by(self, response: Response) -> Out:
        body = self._body(response)
        if body is None:
            return
        meta = response.meta
        for acc in self._objects(response, body, "reblogged_by list"):
            yield from self._safe(
                response, mp.reblogger_items, acc, meta["status_id"], meta["author_id"]
            )
        if mp.next_max_id(_link(response)) is not None:
            self.note(response, "reblogged_by: first page only, more available")


def hashtag_query(camp: Campaign) -> tuple[str, Params] | None:
    """``(tag in the path, any[]/all[]/none[] params)`` of a campaign, or None without hashtags.

    Without ``hashtags`` the first of ``hashtags_all`` goes in the path (it must be present too).
    """
    any_tags, all_tags = _tags(camp.hashtags), _tags(camp.hashtags_all)
    head = any_tags or all_tags
    if not head:
        return None
    tag = head[0]
    if any_tags:
        any_tags = any_tags[1:]
    else:
        all_tags = all_tags[1:]
    params = [("any[]", t) for t in any_tags] + [("all[]", t) for t in all_tags]
    params += [("none[]", t) for t in _tags(camp.hashtags_none)]
    return tag, params


def _tags(values: list[str]) -> list[str]:
    return list(dict.fromkeys(v.strip().lstrip("#") for v in values if v.strip().lstrip("#")))


def _link(response: Response) -> str | None:
    value = response.headers.get("Link")
    return value.decode("latin-1") if value is not None else None
