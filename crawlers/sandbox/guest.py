"""What a visitor without a login cookie may see, and the login check ``/api/config``."""

from __future__ import annotations

from typing import Any

from crawlers.sandbox.pages import empty, int_arg

SEARCH_PAGES = 3  # pages of any search a guest sees
LOGIN_FIRST = "登录后查看更多内容"
GUEST_UID = ""


def capped(path: str, query: dict[str, str]) -> dict[str, Any] | None:
    """The ``ok: 0`` a guest gets past the caps, or None where the page is open to guests."""
    if path != "/api/container/getIndex":
        return None
    cid = query.get("containerid", "")
    if cid.startswith("100103") and int_arg(query, "page", 1) > SEARCH_PAGES:
        return empty(LOGIN_FIRST)
    if cid.startswith("107603") and int_arg(query, "since_id") > 0:  # one page, ~10 posts
        return empty(LOGIN_FIRST)
    return None


def config(login: bool, uid: str) -> dict[str, Any]:
    """``/api/config``: whether the request's cookie is a logged-in session."""
    return {"ok": 1, "data": {"login": login, "uid": uid if login else GUEST_UID}}
