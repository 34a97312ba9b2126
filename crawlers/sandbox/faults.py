"""Switchable failure modes of the sandbox, each a small function on a reply.

Two families, switched on per run with ``{name: value}``:

* per-URL faults (``value`` a share in 0..1): a fault fires for a URL when
  ``hash(seed, fault, URL) < value``, so the same URL always fails the same way within a run and
  about ``value`` of the URLs fail. A payload fault edits the JSON before it is encoded; a body
  fault edits the encoded bytes, the status and headers, or hands the sending to a streamer
  (``crawlers.sandbox.streams``) for replies that hang, stop short or never end.
* counters (``value`` a number of requests ``N``): bans and captchas after ``N`` requests, 429
  on every ``N``-th. ``robots.txt`` and ``/_sandbox/*`` are not counted.

Adding a mode is one function plus one line in ``FAULTS`` or ``COUNTERS``.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from crawlers.sandbox import streams
from crawlers.sandbox.streams import Streamer

CAPTCHA_URL = "https://passport.weibo.cn/visitor/visitor?entry=miniblog&a=enter"
CAPTCHA_HTML = (
    "<!DOCTYPE html><html><head><meta charset='utf-8'><title>验证码</title></head>"
    "<body><h1>请完成验证</h1><p>为了您的帐号安全，请输入验证码后继续访问。</p>"
    "<form action='/verify'><img src='/captcha.png' alt='验证码'><input name='code'></form>"
    "</body></html>"
)
TOO_MANY = {"ok": 0, "errno": "429", "msg": "请求过于频繁，请稍后再试"}


@dataclass
class Reply:
    """What the server sends: JSON ``payload`` until encoded, then ``body`` bytes.

    ``delay`` holds the reply back that many seconds; ``stream``, when set, writes the body
    after the headers instead of ``body`` (and the connection closes afterwards).
    """

    status: int = 200
    payload: Any = None
    body: bytes | None = None
    content_type: str = "application/json; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    stream: Streamer | None = None
    fired: list[str] = field(default_factory=list)  # the faults that shaped it, for the log

    def encode(self) -> bytes:
        if self.body is None:
            self.body = json.dumps(self.payload, ensure_ascii=False).encode("utf-8")
        return self.body


@dataclass(frozen=True)
class Options:
    """Parameters of the fault modes and of the guest caps, fixed for one run."""

    slow_seconds: float = 2.0
    retry_after: int = 2
    guest_caps: bool = True


FaultFn = Callable[[Reply, random.Random, Options], None]
CounterFn = Callable[[Reply, Options], None]


def roll(seed: int, name: str, url: str) -> float:
    """A number in [0, 1) fixed by the seed, the fault's name and the URL."""
    digest = hashlib.sha256(f"{seed}\x00{name}\x00{url}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


# -- whole replies the faults swap in ---------------------------------------------------------


def captcha(reply: Reply, opts: Options) -> None:
    """Weibo's visitor / captcha redirect: ``ok: 0`` with a ``url`` and no ``data``."""
    reply.status, reply.payload, reply.body = 200, {"ok": 0, "url": CAPTCHA_URL}, None


def too_many(reply: Reply, opts: Options) -> None:
    """HTTP 429 with ``Retry-After`` in seconds."""
    reply.status, reply.payload, reply.body = 429, dict(TOO_MANY), None
    reply.headers["Retry-After"] = str(opts.retry_after)


def banned(status: int) -> CounterFn:
    def ban(reply: Reply, opts: Options) -> None:
        reply.status, reply.payload = status, None
        reply.body = f"<html><body><h1>{status}</h1><p>访问受限</p></body></html>".encode()
        reply.content_type = "text/html; charset=utf-8"

    ban.__name__ = f"ban_{status}"
    return ban


# -- per-URL faults -----------------------------------------------------------------------------


def malformed_json(reply: Reply, rng: random.Random, opts: Options) -> None:
    """Cut the body mid-JSON (at a character boundary); the status stays 200."""
    body = reply.encode()
    cut = body[: max(1, int(len(body) * rng.uniform(0.2, 0.8)))]
    reply.body = cut.decode("utf-8", "ignore").encode("utf-8")  # whole characters only


def _mblogs(payload: Any) -> list[dict[str, Any]]:
    """Every MBLOG in a list page (cards, groups, repost and comment lists)."""
    data = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(data, dict):
        return []
    cards = [c for c in data.get("cards", []) if isinstance(c, dict)]
    cards += [g for c in cards for g in c.get("card_group", []) if isinstance(g, dict)]
    found = [c["mblog"] for c in cards if "mblog" in c]
    inner = data.get("data")
    if isinstance(inner, list):
        found += [m for m in inner if isinstance(m, dict) and "mid" in m]
    return found


def missing_field(reply: Reply, rng: random.Random, opts: Options) -> None:
    """Drop ``user`` or ``id`` from some of the page's mblogs (at least one)."""
    mblogs = _mblogs(reply.payload)
    if not mblogs:
        return
    hit = [m for m in mblogs if rng.random() < 0.3] or [rng.choice(mblogs)]
    for mblog in hit:
        mblog.pop(rng.choice(("user", "id")), None)


def captcha_json(reply: Reply, rng: random.Random, opts: Options) -> None:
    captcha(reply, opts)


def captcha_html(reply: Reply, rng: random.Random, opts: Options) -> None:
    """A 200 HTML verification page where JSON was expected."""
    reply.payload, reply.body = None, CAPTCHA_HTML.encode("utf-8")
    reply.content_type = "text/html; charset=utf-8"


def status_429(reply: Reply, rng: random.Random, opts: Options) -> None:
    too_many(reply, opts)


def gb18030(reply: Reply, rng: random.Random, opts: Options) -> None:
    """The same JSON text, encoded as GB18030 and labelled so."""
    if reply.content_type.startswith("application/json"):
        reply.body = reply.encode().decode("utf-8").encode("gb18030")
        reply.content_type = "application/json; charset=GB18030"


def slow(reply: Reply, rng: random.Random, opts: Options) -> None:
    reply.delay = opts.slow_seconds


def hang(reply: Reply, rng: random.Random, opts: Options) -> None:
    """Status and headers, then no body until the client gives up."""
    reply.stream = streams.hold


def truncated(reply: Reply, rng: random.Random, opts: Options) -> None:
    """Declare the whole length, send part of the body, close the connection."""
    body = reply.encode()
    reply.headers["Content-Length"] = str(len(body))
    reply.body = body[: max(1, int(len(body) * rng.uniform(0.2, 0.8)))]
    reply.stream = streams.write_body


def huge_body(reply: Reply, rng: random.Random, opts: Options) -> None:
    """A 1 GiB body, generated while it is sent."""
    reply.body = b""
    reply.headers["Content-Length"] = str(streams.HUGE)
    reply.stream = streams.write_huge


def gzip_bomb(reply: Reply, rng: random.Random, opts: Options) -> None:
    """About 1 MB of gzip that inflates to 1 GiB of zeros."""
    reply.body = streams.gzip_bomb()
    reply.headers["Content-Encoding"] = "gzip"


# name -> (stage, function); payload faults run before encoding, body faults after
FAULTS: dict[str, tuple[str, FaultFn]] = {
    "captcha_json": ("payload", captcha_json),
    "status_429": ("payload", status_429),
    "missing_field": ("payload", missing_field),
    "captcha_html": ("body", captcha_html),
    "gb18030": ("body", gb18030),
    "malformed_json": ("body", malformed_json),
    "gzip_bomb": ("body", gzip_bomb),
    "truncated": ("body", truncated),
    "huge_body": ("body", huge_body),
    "hang": ("body", hang),
    "slow": ("body", slow),
}

# name -> (fires on request number n of a run with value N, what it does)
COUNTERS: dict[str, tuple[Callable[[int, int], bool], CounterFn]] = {
    "ban_418": (lambda n, limit: n > limit, banned(418)),
    "ban_432": (lambda n, limit: n > limit, banned(432)),
    "ban_403": (lambda n, limit: n > limit, banned(403)),
    "captcha_after": (lambda n, limit: n > limit, captcha),
    "rate_limit": (lambda n, every: n % every == 0, too_many),
}


def check(faults: dict[str, float]) -> dict[str, float]:
    """Validate ``{name: value}``; raises ``ValueError`` naming the known modes."""
    for name, value in faults.items():
        if name in COUNTERS:
            _check_counter(name, value)
        elif name not in FAULTS:
            known = ", ".join(sorted(FAULTS) + sorted(COUNTERS))
            raise ValueError(f"unknown fault {name!r}; known: {known}")
        elif not 0 <= value <= 1:
            raise ValueError(f"fault {name!r}: rate {value} must be between 0 and 1")
    return dict(faults)


def _check_counter(name: str, value: float) -> None:
    lowest = 1 if name == "rate_limit" else 0
    if value != int(value) or value < lowest:
        raise ValueError(f"fault {name!r}: {value} must be a whole number of requests >= {lowest}")


def counted(faults: dict[str, float], n: int) -> str | None:
    """The counter fault that answers request number ``n`` (1-based), if any."""
    for name, (fires, _) in COUNTERS.items():
        if name in faults and fires(n, int(faults[name])):
            return name
    return None


def apply_counter(reply: Reply, name: str, opts: Options) -> None:
    COUNTERS[name][1](reply, opts)


def firing(faults: dict[str, float], seed: int, url: str) -> list[str]:
    """The per-URL faults that fire for this URL, in ``FAULTS`` order."""
    return [n for n in FAULTS if n in faults and roll(seed, n, url) < faults[n]]


def apply(
    reply: Reply, names: list[str], seed: int, url: str, stage: str, opts: Options = Options()
) -> None:
    for name in names:
        kind, fn = FAULTS[name]
        if kind == stage:
            fn(reply, random.Random(f"{seed}:{name}:{url}"), opts)
