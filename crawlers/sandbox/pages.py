"""Paging helpers and the list envelopes shared by the sandbox's endpoints."""

from __future__ import annotations

from bisect import bisect_left
from typing import Any, TypeVar

T = TypeVar("T")
PAGE_SIZE = 10
NOTHING = "这里还没有内容"


def empty(msg: str = NOTHING) -> dict[str, Any]:
    return {"ok": 0, "msg": msg, "data": {"cards": []}}


def int_arg(query: dict[str, str], name: str, default: int = 0) -> int:
    """A numeric query argument; junk counts as the default (Weibo is lenient too)."""
    try:
        return int(query.get(name, "") or default)
    except ValueError:
        return default


def by_page(items: list[T], page: int) -> tuple[list[T], int | None]:
    """Items of 1-based ``page`` and the next page number (None at the end)."""
    page = max(1, page)
    start = (page - 1) * PAGE_SIZE
    chunk = items[start : start + PAGE_SIZE]
    return chunk, page + 1 if start + PAGE_SIZE < len(items) else None


def by_since_id(items: list[Any], since_id: int) -> tuple[list[Any], int | None]:
    """Items (newest first, ``.mid`` descending) from ``since_id`` on, and the next since_id."""
    start = 0 if since_id <= 0 else bisect_left(items, -since_id, key=lambda p: -p.mid)
    chunk = items[start : start + PAGE_SIZE]
    after = start + PAGE_SIZE
    return chunk, items[after].mid if after < len(items) else None


def card_list(
    cards: list[dict[str, Any]], info: dict[str, Any], page_info: dict[str, Any]
) -> dict[str, Any]:
    return {"ok": 1, "data": {"cardlistInfo": info, "pageInfo": page_info, "cards": cards}}
