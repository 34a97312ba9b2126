"""The sandbox's HTTP server: the m.weibo.cn JSON endpoints over a generated world.

``make_server(host, port, world)`` returns a ``ThreadingHTTPServer``; call ``serve_forever()``.
Requests are logged at DEBUG only. ``/private/`` exists so tests can check that robots.txt is
obeyed; ``/_sandbox/stats`` reports how often each path was fetched.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast
from urllib.parse import parse_qsl, urlsplit

from crawlers.sandbox import faults as faults_
from crawlers.sandbox.containers import Containers
from crawlers.sandbox.faults import Reply
from crawlers.sandbox.model import World
from crawlers.sandbox.statuses import Statuses

logger = logging.getLogger(__name__)

ROBOTS = "User-agent: *\nDisallow: /private/\nAllow: /\n"
Handler = Callable[[dict[str, str]], dict[str, Any]]


class SandboxServer(ThreadingHTTPServer):
    """Holds the world, the active faults and request counts for one run."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self, address: tuple[str, int], world: World, faults: dict[str, float] | None = None
    ) -> None:
        super().__init__(address, SandboxHandler)
        self.world = world
        self.faults = faults_.check(faults or {})
        containers, statuses = Containers(world), Statuses(world)
        self.api: dict[str, Handler] = {
            "/api/container/getIndex": containers.get_index,
            "/comments/hotflow": statuses.hotflow,
            "/api/comments/show": statuses.hotflow,
            "/api/statuses/repostTimeline": statuses.reposts,
            "/statuses/extend": statuses.extend,
        }
        self.hits: Counter[str] = Counter()
        self._lock = threading.Lock()

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        # an AF_INET socket's getsockname() gives the host as a str; typeshed also allows bytes
        return f"http://{cast(str, host)}:{port}"

    def count(self, path: str) -> None:
        with self._lock:
            self.hits[path] += 1

    def reply(self, path: str, raw_query: str, url: str) -> Reply:
        """The reply for one GET, with this run's faults applied."""
        if path == "/robots.txt":
            return Reply(body=ROBOTS.encode(), content_type="text/plain; charset=utf-8")
        if path.startswith("/private/"):
            return Reply(payload={"ok": 1, "data": {"note": "robots.txt forbids this path"}})
        if path == "/_sandbox/stats":
            return Reply(payload={"ok": 1, "hits": dict(self.hits)})
        handler = self.api.get(path)
        if handler is None:
            return Reply(status=404, payload={"ok": 0, "msg": "not found", "errno": "404"})
        query = dict(parse_qsl(raw_query, keep_blank_values=True))
        reply = Reply(payload=handler(query))
        fired = faults_.firing(self.faults, self.world.seed, url)
        faults_.apply(reply, fired, self.world.seed, url, "payload")
        reply.encode()
        faults_.apply(reply, fired, self.world.seed, url, "body")
        return reply


class SandboxHandler(BaseHTTPRequestHandler):
    server: SandboxServer
    server_version = "tingfeng-sandbox/0.1"
    protocol_version = "HTTP/1.1"
    # keep-alive clients (Scrapy) otherwise stall ~40 ms a request on Nagle + delayed ACK
    disable_nagle_algorithm = True

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        parts = urlsplit(self.path)
        self.server.count(parts.path)
        try:
            reply = self.server.reply(parts.path, parts.query, self.path)
        except Exception:  # a bug in the sandbox must not kill the connection silently
            logger.exception("sandbox failed on %s", self.path)
            reply = Reply(status=500, payload={"ok": 0, "msg": "sandbox error"})
        self._send(reply)

    def _send(self, reply: Reply) -> None:
        body = reply.encode()
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib signature)
        logger.debug("%s %s", self.address_string(), format % args)


def make_server(
    host: str, port: int, world: World, faults: dict[str, float] | None = None
) -> SandboxServer:
    """A server bound to ``host:port`` (0 = any free port) for ``world``."""
    return SandboxServer((host, port), world, faults)
