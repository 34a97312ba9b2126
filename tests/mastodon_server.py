"""A local Mastodon API replaying the recorded bodies of tests/fixtures/mastodon/, for tests.

``MastodonReplay`` is a ``ThreadingHTTPServer`` on 127.0.0.1 that answers the routes the spider
uses from those files, pages lists with ``Link`` headers (``rel="next"`` by ``max_id``, as
Mastodon does; the page after the recorded one is the empty list), and counts requests in a
rate-limit window, sending ``X-RateLimit-Limit/Remaining/Reset`` and a 429 past the limit.
A small ``limit`` and ``window_s`` exercise the crawler's rate-limit middleware. Every request
is logged (``requests``) for assertions.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "mastodon"
ROBOTS = "User-agent: *\nDisallow: /media_proxy/\nDisallow: /interact/\n"
NOT_FOUND = {"error": "Record not found"}


@dataclass
class Hit:
    """One request the server answered."""

    path: str
    query: dict[str, list[str]]
    status: int
    authorization: str | None


Route = tuple[re.Pattern[str], Callable[..., tuple[int, Any]]]


class MastodonReplay:
    """The replay server; use as a context manager, then ``base_url`` and ``requests``."""

    def __init__(
        self,
        fixtures: Path = FIXTURES,
        limit: int = 300,
        window_s: float = 300.0,
        local_domain: str = "localhost",
    ) -> None:
        self.fixtures = fixtures
        self.limit, self.window_s, self.local_domain = limit, window_s, local_domain
        self.requests: list[Hit] = []
        self._lock = threading.Lock()
        self._window_start = 0.0
        self._window_count = 0
        self._server: ThreadingHTTPServer | None = None
        self.routes: list[Route] = [
            (re.compile(r"/api/v1/timelines/tag/([^/]+)"), self._tag),
            (re.compile(r"/api/v1/accounts/lookup"), self._lookup),
            (re.compile(r"/api/v1/accounts/([^/]+)/statuses"), self._file("account_statuses")),
            (re.compile(r"/api/v1/accounts/([^/]+)/followers"), self._file("followers")),
            (re.compile(r"/api/v1/statuses/([^/]+)/context"), self._context),
            (re.compile(r"/api/v1/statuses/([^/]+)/reblogged_by"), self._file("reblogged_by")),
        ]
        #: lists of accounts: Mastodon links the next page only after a full one
        self.account_lists = re.compile(r".*/(followers|reblogged_by)")

    # --- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> MastodonReplay:
        handler = type("Handler", (_Handler,), {"replay": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start the server with `with MastodonReplay() as s:`"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def paths(self) -> list[str]:
        return [h.path for h in self.requests]

    # --- answers -----------------------------------------------------------------------------

    def answer(self, path: str, query: dict[str, list[str]]) -> tuple[int, Any, dict[str, str]]:
        """(status, body, extra headers) of a GET."""
        for pattern, handler in self.routes:
            m = pattern.fullmatch(path)
            if m:
                status, body = handler(query, *m.groups())
                return status, body, self._link(path, query, body)
        return 404, NOT_FOUND, {}

    def load(self, name: str) -> Any:
        path = self.fixtures / name
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None

    def _page(self, query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        # the recorded page is the first; the one after it is the end of the list
        return 200, [] if "max_id" in query else body or []

    def _tag(self, query: dict[str, list[str]], tag: str) -> tuple[int, Any]:
        return self._page(query, self.load(f"timeline_tag_{tag.lower()}.json"))

    def _file(self, prefix: str) -> Callable[..., tuple[int, Any]]:
        return lambda query, key: self._page(query, self.load(f"{prefix}_{key}.json"))

    def _context(self, query: dict[str, list[str]], status_id: str) -> tuple[int, Any]:
        return 200, self.load(f"context_{status_id}.json") or self.load("context_empty.json")

    def _lookup(self, query: dict[str, list[str]]) -> tuple[int, Any]:
        acct = (query.get("acct") or [""])[0].lstrip("@")
        user, _, domain = acct.partition("@")
        if domain in ("", self.local_domain):
            found = self.load(f"account_{user}.json")
            if found is not None:
                return 200, found
        return 404, NOT_FOUND

    def _link(self, path: str, query: dict[str, list[str]], body: Any) -> dict[str, str]:
        if not isinstance(body, list) or not body:
            return {}
        limit = int((query.get("limit") or ["40"])[0])
        if self.account_lists.fullmatch(path) and len(body) < limit:
            return {}
        params = [(k, v) for k, vs in query.items() for v in vs if k not in ("max_id", "min_id")]
        nxt = urlencode([*params, ("max_id", body[-1]["id"])])
        prev = urlencode([*params, ("min_id", body[0]["id"])])
        url = f"{self.base_url}{path}"
        return {"Link": f'<{url}?{nxt}>; rel="next", <{url}?{prev}>; rel="prev"'}

    def rate_headers(self) -> tuple[bool, dict[str, str]]:
        """(over the limit?, X-RateLimit-* headers) for one more request now."""
        now = time.time()
        with self._lock:
            if now >= self._window_start + self.window_s:
                self._window_start, self._window_count = now, 0
            self._window_count += 1
            remaining = max(self.limit - self._window_count, 0)
            reset = datetime.fromtimestamp(self._window_start + self.window_s, UTC)
            over = self._window_count > self.limit
        return over, {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": reset.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        }


class _Handler(BaseHTTPRequestHandler):
    replay: MastodonReplay

    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        over, headers = self.replay.rate_headers()
        body: Any
        extra: dict[str, str] = {}
        if url.path == "/robots.txt":
            status, body = 200, ROBOTS
        elif over:
            status, body = 429, {"error": "Too many requests"}
        else:
            status, body, extra = self.replay.answer(url.path, query)
        auth = self.headers.get("Authorization")
        self.replay.requests.append(Hit(url.path, query, status, auth))
        self._send(status, body, {**headers, **extra})

    def _send(self, status: int, body: Any, headers: dict[str, str]) -> None:
        text = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)
        raw = text.encode("utf-8")
        kind = "text/plain" if isinstance(body, str) else "application/json"
        self.send_response(status)
        self.send_header("Content-Type", f"{kind}; charset=utf-8")
        self.send_header("Content-Length", str(len(raw)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's name
        pass  # the request log is ``replay.requests``
