"""The sandbox's HTTP server: the m.weibo.cn JSON endpoints over a generated world.

``make_server(host, port, world)`` returns a ``ThreadingHTTPServer``; call ``serve_forever()``.
Requests are logged at DEBUG only. ``/private/`` exists so tests can check that robots.txt is
obeyed; ``/_sandbox/stats`` reports how often each path was fetched and ``/_sandbox/log`` lists
the requests themselves. ``POST /api/actions`` records an engagement action and lets the world
react to it (``reactions``: follow-backs, likes and replies); ``/_sandbox/actions`` lists the
actions and ``/_sandbox/outcomes`` what the world did in answer.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast
from urllib.parse import parse_qsl, urlsplit

from crawlers.sandbox import faults as faults_
from crawlers.sandbox import guest, reactions
from crawlers.sandbox.containers import Containers
from crawlers.sandbox.faults import Options, Reply
from crawlers.sandbox.journal import Journal, Request, logged_in
from crawlers.sandbox.model import World
from crawlers.sandbox.statuses import Statuses

logger = logging.getLogger(__name__)

ROBOTS = "User-agent: *\nDisallow: /private/\nAllow: /\n"
Handler = Callable[[dict[str, str]], dict[str, Any]]


class SandboxServer(ThreadingHTTPServer):
    """Holds the world, the active faults, request counts and the request log for one run."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        world: World,
        faults: dict[str, float] | None = None,
        options: Options | None = None,
    ) -> None:
        super().__init__(address, SandboxHandler)
        self.world = world
        self.faults = faults_.check(faults or {})
        self.options = options or Options()
        self.api = self._handlers(world)
        #: what the world did in answer to each action (``reactions.react``), in order
        self.reactions: list[dict[str, Any]] = []
        self.hits: Counter[str] = Counter()
        #: engagement actions posted to ``/api/actions`` (follow, reply, repost), in order; a
        #: repeated ``Idempotency-Key`` returns the first result and adds nothing
        self.actions: list[dict[str, Any]] = []
        self._action_keys: dict[str, dict[str, Any]] = {}
        #: test hook: "" (none), "reject" (403, nothing done), "lost" (done, then no answer
        #: until the client gives up: the unknown outcome dispatch must not retry)
        self.action_fault = ""
        self.journal = Journal()
        self.stopping = threading.Event()  # lets hung and slow replies go when the server stops
        self._served = 0  # requests that count towards the counter faults
        self._lock = threading.Lock()

    @staticmethod
    def _handlers(world: World) -> dict[str, Handler]:
        containers, statuses = Containers(world), Statuses(world)
        return {
            "/api/container/getIndex": containers.get_index,
            "/comments/hotflow": statuses.hotflow,
            "/api/comments/show": statuses.hotflow,
            "/api/statuses/repostTimeline": statuses.reposts,
            "/statuses/extend": statuses.extend,
        }

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        # an AF_INET socket's getsockname() gives the host as a str; typeshed also allows bytes
        return f"http://{cast(str, host)}:{port}"

    def count(self, path: str) -> None:
        with self._lock:
            self.hits[path] += 1

    def _number(self) -> int:
        with self._lock:
            self._served += 1
            return self._served

    def reply(self, request: Request) -> Reply:
        """The reply for one GET, with this run's faults applied."""
        if request.path == "/robots.txt":
            return Reply(body=ROBOTS.encode(), content_type="text/plain; charset=utf-8")
        if request.path == "/_sandbox/stats":
            return Reply(payload={"ok": 1, "hits": dict(self.hits)})
        if request.path == "/_sandbox/log":
            return Reply(payload={"ok": 1, "requests": self.journal.entries()})
        if request.path == "/_sandbox/actions":
            with self._lock:
                return Reply(payload={"ok": 1, "actions": list(self.actions)})
        if request.path == "/_sandbox/outcomes":
            with self._lock:
                reacted = list(self.reactions)
            return Reply(payload={"ok": 1, "account": str(reactions.BRAND_UID),
                                  "reactions": reacted})  # fmt: skip
        counter = faults_.counted(self.faults, self._number())
        if counter is not None:
            reply = Reply(fired=[counter])
            faults_.apply_counter(reply, counter, self.options)
            return reply
        return self._faulty(request, self._payload(request))

    def _payload(self, request: Request) -> Reply:
        if request.path.startswith("/private/"):
            return Reply(payload={"ok": 1, "data": {"note": "robots.txt forbids this path"}})
        if request.path == "/api/config":
            return Reply(payload=guest.config(request.cookie, str(self.world.users[0].uid)))
        handler = self.api.get(request.path)
        if handler is None:
            return Reply(status=404, payload={"ok": 0, "msg": "not found", "errno": "404"})
        query = dict(parse_qsl(request.query, keep_blank_values=True))
        if self.options.guest_caps and not request.cookie:
            closed = guest.capped(request.path, query)
            if closed is not None:
                return Reply(payload=closed)
        return Reply(payload=handler(query))

    def _faulty(self, request: Request, reply: Reply) -> Reply:
        seed, url = self.world.seed, request.url
        reply.fired = faults_.firing(self.faults, seed, url)
        faults_.apply(reply, reply.fired, seed, url, "payload", self.options)
        reply.encode()
        faults_.apply(reply, reply.fired, seed, url, "body", self.options)
        return reply

    def act(self, body: dict[str, Any], key: str) -> Reply:
        """Record one engagement action (idempotent by ``key``)."""
        if not key:
            return Reply(status=400, payload={"ok": 0, "msg": "Idempotency-Key header required"})
        kind = body.get("kind")
        if kind not in ("follow", "reply", "repost", "post") or not body.get("target_account"):
            return Reply(status=400, payload={"ok": 0, "msg": "kind and target_account required"})
        if self.action_fault == "reject":
            return Reply(status=403, payload={"ok": 0, "msg": "操作过于频繁", "errno": "20003"})
        with self._lock:
            done = self._action_keys.get(key)
            if done is None:
                done = {"id": f"a{len(self.actions) + 1}", "key": key, **body}
                self.actions.append(done)
                self._action_keys[key] = done
                self._react(done)
        reply = Reply(payload={"ok": 1, "data": {"id": done["id"]}})
        if self.action_fault == "lost":
            reply.delay = 30.0  # the client times out first; the action stands
        return reply

    def _react(self, action: dict[str, Any]) -> None:
        """The world's answer to a new action (under the lock): a new world, served from now."""
        try:
            reacted = reactions.react(self.world, action, len(self.actions))
        except Exception:  # a bug here must not lose the action itself
            logger.exception("the sandbox world could not react to %s", action.get("id"))
            return
        if reacted.world is not self.world:
            self.world = reacted.world
            self.api = self._handlers(reacted.world)
        self.reactions.append(reacted.record)

    def server_close(self) -> None:
        self.stopping.set()
        super().server_close()


