"""Dispatch: send approved drafts through a platform adapter, exactly once, within the caps.

States (after ``bot.review``)::

    approved -> sending -> sent | failed | reconcile | approved (platform busy: nothing sent)
    approved -> handoff                      (Weibo: a person posts it, ``bot.handoff``)

* **Claim**: one ``UPDATE draft SET status = 'sending' WHERE id = ? AND status = 'approved'
  AND approved_hash = content_hash``; only the worker whose update changed a row sends, so two
  dispatch workers, or a double-click on Approve, still make one call to the platform.
* **Bound to the approval**: the hash of kind, platform, target and text is recomputed from the
  row just before sending and must equal the approved hash; the adapter sends exactly that
  text, with the approved hash as the ``Idempotency-Key``.
* **Caps and cool-down** (``[dispatch]``): actions per platform per rolling hour and day (follows
  and comments counted apart; hand-offs count like sends), one action toward the same user per
  cool-down, and no second follow of a user followed within ``refollow_days``; a draft over
  any of them stays approved for a later run.
* **Outcomes**: the platform's answer -> ``sent`` with its id; a refusal (4xx) -> ``failed``;
  nothing sent (connection refused before the request went out, 429, 502, 503) -> back to
  ``approved`` for the next run (``PlatformBusy``: safe, the request never took effect); no
  answer after the request went out (read timeout, connection dropped, 500, 504) ->
  ``reconcile``: it may or may not have happened, so it is never retried blindly; a person
  (``bot.reconcile.resolve``) or ``bot.reconcile.check`` settles it.

Every transition is an audit event.
"""

from __future__ import annotations

import http.client
import json
import logging
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlsplit

from sqlalchemy import update
from sqlmodel import Session, col, select

from bot.guardrails import followed_recently
from bot.review import SYSTEM_ACTOR, as_utc, expire_due
from crawlers.config import DispatchSettings, Settings
from crawlers.models import AuditEvent, Draft, content_hash, utcnow

logger = logging.getLogger(__name__)

#: drafts whose action counts toward the caps and cool-downs (a hand-off counts like a send)
IN_FLIGHT = ("sending", "sent", "reconcile", "handoff")
#: which cap an action kind counts toward
CAP_GROUP = {
    "follow": "follow", "reply": "comment", "repost": "comment", "post": "comment",
    "group_post": "comment",
}  # fmt: skip
#: why a draft waits when its platform answered "busy" (429, 5xx before acting, no connection)
BUSY = "platform busy"


class PermanentError(Exception):
    """The platform refused the action: nothing happened, it will not happen."""


class UnknownOutcome(Exception):
    """The action may or may not have happened (no answer after sending, lost connection)."""


class PlatformBusy(Exception):
    """Nothing was sent (no connection, 429, 502/503): safe to send again in a later run."""


@runtime_checkable
class Adapter(Protocol):
    """Sends one approved action; returns the platform's id for it."""

    def send(self, draft: Draft, idempotency_key: str) -> str: ...


@dataclass(frozen=True)
class Checked:
    """What a platform says about a draft whose outcome was unknown (``bot.reconcile.check``):
    ``sent`` (with ``ref``), ``not_sent`` (safe to send again), ``failed`` (refused) or
    ``unknown`` (it cannot tell: a person decides)."""

    outcome: str
    ref: str = ""
    why: str = ""


class Handoff:
    """Not sent by tingfeng: the draft goes to ``handoff`` and a person posts it (Weibo)."""

    def __repr__(self) -> str:
        return "HANDOFF"


HANDOFF = Handoff()


@dataclass(frozen=True)
class Unavailable:
    """A platform configured but not usable now (e.g. no token): its drafts wait, unclaimed."""

    reason: str


Route = Adapter | Handoff | Unavailable


@dataclass
class Summary:
    sent: int = 0
    failed: int = 0
    reconcile: int = 0
    handoff: int = 0  # handed to a person (``tingfeng handoff list``)
    held: Counter[str] = field(default_factory=Counter)  # why drafts waited: cap, cooldown, ...

    def __str__(self) -> str:
        waits = ", ".join(f"{n} {why}" for why, n in sorted(self.held.items())) or "none"
        handed = (
            f"; handed off {self.handoff} (see `tingfeng handoff list`)" if self.handoff else ""
        )
        return (
            f"sent {self.sent}, failed {self.failed}, to reconcile {self.reconcile}; "
            f"waiting: {waits}{handed}"
        )


