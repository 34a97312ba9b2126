"""Mastodon over its REST API: what ``tingfeng dispatch`` sends there, and how an unknown
outcome is settled.

Every POST carries ``Authorization: Bearer <TINGFENG_MASTODON_TOKEN>`` (never logged) and
``Idempotency-Key: <the approved SHA-256>``: Mastodon answers a repeated key with the status
it created for it, for an hour, instead of creating a second one.

* ``reply`` -> ``POST /api/v1/statuses {status, in_reply_to_id, visibility}``;
* ``repost`` (a repost with a comment) -> ``[dispatch] mastodon_repost``: ``"reply"`` (the
  default, every version) posts the approved text as a reply to the post, which links it in
  the thread; ``"quote"`` posts a quote post (``quoted_status_id``, Mastodon 4.5+; an older
  server ignores the field and makes a plain status, so only set it for a 4.5+ instance). A
  boost cannot carry a comment, so tingfeng does not boost;
* ``follow`` -> ``POST /api/v1/accounts/:id/follow`` (following twice changes nothing);
* ``group_post`` -> Mastodon has no groups: a status carrying the group's hashtag (the
  draft's target), which is appended when the approved text does not already carry it.

Answers: 2xx -> sent (the status id; ``follow:<account id>`` for a follow); 401 (the token),
429, 502, 503 and no connection -> ``PlatformBusy`` (nothing happened, the draft waits for the
next run); 500 and 504 -> ``UnknownOutcome`` (the server may have created the status before
failing); any other 4xx -> ``PermanentError`` with the body's ``error``; a timeout or a dropped
connection once the request was sent -> ``UnknownOutcome``.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

from bot.dispatch import (
    Checked,
    PermanentError,
    PlatformBusy,
    UnknownOutcome,
    http_call,
    parse_json,
    resend,
)
from bot.review import as_utc
from crawlers.models import Draft
from crawlers.spiders.text import text_plain

#: Mastodon keeps an Idempotency-Key for an hour; a re-send this soon is answered from it
RESEND_WITHIN = timedelta(minutes=55)
#: statuses of our account read back when looking for one sent long ago
LOOKUP_PAGES = 10
BUSY_CODES = (401, 429, 502, 503)


def status_text(draft: Draft) -> str:
    """The status text: the approved text; a group post gets its hashtag if it lacks it."""
    if draft.kind != "group_post":
        return draft.text
    tag = draft.target_account.lstrip("#")
    if re.search(rf"#{re.escape(tag)}(?![\w])", draft.text, re.IGNORECASE):
        return draft.text
    return f"{draft.text}\n\n#{tag}" if draft.text else f"#{tag}"


def _same_text(content_html: str, text: str) -> bool:
    """Mastodon gives back HTML (paragraphs, links, escapes): compare the words."""
    return "".join(text_plain(content_html).split()) == "".join(text.split())


class MastodonAdapter:
    """Sends approved drafts to one Mastodon instance as the token's account."""

    def __init__(
        self,
        base_url: str,
        token: str,
        timeout: float = 10.0,
        *,
        visibility: str = "public",
        repost: str = "reply",
        user_agent: str = "tingfeng",
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self.timeout = timeout
        self.visibility = visibility
        self.repost = repost
        self.user_agent = user_agent
        self._me: str | None = None

    def __repr__(self) -> str:  # never the token
        return f"MastodonAdapter({self.base_url!r})"

    # --- sending -----------------------------------------------------------------------------

    def status_body(self, draft: Draft) -> dict[str, Any]:
        """The JSON of ``POST /api/v1/statuses`` for a reply, repost or group post."""
        body: dict[str, Any] = {"status": status_text(draft), "visibility": self.visibility}
        if draft.kind == "repost" and self.repost == "quote":
            body["quoted_status_id"] = draft.target_post
        elif draft.kind in ("reply", "repost"):
            if not draft.target_post:
                raise PermanentError(f"a {draft.kind} needs the post it answers (target_post)")
            body["in_reply_to_id"] = draft.target_post
        return body

    def send(self, draft: Draft, idempotency_key: str) -> str:
        if draft.kind == "follow":
            path = f"/api/v1/accounts/{quote(draft.target_account, safe='')}/follow"
            payload = self._call("POST", path, {}, idempotency_key)
            return f"follow:{payload.get('id', draft.target_account)}"
        if draft.kind not in ("reply", "repost", "group_post"):
            raise PermanentError(f"Mastodon has no action for a {draft.kind!r} draft")
        payload = self._call("POST", "/api/v1/statuses", self.status_body(draft), idempotency_key)
        if not isinstance(payload, dict) or not payload.get("id"):
            raise UnknownOutcome(f"Mastodon's answer has no status id: {payload!r:.200}")
        return str(payload["id"])

    def _call(self, method: str, path: str, body: dict[str, Any] | None, key: str = "") -> Any:
        headers = {
            "Authorization": f"Bearer {self._token}",
            "Accept": "application/json",
            "User-Agent": self.user_agent,
        }
        data = None
        if method == "POST":
            headers["Content-Type"] = "application/json"
            data = json.dumps(body or {}, ensure_ascii=False).encode("utf-8")
            if key:
                headers["Idempotency-Key"] = key
        status, raw = http_call(
            method, self.base_url + path, headers, data, self.timeout, "Mastodon"
        )
        if 200 <= status < 300:
            return parse_json(raw, "Mastodon")
        error = _error(raw)
        if status in BUSY_CODES:
            hint = (
                " (the token was refused: check TINGFENG_MASTODON_TOKEN)" if status == 401 else ""
            )
            raise PlatformBusy(f"Mastodon is busy: HTTP {status}{hint}")
        if 400 <= status < 500:
            raise PermanentError(f"Mastodon refused it: HTTP {status}: {error}")
        raise UnknownOutcome(f"Mastodon answered HTTP {status}: {error}")

    # --- settling an unknown outcome ---------------------------------------------------------

    def check(self, draft: Draft, idempotency_key: str, began: datetime, now: datetime) -> Checked:
        """Whether a draft whose answer was lost happened. A follow: our relationship with the
        account. A status sent less than ``RESEND_WITHIN`` ago: send it again with the same
        key (Mastodon answers with the status if it made one). Older: look for it among our
        account's statuses (same post answered, same text)."""
        try:
            if draft.kind == "follow":
                return self._check_follow(draft)
            if as_utc(now) - as_utc(began) < RESEND_WITHIN:
                return resend(self, draft, idempotency_key)
            return self._look_up(draft, as_utc(began))
        except (PlatformBusy, UnknownOutcome, PermanentError) as exc:
            return Checked("unknown", why=str(exc))

    def me(self) -> str:
        """Our account's id (``verify_credentials``)."""
        if self._me is None:
            self._me = str(self._call("GET", "/api/v1/accounts/verify_credentials", None)["id"])
        return self._me

    def _check_follow(self, draft: Draft) -> Checked:
        query = urlencode([("id[]", draft.target_account)])
        rels = self._call("GET", f"/api/v1/accounts/relationships?{query}", None)
        for rel in rels if isinstance(rels, list) else []:
            if str(rel.get("id")) == draft.target_account:
                if rel.get("following") or rel.get("requested"):
                    return Checked("sent", ref=f"follow:{draft.target_account}")
                return Checked("not_sent", why="Mastodon says we do not follow them")
        return Checked("unknown", why="Mastodon did not say whether we follow them")

    def _look_up(self, draft: Draft, began: datetime) -> Checked:
        expected = self.status_body(draft)
        me, max_id = self.me(), ""
        for _ in range(LOOKUP_PAGES):
            query = urlencode(
                {"limit": 40, "exclude_reblogs": "true", **({"max_id": max_id} if max_id else {})}
            )
            page = self._call("GET", f"/api/v1/accounts/{me}/statuses?{query}", None)
            if not isinstance(page, list) or not page:
                return Checked("not_sent", why="not among our account's statuses")
            for status in page:
                if _matches(status, expected):
                    return Checked("sent", ref=str(status["id"]))
            oldest = _created(page[-1])
            if oldest is not None and oldest < began - timedelta(minutes=5):
                return Checked("not_sent", why="not among our statuses since it was sent")
            max_id = str(page[-1].get("id", ""))
        return Checked("unknown", why=f"not in our latest {LOOKUP_PAGES} pages of statuses")


def _matches(status: dict[str, Any], expected: dict[str, Any]) -> bool:
    if not _same_text(str(status.get("content", "")), expected["status"]):
        return False
    if "in_reply_to_id" in expected:
        return str(status.get("in_reply_to_id")) == str(expected["in_reply_to_id"])
    if "quoted_status_id" in expected:
        quoted = (status.get("quote") or {}).get("quoted_status") or {}
        return str(quoted.get("id")) == str(expected["quoted_status_id"])
    return status.get("in_reply_to_id") is None


def _created(status: dict[str, Any]) -> datetime | None:
    try:
        return as_utc(datetime.fromisoformat(str(status["created_at"]).replace("Z", "+00:00")))
    except (KeyError, ValueError):
        return None


def _error(raw: bytes) -> str:
    """The ``error`` of Mastodon's error body, else the start of the body."""
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return raw[:200].decode("utf-8", "replace")
    if isinstance(body, dict) and body.get("error"):
        return str(body["error"])[:500]
    return str(body)[:200]
