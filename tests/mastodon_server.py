"""A local Mastodon API replaying the recorded bodies of tests/fixtures/mastodon/, for tests.

``MastodonReplay`` is a ``ThreadingHTTPServer`` on 127.0.0.1 that answers the routes the spider
uses from those files, pages lists with ``Link`` headers (``rel="next"`` by ``max_id``, as
Mastodon does; the page after the recorded one is the empty list), and counts requests in a
rate-limit window, sending ``X-RateLimit-Limit/Remaining/Reset`` and a 429 past the limit.
A small ``limit`` and ``window_s`` exercise the crawler's rate-limit middleware. Every request
is logged (``requests``) for assertions.

The write side, for dispatch tests (``POST``s are not counted in the rate-limit window):
``POST /api/v1/statuses`` creates a status as our account ``ME`` (``statuses``) and honours
``Idempotency-Key`` like Mastodon (the same key within an hour returns the same status and
creates nothing), ``POST /api/v1/accounts/:id/follow`` records a follow (``follows``; following
twice changes nothing), ``GET /api/v1/accounts/verify_credentials``, ``.../relationships`` and
``/api/v1/accounts/ME/statuses`` (newest first, ``max_id`` paging) read them back. ``fault``
switches the next POSTs to: ``reject`` (422, nothing created), ``error`` (500, nothing
created), ``busy`` (503, nothing created), ``hang`` (creates, then answers only after
``hang_s``: past the client's timeout), ``drop`` (creates, then closes the connection without
an answer). ``clock`` dates new statuses and ages keys.
"""

from __future__ import annotations

import html
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "mastodon"
ROBOTS = "User-agent: *\nDisallow: /media_proxy/\nDisallow: /interact/\n"
NOT_FOUND = {"error": "Record not found"}
#: our own account on the replay server (the token's), for the write side
ME_ID = "110000000000000001"


def _relationship(account_id: str, following: bool) -> dict[str, Any]:
    return {"id": account_id, "following": following, "requested": False, "followed_by": False,
            "blocking": False, "muting": False}  # fmt: skip


@dataclass
class Hit:
    """One request the server answered."""

    path: str
    query: dict[str, list[str]]
    status: int
    authorization: str | None
    idempotency_key: str | None = None
    method: str = "GET"


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
        # --- the write side (dispatch) ---
        self.statuses: list[dict[str, Any]] = []  # created by POST /api/v1/statuses, in order
        self.follows: list[str] = []  # account ids followed, in order
        self.posts: list[Hit] = []  # every POST, answered or not
        self._keys: dict[str, tuple[datetime, dict[str, Any]]] = {}
        self.fault = ""
        self.hang_s = 5.0
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)
        self.stopping = threading.Event()
        self.routes[:0] = [
            (re.compile(r"/api/v1/accounts/verify_credentials"), self._me),
            (re.compile(r"/api/v1/accounts/relationships"), self._relationships),
            (re.compile(rf"/api/v1/accounts/({ME_ID})/statuses"), self._own_statuses),
        ]

    # --- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> MastodonReplay:
        handler = type("Handler", (_Handler,), {"replay": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
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

    # --- the write side ----------------------------------------------------------------------

    def _me(self, query: dict[str, list[str]]) -> tuple[int, Any]:
        return 200, {"id": ME_ID, "username": "tingfeng", "acct": "tingfeng"}

    def _relationships(self, query: dict[str, list[str]]) -> tuple[int, Any]:
        ids = query.get("id[]", []) + query.get("id", [])
        with self._lock:
            return 200, [_relationship(i, i in self.follows) for i in ids]

    def _own_statuses(self, query: dict[str, list[str]], _: str) -> tuple[int, Any]:
        limit = int((query.get("limit") or ["20"])[0])
        max_id = (query.get("max_id") or [""])[0]
        with self._lock:
            newest = list(reversed(self.statuses))
        if max_id:
            newest = [s for s in newest if int(s["id"]) < int(max_id)]
        return 200, newest[:limit]

    def create(self, path: str, body: dict[str, Any], key: str) -> tuple[int, Any]:
        """(status, body) of a POST; the status or follow is recorded before any fault that
        loses the answer."""
        if self.fault == "reject":
            return 422, {"error": "Validation failed: Text character limit of 500 exceeded"}
        if self.fault == "error":
            return 500, {"error": "We're sorry, but something went wrong on our end."}
        if self.fault == "busy":
            return 503, {"error": "Service Unavailable"}
        m = re.fullmatch(r"/api/v1/accounts/([^/]+)/follow", path)
        if m:
            with self._lock:
                if m.group(1) not in self.follows:
                    self.follows.append(m.group(1))
            return 200, _relationship(m.group(1), True)
        if path != "/api/v1/statuses":
            return 404, NOT_FOUND
        text = str(body.get("status") or "")
        if not text.strip():
            return 422, {"error": "Validation failed: Text can't be blank"}
        now = self.clock()
        with self._lock:
            seen = self._keys.get(key) if key else None
            if seen is not None and now - seen[0] < timedelta(hours=1):
                return 200, seen[1]
            status = self._status(body, text, now)
            self.statuses.append(status)
            if key:
                self._keys[key] = (now, status)
        return 200, status

    def _status(self, body: dict[str, Any], text: str, now: datetime) -> dict[str, Any]:
        sid = str(int(ME_ID) * 10 + len(self.statuses) + 1)
        quoted = body.get("quoted_status_id")
        paragraphs = "".join(f"<p>{html.escape(p)}</p>" for p in text.split("\n\n"))
        return {
            "id": sid,
            "created_at": now.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "in_reply_to_id": body.get("in_reply_to_id"),
            "visibility": body.get("visibility", "public"),
            "content": paragraphs.replace("\n", "<br />"),
            "account": {"id": ME_ID, "username": "tingfeng", "acct": "tingfeng"},
            "quote": {"state": "accepted", "quoted_status": {"id": str(quoted)}}
            if quoted
            else None,
            "url": f"{self.base_url}/@tingfeng/{sid}",
        }

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

    def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
        url = urlsplit(self.path)
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        key = self.headers.get("Idempotency-Key")
        auth = self.headers.get("Authorization")
        replay = self.replay
        try:
            body = json.loads(raw.decode("utf-8") or "{}") if raw else {}
        except (UnicodeDecodeError, json.JSONDecodeError):
            body = {k: v[0] for k, v in parse_qs(raw.decode("utf-8", "replace")).items()}
        if not (auth or "").startswith("Bearer ") or len(auth or "") <= len("Bearer "):
            status, answer = 401, {"error": "The access token is invalid"}
        else:
            status, answer = replay.create(url.path, body, key or "")
        replay.posts.append(Hit(url.path, {}, status, auth, key, "POST"))
        if status == 200 and replay.fault == "hang" and replay.stopping.wait(replay.hang_s):
            return  # the server is stopping: the client gave up long ago
        if status == 200 and replay.fault == "drop":
            self.close_connection = True
            return  # no answer at all: the client sees the connection close
        self._send(status, answer, {})

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