def run(
    session: Session,
    settings: Settings,
    adapters: Mapping[str, Route],
    now: datetime | None = None,
    limit: int | None = None,
) -> Summary:
    """Send the approved drafts of the platforms in ``adapters``, oldest approval first; a
    platform mapped to ``HANDOFF`` gets its drafts handed to a person instead, one mapped to
    ``Unavailable`` keeps them waiting. After a "busy" answer the platform's other drafts wait
    for the next run too."""
    now = as_utc(now or utcnow())
    out = Summary()
    out.reconcile += recover_stuck(session, settings.dispatch, now)
    busy: set[str] = set()
    stmt = (
        select(Draft.id)
        .where(Draft.status == "approved", col(Draft.platform).in_(sorted(adapters)))
        .order_by(col(Draft.updated_at), col(Draft.id))
    )
    for draft_id in session.exec(stmt).all():
        if limit is not None and out.sent + out.failed + out.reconcile + out.handoff >= limit:
            break
        assert draft_id is not None
        draft = session.get(Draft, draft_id)
        if draft is None or draft.status != "approved":
            continue
        adapter = adapters[draft.platform]
        if isinstance(adapter, Unavailable):
            out.held[adapter.reason] += 1
            continue
        if draft.platform in busy:
            out.held[BUSY] += 1
            continue
        why = _held(session, draft, settings.dispatch, now)
        if why:
            out.held[why] += 1
            continue
        if isinstance(adapter, Handoff):
            outcome = hand_off(session, draft, now)
        else:
            outcome = send_one(session, draft, adapter, now)
        if outcome in ("sent", "failed", "reconcile", "handoff"):
            setattr(out, outcome, getattr(out, outcome) + 1)
        else:
            out.held[outcome] += 1
            if outcome == BUSY:
                busy.add(draft.platform)
    return out


def stuck_after(cfg: DispatchSettings) -> timedelta:
    """How long a draft may stay ``sending`` before its worker counts as dead: a live worker
    spends at most a connect and a read timeout on it, so twice that and a minute."""
    return timedelta(seconds=2 * cfg.timeout_seconds + 60)


def recover_stuck(session: Session, cfg: DispatchSettings, now: datetime) -> int:
    """Move drafts left in ``sending`` by a worker that died (kill -9, power loss) between its
    claim and its commit to ``reconcile``: the send may have happened, so they are never
    re-sent blindly, and a person or ``bot.reconcile.check`` settles them. Returns how many."""
    cutoff = now - stuck_after(cfg)
    stmt = select(Draft).where(Draft.status == "sending", col(Draft.sent_at) < cutoff)
    moved = 0
    for draft in session.exec(stmt).all():
        error = "the dispatch worker stopped while sending: the outcome is unknown"
        if move(session, draft, "sending", "reconcile", SYSTEM_ACTOR, now, {"error": error},
                dispatch_error=error):  # fmt: skip
            logger.warning("draft %s was left sending; moved to reconcile", draft.id)
            moved += 1
    return moved


def build_adapters(settings: Settings) -> dict[str, Route]:
    """The routes ``[dispatch]`` configures: Weibo to a person (``handoff``) or the sandbox;
    Mastodon over its API with ``TINGFENG_MASTODON_TOKEN`` (or ``off``: not dispatched)."""
    from bot.adapters.mastodon import MastodonAdapter

    cfg = settings.dispatch
    routes: dict[str, Route] = {}
    if cfg.weibo == "handoff":
        routes["weibo"] = HANDOFF
    else:
        box = settings.sandbox
        routes["weibo"] = SandboxAdapter(f"http://{box.host}:{box.port}", cfg.timeout_seconds)
    if cfg.mastodon == "api":
        token = settings.secrets.mastodon_token
        if token is None or not token.get_secret_value().strip():
            routes["mastodon"] = Unavailable(
                "no Mastodon token (set TINGFENG_MASTODON_TOKEN, or [dispatch] mastodon = off)"
            )
        else:
            routes["mastodon"] = MastodonAdapter(
                settings.mastodon.base_url,
                token.get_secret_value(),
                cfg.timeout_seconds,
                visibility=cfg.mastodon_visibility,
                repost=cfg.mastodon_repost,
                user_agent=settings.crawl.user_agent,
            )
    return routes


def run_configured(
    session: Session, settings: Settings, now: datetime | None = None, limit: int | None = None
) -> Summary:
    """``run`` with the adapters ``[dispatch]`` configures (``build_adapters``)."""
    return run(session, settings, build_adapters(settings), now=now, limit=limit)


def stage(session: Session, settings: Settings) -> int:
    """The scheduler's dispatch stage: expire stale drafts, then dispatch as configured;
    returns the drafts sent or handed off."""
    expire_due(session)
    summary = run_configured(session, settings)
    logger.info("dispatch: %s", summary)
    return summary.sent + summary.handoff