class SandboxHandler(BaseHTTPRequestHandler):
    server: SandboxServer
    server_version = "tingfeng-sandbox/0.1"
    protocol_version = "HTTP/1.1"
    # keep-alive clients (Scrapy) otherwise stall ~40 ms a request on Nagle + delayed ACK
    disable_nagle_algorithm = True

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        parts = urlsplit(self.path)
        self.server.count(parts.path)
        request = Request(
            path=parts.path,
            query=parts.query,
            url=self.path,
            cookie=logged_in(self.headers.get("Cookie")),
            ua=self.headers.get("User-Agent", ""),
        )
        try:
            reply = self.server.reply(request)
        except Exception:  # a bug in the sandbox must not kill the connection silently
            logger.exception("sandbox failed on %s", self.path)
            reply = Reply(status=500, payload={"ok": 0, "msg": "sandbox error"})
        if not parts.path.startswith("/_sandbox/"):
            self.server.journal.add(request, reply.status, reply.fired)
        self._send(reply)

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        parts = urlsplit(self.path)
        self.server.count(parts.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if parts.path != "/api/actions":
            self._send(Reply(status=404, payload={"ok": 0, "msg": "not found"}))
            return
        try:
            body = json.loads(raw.decode("utf-8") or "{}")
        except (UnicodeDecodeError, json.JSONDecodeError):
            self._send(Reply(status=400, payload={"ok": 0, "msg": "body is not JSON"}))
            return
        self._send(self.server.act(body, self.headers.get("Idempotency-Key", "")))

    def _send(self, reply: Reply) -> None:
        if reply.delay and self.server.stopping.wait(reply.delay):
            return
        body = reply.encode()
        headers = {"Content-Type": reply.content_type, "Content-Length": str(len(body))}
        if reply.stream is not None:
            headers["Connection"] = "close"  # http.server then closes after this reply
        self.send_response(reply.status)
        for name, value in (headers | reply.headers).items():
            self.send_header(name, value)
        self.end_headers()
        if reply.stream is None:
            self.wfile.write(body)
        else:
            reply.stream(self, body, self.server.stopping)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib signature)
        logger.debug("%s %s", self.address_string(), format % args)


def make_server(
    host: str,
    port: int,
    world: World,
    faults: dict[str, float] | None = None,
    options: Options | None = None,
) -> SandboxServer:
    """A server bound to ``host:port`` (0 = any free port) for ``world``."""
    return SandboxServer((host, port), world, faults, options)
