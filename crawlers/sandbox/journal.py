"""What the sandbox saw: one entry per request, for tests that check a crawler's manners.

``GET /_sandbox/log`` returns the entries; ``/_sandbox/*`` requests themselves are not logged.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

LOG_SIZE = 100_000


@dataclass(frozen=True)
class Request:
    """One GET as the server understood it."""

    path: str
    query: str
    url: str
    cookie: bool  # a Cookie header carrying SUB= (a logged-in client)
    ua: str


class Journal:
    """The last ``LOG_SIZE`` requests, thread-safe."""

    def __init__(self, size: int = LOG_SIZE) -> None:
        self._entries: deque[dict[str, Any]] = deque(maxlen=size)
        self._lock = threading.Lock()

    def add(self, request: Request, status: int, faults: list[str]) -> None:
        entry = {
            "t": time.monotonic(),
            "path": request.path,
            "query": request.query,
            "status": status,
            "cookie": request.cookie,
            "ua": request.ua,
            "faults": faults,
        }
        with self._lock:
            self._entries.append(entry)

    def entries(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._entries)


def logged_in(cookie_header: str | None) -> bool:
    """Whether a Cookie header carries Weibo's session cookie ``SUB``."""
    if not cookie_header:
        return False
    names = (part.partition("=")[0].strip() for part in cookie_header.split(";"))
    return "SUB" in names