def hand_off(session: Session, draft: Draft, now: datetime) -> str:
    """Move an approved draft to ``handoff`` (a person posts it), bound to its approval like a
    claim; it counts toward the caps from now (``sent_at``)."""
    if not _bound(draft):
        return "not bound to its approval"
    if not claim(session, draft, now, to="handoff"):
        return "claimed by another worker"
    logger.info("draft %s handed off to a person", draft.id)
    return "handoff"


def _bound(draft: Draft) -> bool:
    """The draft's action, target and text still hash to what was approved."""
    return draft.approved_hash is not None and draft.approved_hash == content_hash(
        draft.kind, draft.platform, draft.target_account, draft.target_post, draft.text
    )


def send_one(session: Session, draft: Draft, adapter: Adapter, now: datetime) -> str:
    """Claim, verify and send one approved draft; returns its new status (or why not sent)."""
    approved = draft.approved_hash
    if approved is None or not _bound(draft):
        return "not bound to its approval"
    if not claim(session, draft, now):
        return "claimed by another worker"
    session.refresh(draft)
    try:
        ref = adapter.send(draft, approved)
    except PermanentError as exc:
        return _finish(session, draft, "failed", now, error=str(exc))
    except PlatformBusy as exc:
        _finish(session, draft, "approved", now, error=str(exc))
        return BUSY
    except UnknownOutcome as exc:
        return _finish(session, draft, "reconcile", now, error=str(exc))
    except Exception as exc:  # a bug in an adapter: the send may have happened
        logger.exception("adapter failed on draft %s", draft.id)
        return _finish(session, draft, "reconcile", now, error=f"{type(exc).__name__}: {exc}")
    return _finish(session, draft, "sent", now, ref=ref)


def claim(session: Session, draft: Draft, now: datetime, to: str = "sending") -> bool:
    """Move ``draft`` from approved to ``to`` (sending, or handoff) if nobody else did; the
    audit event with it."""
    stmt = (
        update(Draft)
        .where(
            col(Draft.id) == draft.id,
            col(Draft.status) == "approved",
            col(Draft.approved_hash) == col(Draft.content_hash),
        )
        .values(status=to, sent_at=now, updated_at=now)
    )
    if session.execute(stmt).rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()
        return False
    session.add(_event(draft, "approved", to, now, {}))
    session.commit()
    session.refresh(draft)
    return True


def move(
    session: Session,
    draft: Draft,
    before: str,
    after: str,
    actor: str,
    now: datetime,
    detail: dict[str, Any],
    **values: Any,
) -> bool:
    """Move ``draft`` from ``before`` to ``after`` (and set ``values``) if it is still
    ``before`` and bound to its approval, in one conditional update, with its audit event by
    ``actor``; ``False`` if another process moved it first. Commits."""
    stmt = (
        update(Draft)
        .where(
            col(Draft.id) == draft.id,
            col(Draft.status) == before,
            col(Draft.approved_hash) == col(Draft.content_hash),
        )
        .values(status=after, updated_at=now, **values)
    )
    if session.execute(stmt).rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()
        return False
    event = _event(draft, before, after, now, detail)
    event.actor = actor
    session.add(event)
    session.commit()
    session.refresh(draft)
    return True


def _event(
    draft: Draft, before: str, after: str, now: datetime, detail: dict[str, Any]
) -> AuditEvent:
    """The audit event of a dispatch transition (the approval and its reviewer stay as they are)."""
    return AuditEvent(
        at=now, actor=SYSTEM_ACTOR, action=after, draft_id=draft.id,
        before_hash=draft.approved_hash, after_hash=draft.content_hash,
        detail={"from": before, **detail},
    )  # fmt: skip


def _finish(
    session: Session, draft: Draft, status: str, now: datetime, ref: str = "", error: str = ""
) -> str:
    detail = {"platform_ref": ref} if ref else {"error": error[:500]}
    session.add(_event(draft, draft.status, status, now, detail))
    draft.status = status
    draft.updated_at = now
    draft.platform_ref = ref or None
    draft.dispatch_error = error[:2000]
    session.add(draft)
    session.commit()
    log = logger.info if status == "sent" else logger.warning
    shown = "waits: " + error if status == "approved" else error
    log("draft %s %s%s", draft.id, status, f" ({shown})" if error else f" as {ref}")
    return status


