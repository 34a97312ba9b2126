"""Dispatch: send approved drafts through a platform adapter, exactly once, within the caps.

States (after ``bot.review``)::

    approved -> sending -> sent | failed | reconcile

* **Claim**: one ``UPDATE draft SET status = 'sending' WHERE id = ? AND status = 'approved'
  AND approved_hash = content_hash``; only the worker whose update changed a row sends, so two
  dispatch workers, or a double-click on Approve, still make one call to the platform.
* **Bound to the approval**: the hash of kind, platform, target and text is recomputed from the
  row just before sending and must equal the approved hash; the adapter sends exactly that
  text, with the approved hash as the ``Idempotency-Key``.
* **Caps and cool-down** (``[dispatch]``): actions per platform per rolling hour and day (follows
  and comments counted apart) and one action toward the same user per cool-down; a draft over
  either stays approved for a later run.
* **Outcomes**: the platform's answer -> ``sent`` with its id; a refusal (4xx) -> ``failed``; no
  answer (timeout, connection lost after sending, 5xx) -> ``reconcile``: it may or may not have
  happened, so it is never retried blindly; a person (or a later crawl) settles it.

Every transition is an audit event.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import update
from sqlmodel import Session, col, select

from bot.review import SYSTEM_ACTOR, as_utc
from crawlers.config import DispatchSettings, Settings
from crawlers.models import AuditEvent, Draft, content_hash, utcnow

logger = logging.getLogger(__name__)

#: drafts whose action counts toward the caps and cool-downs
IN_FLIGHT = ("sending", "sent", "reconcile")
#: which cap an action kind counts toward
CAP_GROUP = {"follow": "follow", "reply": "comment", "repost": "comment", "post": "comment"}


class PermanentError(Exception):
    """The platform refused the action: nothing happened, it will not happen."""


class UnknownOutcome(Exception):
    """The action may or may not have happened (no answer, lost connection, server error)."""


class Adapter(Protocol):
    """Sends one approved action; returns the platform's id for it."""

    def send(self, draft: Draft, idempotency_key: str) -> str: ...


@dataclass
class Summary:
    sent: int = 0
    failed: int = 0
    reconcile: int = 0
    held: Counter[str] = field(default_factory=Counter)  # why drafts waited: cap, cooldown, ...

    def __str__(self) -> str:
        waits = ", ".join(f"{n} {why}" for why, n in sorted(self.held.items())) or "none"
        return (
            f"sent {self.sent}, failed {self.failed}, to reconcile {self.reconcile}; "
            f"waiting: {waits}"
        )


def run(
    session: Session,
    settings: Settings,
    adapters: Mapping[str, Adapter],
    now: datetime | None = None,
    limit: int | None = None,
) -> Summary:
    """Send the approved drafts of the platforms in ``adapters``, oldest approval first."""
    now = as_utc(now or utcnow())
    out = Summary()
    stmt = (
        select(Draft.id)
        .where(Draft.status == "approved", col(Draft.platform).in_(sorted(adapters)))
        .order_by(col(Draft.updated_at), col(Draft.id))
    )
    for draft_id in session.exec(stmt).all():
        if limit is not None and out.sent + out.failed + out.reconcile >= limit:
            break
        assert draft_id is not None
        draft = session.get(Draft, draft_id)
        if draft is None or draft.status != "approved":
            continue
        why = _held(session, draft, settings.dispatch, now)
        if why:
            out.held[why] += 1
            continue
        outcome = send_one(session, draft, adapters[draft.platform], now)
        if outcome in ("sent", "failed", "reconcile"):
            setattr(out, outcome, getattr(out, outcome) + 1)
        else:
            out.held[outcome] += 1
    return out


def send_one(session: Session, draft: Draft, adapter: Adapter, now: datetime) -> str:
    """Claim, verify and send one approved draft; returns its new status (or why not sent)."""
    approved = draft.approved_hash
    if (
        approved is None
        or content_hash(
            draft.kind, draft.platform, draft.target_account, draft.target_post, draft.text
        )
        != approved
    ):
        return "not bound to its approval"
    if not claim(session, draft, now):
        return "claimed by another worker"
    session.refresh(draft)
    try:
        ref = adapter.send(draft, approved)
    except PermanentError as exc:
        return _finish(session, draft, "failed", now, error=str(exc))
    except UnknownOutcome as exc:
        return _finish(session, draft, "reconcile", now, error=str(exc))
    except Exception as exc:  # a bug in an adapter: the send may have happened
        logger.exception("adapter failed on draft %s", draft.id)
        return _finish(session, draft, "reconcile", now, error=f"{type(exc).__name__}: {exc}")
    return _finish(session, draft, "sent", now, ref=ref)


def claim(session: Session, draft: Draft, now: datetime) -> bool:
    """Move ``draft`` from approved to sending if nobody else did; the audit event with it."""
    stmt = (
        update(Draft)
        .where(
            col(Draft.id) == draft.id,
            col(Draft.status) == "approved",
            col(Draft.approved_hash) == col(Draft.content_hash),
        )
        .values(status="sending", sent_at=now, updated_at=now)
    )
    if session.execute(stmt).rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()
        return False
    session.add(_event(draft, "approved", "sending", now, {}))
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
    log("draft %s %s%s", draft.id, status, f" ({error})" if error else f" as {ref}")
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
    """The sandbox platform over real HTTP: ``POST /api/actions`` with an ``Idempotency-Key``."""

    def __init__(self, base_url: str, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def send(self, draft: Draft, idempotency_key: str) -> str:
        body = json.dumps(
            {
                "kind": draft.kind,
                "target_account": draft.target_account,
                "target_post": draft.target_post,
                "text": draft.text,
            }  # fmt: skip
        ).encode("utf-8")
        req = urllib.request.Request(
            self.base_url + "/api/actions",
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "Idempotency-Key": idempotency_key},
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310
                payload: Any = json.loads(resp.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:
            if 400 <= exc.code < 500:
                raise PermanentError(f"the sandbox refused it: HTTP {exc.code}") from None
            raise UnknownOutcome(f"the sandbox answered HTTP {exc.code}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise UnknownOutcome(f"no answer from the sandbox: {type(reason).__name__}") from None
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise UnknownOutcome("the sandbox answered something that is not JSON") from None
        try:
            return str(payload["data"]["id"])
        except (KeyError, TypeError):
            raise UnknownOutcome(f"the sandbox's answer has no id: {payload!r:.200}") from None
