"""Switchable failure modes of the sandbox, each a small function on a reply.

A fault fires for a URL when ``hash(seed, fault, URL) < rate``: the same URL always fails the
same way within a run, and about ``rate`` of the URLs fail. A payload fault edits the JSON
before it is encoded; a body fault edits the encoded bytes (or the status and headers). Adding
a mode (a ban with 418/432/403, 429 with Retry-After, a captcha, slowness, truncation) is one
function plus one line in ``FAULTS``.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Reply:
    """What the server sends: JSON ``payload`` until encoded, then ``body`` bytes."""

    status: int = 200
    payload: Any = None
    body: bytes | None = None
    content_type: str = "application/json; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)

    def encode(self) -> bytes:
        if self.body is None:
            self.body = json.dumps(self.payload, ensure_ascii=False).encode("utf-8")
        return self.body


FaultFn = Callable[[Reply, random.Random], None]


def roll(seed: int, name: str, url: str) -> float:
    """A number in [0, 1) fixed by the seed, the fault's name and the URL."""
    digest = hashlib.sha256(f"{seed}\x00{name}\x00{url}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def malformed_json(reply: Reply, rng: random.Random) -> None:
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


def missing_field(reply: Reply, rng: random.Random) -> None:
    """Drop ``user`` or ``id`` from some of the page's mblogs (at least one)."""
    mblogs = _mblogs(reply.payload)
    if not mblogs:
        return
    hit = [m for m in mblogs if rng.random() < 0.3] or [rng.choice(mblogs)]
    for mblog in hit:
        mblog.pop(rng.choice(("user", "id")), None)


# name -> (stage, function); payload faults run before encoding, body faults after
FAULTS: dict[str, tuple[str, FaultFn]] = {
    "missing_field": ("payload", missing_field),
    "malformed_json": ("body", malformed_json),
}


def check(faults: dict[str, float]) -> dict[str, float]:
    """Validate ``{name: rate}``; raises ``ValueError`` naming the known modes."""
    for name, rate in faults.items():
        if name not in FAULTS:
            raise ValueError(f"unknown fault {name!r}; known: {', '.join(sorted(FAULTS))}")
        if not 0 <= rate <= 1:
            raise ValueError(f"fault {name!r}: rate {rate} must be between 0 and 1")
    return dict(faults)


def firing(faults: dict[str, float], seed: int, url: str) -> list[str]:
    """The faults that fire for this URL, in ``FAULTS`` order."""
    return [n for n in FAULTS if n in faults and roll(seed, n, url) < faults[n]]


def apply(reply: Reply, names: list[str], seed: int, url: str, stage: str) -> None:
    for name in names:
        kind, fn = FAULTS[name]
        if kind == stage:
            fn(reply, random.Random(f"{seed}:{name}:{url}"))