def _held(session: Session, draft: Draft, cfg: DispatchSettings, now: datetime) -> str:
    """Why ``draft`` must wait (a cap or the target's cool-down), or "" to send it now."""
    group = CAP_GROUP.get(draft.kind, "comment")
    kinds = [k for k, g in CAP_GROUP.items() if g == group]
    caps = {
        "follow": (cfg.follow_per_hour, cfg.follow_per_day),
        "comment": (cfg.comment_per_hour, cfg.comment_per_day),
    }[group]
    for window, cap in zip((timedelta(hours=1), timedelta(days=1)), caps, strict=True):
        done = _count(session, draft.platform, kinds, None, now - window)
        if done >= cap:
            return f"{group} cap per {'hour' if window.days == 0 else 'day'}"
    if cfg.target_cooldown_hours > 0:
        since = now - timedelta(hours=cfg.target_cooldown_hours)
        if _count(session, draft.platform, list(CAP_GROUP), draft.target_account, since):
            return "target cool-down"
    if draft.kind == "follow" and cfg.refollow_days > 0:
        since = now - timedelta(days=cfg.refollow_days)
        if followed_recently(session, draft.platform, draft.target_account, since, draft.id):
            return "refollow"
    return ""


def _count(
    session: Session, platform: str, kinds: list[str], target: str | None, since: datetime
) -> int:
    stmt = select(Draft.id).where(
        Draft.platform == platform,
        col(Draft.kind).in_(kinds),
        col(Draft.status).in_(IN_FLIGHT),
        col(Draft.sent_at) >= since,
    )
    if target is not None:
        stmt = stmt.where(Draft.target_account == target)
    return len(session.exec(stmt).all())


class SandboxAdapter:
    """The sandbox platform over real HTTP: ``POST /api/actions`` with an ``Idempotency-Key``
    (the sandbox keeps every key: sending the same key again returns the first result)."""

    def __init__(self, base_url: str, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def send(self, draft: Draft, idempotency_key: str) -> str:
        kind = "post" if draft.kind == "group_post" else draft.kind
        body = {
            "kind": kind,
            "target_account": draft.target_account,
            "target_post": draft.target_post,
            "text": draft.text,
        }
        status, raw = http_call(
            "POST",
            self.base_url + "/api/actions",
            {"Content-Type": "application/json", "Idempotency-Key": idempotency_key},
            json.dumps(body).encode("utf-8"),
            self.timeout,
            "the sandbox",
        )
        if status == 429 or status >= 500:
            raise PlatformBusy(f"the sandbox answered HTTP {status}")
        if 400 <= status < 500:
            raise PermanentError(f"the sandbox refused it: HTTP {status}")
        payload = parse_json(raw, "the sandbox")
        try:
            return str(payload["data"]["id"])
        except (KeyError, TypeError):
            raise UnknownOutcome(f"the sandbox's answer has no id: {payload!r:.200}") from None

    def check(self, draft: Draft, idempotency_key: str, began: datetime, now: datetime) -> Checked:
        """The sandbox dedupes by key for ever: sending again returns the first result, or
        does it now if it never happened (it was approved)."""
        return resend(self, draft, idempotency_key)


def resend(adapter: Adapter, draft: Draft, idempotency_key: str) -> Checked:
    """Send again with the same key, where the platform dedupes: its answer settles it."""
    try:
        return Checked("sent", ref=adapter.send(draft, idempotency_key))
    except PermanentError as exc:
        return Checked("failed", why=str(exc))
    except (PlatformBusy, UnknownOutcome) as exc:
        return Checked("unknown", why=str(exc))


def http_call(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes | None,
    timeout: float,
    who: str,
) -> tuple[int, bytes]:
    """One HTTP request: (status, body). Connecting is kept apart from sending, because what
    a failure means differs: no connection -> ``PlatformBusy`` (nothing went out, safe to
    retry); a failure once the request is on its way -> ``UnknownOutcome``."""
    parts = urlsplit(url)
    conn_cls = (
        http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    )
    conn = conn_cls(parts.hostname or "", parts.port, timeout=timeout)
    try:
        try:
            conn.connect()
        except OSError as exc:  # refused, unreachable, DNS, TLS handshake, connect timeout
            raise PlatformBusy(f"could not connect to {who}: {type(exc).__name__}") from None
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        try:
            conn.request(method, target, body=body, headers=dict(headers))
            resp = conn.getresponse()
            return resp.status, resp.read()
        except (OSError, http.client.HTTPException) as exc:
            raise UnknownOutcome(f"no answer from {who}: {type(exc).__name__}") from None
    finally:
        conn.close()


def parse_json(raw: bytes, who: str) -> Any:
    """A 2xx body; anything unreadable is an unknown outcome (the action may stand)."""
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise UnknownOutcome(f"{who} answered something that is not JSON") from None
