"""Settling unknown outcomes: a draft in ``reconcile`` was sent but no answer came back, so it
may or may not have happened. It is never sent again blindly.

    reconcile -> sent      (it happened: the platform's id kept)
              -> approved  (it did not: sent again by the next dispatch, with the SAME approved
                            hash, so the same Idempotency-Key)
              -> failed    (``check`` only: the platform refused it when asked again)

A person decides with ``resolve``. ``check`` asks the platforms that can tell: an adapter
with a ``check(draft, key, began, now)`` method (Mastodon: the same Idempotency-Key within the
hour, else our account's statuses; the sandbox: the same key, which it keeps for ever). A
platform that cannot dedupe (Weibo hand-off) is never asked; its drafts wait for a person.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from bot.dispatch import Checked, build_adapters, move
from bot.review import SYSTEM_ACTOR, as_utc, get_draft
from crawlers.config import Settings
from crawlers.errors import ReviewError
from crawlers.models import Draft, utcnow

logger = logging.getLogger(__name__)


def pending(session: Session) -> list[Draft]:
    """Drafts whose outcome is unknown, oldest send first."""
    stmt = (
        select(Draft).where(Draft.status == "reconcile").order_by(col(Draft.sent_at), col(Draft.id))
    )
    return list(session.exec(stmt).all())


def resolve(
    session: Session,
    draft_id: int,
    actor: str,
    sent: bool,
    platform_ref: str | None = None,
    *,
    now: datetime | None = None,
    why: str = "",
) -> Draft:
    """A person says whether it happened: ``sent`` (with the platform's id or URL, if known)
    or not (back to approved with the same approved hash: the retry reuses its key)."""
    now = as_utc(now or utcnow())
    draft = get_draft(session, draft_id)
    if draft.status != "reconcile":
        raise ReviewError(
            f"draft {draft_id} is {draft.status}: only drafts with an unknown outcome "
            "(`tingfeng reconcile list`) can be resolved."
        )
    target = "sent" if sent else "approved"
    ref = (platform_ref or "").strip()
    if len(ref) > 128:
        raise ReviewError(f"draft {draft_id}: --ref is longer than 128 characters; give the id.")
    detail: dict[str, Any] = {"resolved": "sent" if sent else "not sent"}
    if why:
        detail["why"] = why
    values: dict[str, Any] = {"platform_ref": ref or None} if sent else {"dispatch_error": ""}
    if ref:
        detail["platform_ref"] = ref
    if not move(session, draft, "reconcile", target, actor, now, detail, **values):
        raise ReviewError(
            f"draft {draft_id} changed meanwhile (or its text no longer matches its approval): "
            "list the drafts to reconcile again."
        )
    logger.info("draft %s resolved by %s: %s", draft_id, actor, detail["resolved"])
    return draft


@dataclass
class CheckSummary:
    sent: int = 0
    not_sent: int = 0
    failed: int = 0
    unknown: int = 0
    #: drafts of platforms that cannot tell (hand-off, not configured): a person decides
    manual: int = 0
    notes: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"sent {self.sent}, not sent (approved again) {self.not_sent}, failed {self.failed}, "
            f"still unknown {self.unknown}, for a person {self.manual}"
        )


def check(
    session: Session,
    settings: Settings,
    adapters: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> CheckSummary:
    """Ask each platform that can tell about each draft in ``reconcile``; move the ones it
    answers for. ``adapters`` defaults to the configured ones (``build_adapters``)."""
    now = as_utc(now or utcnow())
    routes = build_adapters(settings) if adapters is None else adapters
    out = CheckSummary()
    for draft in pending(session):
        adapter = routes.get(draft.platform)
        checker = getattr(adapter, "check", None)
        if checker is None or draft.approved_hash is None:
            out.manual += 1
            continue
        began = as_utc(draft.sent_at or draft.updated_at)
        result: Checked = checker(draft, draft.approved_hash, began, now)
        _apply(session, draft, result, now, out)
    return out


def _apply(
    session: Session, draft: Draft, result: Checked, now: datetime, out: CheckSummary
) -> None:
    detail: dict[str, Any] = {"resolved": result.outcome.replace("_", " "), "by": "check"}
    if result.why:
        detail["why"] = result.why[:500]
    if result.outcome == "sent":
        detail["platform_ref"] = result.ref
        moved = move(session, draft, "reconcile", "sent", SYSTEM_ACTOR, now, detail,
                     platform_ref=result.ref or None)  # fmt: skip
    elif result.outcome == "not_sent":
        moved = move(session, draft, "reconcile", "approved", SYSTEM_ACTOR, now, detail,
                     dispatch_error="")  # fmt: skip
    elif result.outcome == "failed":
        moved = move(session, draft, "reconcile", "failed", SYSTEM_ACTOR, now, detail,
                     dispatch_error=result.why[:2000])  # fmt: skip
    else:
        out.unknown += 1
        out.notes.append(f"#{draft.id}: {result.why}")
        return
    if moved:
        setattr(out, result.outcome, getattr(out, result.outcome) + 1)
    logger.info("draft %s reconciled: %s", draft.id, detail["resolved"])
