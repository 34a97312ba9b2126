"""The review queue: a small state machine over drafts, every transition in the audit log.

Transitions (anything else raises ``ReviewError``)::

    pending  -> approved | edited | rejected | expired
    edited   -> approved | edited | rejected | expired
    approved -> edited                     (an edit voids the approval)

An approval binds the exact text: ``approved_hash`` is set to the draft's ``content_hash``, and
a reviewer who passes ``expected_hash`` (the hash of the text they were shown) is refused if the
text changed since. Drafts at or past ``expires_at`` can no longer be approved or edited (they
may still be rejected); ``expire_due`` moves them to ``expired``. Each public function commits
its own transaction.

Multi-step approval (``[bot] approvals_required`` = N > 1): an approval is first a *step*,
kept in ``Draft.approvals`` (``{actor, hash, at}``) with an ``approval_step`` audit event, and
the draft stays open; the Nth distinct reviewer to approve the same hash approves it. Every
step passes the same checks as a single approval (reviewer, hash seen, expiry, text,
near-duplicates); a reviewer counts once; an edit clears the steps; a reject ends it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from bot.guardrails import add_suppression, fit_key
from bot.textcheck import TextChecks, closest, problems
from crawlers.config import BotSettings
from crawlers.errors import ReviewError
from crawlers.models import Account, AuditEvent, Draft, Suppression, content_hash, utcnow

logger = logging.getLogger(__name__)

SYSTEM_ACTOR = "tingfeng"
TRANSITIONS: dict[str, frozenset[str]] = {
    "pending": frozenset({"approved", "edited", "rejected", "expired"}),
    "edited": frozenset({"approved", "edited", "rejected", "expired"}),
    # an approval can be revoked (rejected) until dispatch picks the draft up (a later issue)
    "approved": frozenset({"edited", "rejected"}),
    # a Weibo hand-off (bot.handoff): the person posted it, or skipped it. (A draft in
    # reconcile is settled only by bot.reconcile, never by review: approving it again here
    # would send it a second time.)
    "handoff": frozenset({"sent", "failed"}),
}
#: drafts still waiting for a reviewer
OPEN = ("pending", "edited")
#: drafts a suppression withdraws: everything not yet sent (a hand-off not yet posted too)
UNSENT = (*OPEN, "approved", "handoff")


def as_utc(when: datetime) -> datetime:
    """Aware UTC; naive values (SQLite returns them) are taken to be UTC already."""
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def list_drafts(
    session: Session,
    status: str | None = "pending",
    campaign: str | None = None,
    limit: int | None = None,
) -> Sequence[Draft]:
    """Drafts oldest first; ``status=None`` lists every status."""
    stmt = select(Draft).order_by(col(Draft.created_at), col(Draft.id))
    if status is not None:
        stmt = stmt.where(Draft.status == status)
    if campaign is not None:
        stmt = stmt.where(Draft.campaign == campaign)
    if limit is not None:
        stmt = stmt.limit(limit)
    return session.exec(stmt).all()


def get_draft(session: Session, draft_id: int) -> Draft:
    """The draft ``draft_id``, locked for update where the database can; else ``ReviewError``."""
    draft = session.exec(select(Draft).where(Draft.id == draft_id).with_for_update()).first()
    if draft is None:
        raise ReviewError(f"no draft with id {draft_id}. List the drafts to find the right id.")
    return draft


def history(session: Session, draft_id: int) -> Sequence[AuditEvent]:
    """The audit events of one draft, oldest first."""
    stmt = select(AuditEvent).where(AuditEvent.draft_id == draft_id).order_by(col(AuditEvent.id))
    return session.exec(stmt).all()


def approve(
    session: Session,
    draft_id: int,
    actor: str,
    expected_hash: str | None = None,
    now: datetime | None = None,
    settings: BotSettings | None = None,
) -> Draft:
    """Approve the draft's current text; refused if it changed since ``expected_hash`` was read,
    or if the text fails a check of ``bot.textcheck`` (sensitive words, links, hidden
    characters, a near-duplicate of a reply or repost approved or sent recently)."""
    now = as_utc(now or utcnow())
    bot = settings or BotSettings()
    draft = get_draft(session, draft_id)
    _check_reviewer(actor, bot, "approve")
    _check_transition(draft, "approved")
    _check_not_expired(draft, now, "approved")
    if bot.reviewers and draft.status == "edited" and draft.reviewed_by == actor:
        raise ReviewError(
            f"draft {draft_id} was last edited by {actor}: with reviewer accounts configured "
            "([bot] reviewers), nobody approves their own text. Ask another reviewer."
        )
    if expected_hash is not None and not _same_hash(expected_hash, draft.content_hash):
        raise ReviewError(
            f"draft {draft_id} changed since you read it (you saw {expected_hash[:12]}, it is now "
            f"{draft.content_hash[:12]}). Show it again and approve the text you see."
        )
    _check_text(draft, draft.text, bot)
    _check_not_duplicate(session, draft, bot, now)
    need = bot.approvals_required
    have = approvers(draft)
    if actor in have and len(have) < need:
        raise ReviewError(
            f"draft {draft_id}: {actor} already approved this text ({progress(draft, need)}); "
            f"[bot] approvals_required = {need} needs {need} different reviewers. Ask another "
            "reviewer."
        )
    if need <= 1:  # one approval: exactly as without steps
        draft.approved_hash = draft.content_hash
        return _commit(session, draft, "approved", actor, now, draft.content_hash)
    if actor not in have:
        step = {"actor": actor, "hash": draft.content_hash, "at": now.isoformat()}
        draft.approvals = [*_current_steps(draft), step]  # a new list: the JSON column sees it
        have = [*have, actor]
    if len(have) < need:
        draft.updated_at = now
        _event(session, draft, "approval_step", actor, now, draft.content_hash,
               {"from": draft.status, "hash": draft.content_hash, "step": len(have),
                "of": need})  # fmt: skip
        session.commit()
        session.refresh(draft)
        logger.info("draft %s: approval %d of %d by %s", draft.id, len(have), need, actor)
        return draft
    draft.approved_hash = draft.content_hash
    return _commit(
        session, draft, "approved", actor, now, draft.content_hash, {"approvers": have[:need]}
    )


def approvers(draft: Draft) -> list[str]:
    """Who approved the draft's current text, in order (each once)."""
    out: list[str] = []
    for step in _current_steps(draft):
        name = str(step.get("actor", ""))
        if name and name not in out:
            out.append(name)
    return out


def progress(draft: Draft, need: int) -> str:
    """``"approval 1 of 2 (alice)"``: the steps collected toward ``need`` approvals."""
    have = approvers(draft)
    if draft.status == "approved" and not have:
        return f"approved by {draft.reviewed_by or '?'}"
    return f"approval {min(len(have), need)} of {need}" + (f" ({', '.join(have)})" if have else "")


def _current_steps(draft: Draft) -> list[dict[str, Any]]:
    # steps for another text never count (an edit clears them; this guards old rows too)
    return [s for s in draft.approvals or [] if s.get("hash") == draft.content_hash]


#: the shortest hash prefix a reviewer may quote (as `review list` shows it): 32 bits
MIN_HASH_PREFIX = 8


def _same_hash(seen: str, current: str) -> bool:
    seen = seen.strip().lower()
    if len(seen) < MIN_HASH_PREFIX:
        raise ReviewError(
            f"--hash {seen!r} is too short: quote at least {MIN_HASH_PREFIX} characters of the "
            "hash `tingfeng review list` or `review show` printed."
        )
    return current.startswith(seen)


def edit(
    session: Session,
    draft_id: int,
    new_text: str,
    actor: str,
    now: datetime | None = None,
    settings: BotSettings | None = None,
) -> Draft:
    """Replace the draft's text; the hash is recomputed and any approval is void. A text with
    sensitive words, disallowed links or hidden characters is refused (it could never be
    approved)."""
    now = as_utc(now or utcnow())
    _check_reviewer(actor, settings or BotSettings(), "edit")
    draft = get_draft(session, draft_id)
    _check_transition(draft, "edited")
    _check_not_expired(draft, now, "edited")
    if draft.kind == "follow":
        raise ReviewError(
            f"draft {draft_id} is a follow: it has no text to edit. Approve or reject it."
        )
    _check_text(draft, new_text, settings or BotSettings())
    before = draft.content_hash
    cleared = approvers(draft)  # the steps approved the text being replaced
    draft.text = new_text
    draft.content_hash = content_hash(
        draft.kind, draft.platform, draft.target_account, draft.target_post, new_text
    )
    draft.approved_hash = None
    draft.approvals = []
    detail = {"cleared_approvals": cleared} if cleared else None
    return _commit(session, draft, "edited", actor, now, before, detail)


def reject(
    session: Session,
    draft_id: int,
    actor: str,
    reason: str = "",
    now: datetime | None = None,
    settings: BotSettings | None = None,
) -> Draft:
    """Reject a draft for good: the drafter never proposes the same action and target again."""
    now = as_utc(now or utcnow())
    _check_reviewer(actor, settings or BotSettings(), "reject")
    draft = get_draft(session, draft_id)
    _check_transition(draft, "rejected")
    return _commit(session, draft, "rejected", actor, now, draft.content_hash, {"reason": reason})


def expire_due(session: Session, now: datetime | None = None, actor: str = SYSTEM_ACTOR) -> int:
    """Expire every open draft at or past its ``expires_at``; returns how many.

    An expired draft gives up its dedup key, so drafting may propose the same action again,
    with fresh evidence, if its rule still fires (a rejected draft keeps its key for good).
    """
    now = as_utc(now or utcnow())
    stmt = select(Draft).where(col(Draft.status).in_(OPEN), col(Draft.expires_at) <= now)
    drafts = session.exec(stmt).all()
    for draft in drafts:
        draft.dedup_key = fit_key(f"{draft.dedup_key}#expired{draft.id}")
        _record(session, draft, "expired", actor, now, draft.content_hash, {})
    session.commit()
    if drafts:
        logger.info("expired %d drafts past their review window", len(drafts))
    return len(drafts)


def suppress(
    session: Session,
    platform: str,
    account_id: str,
    actor: str,
    reason: str,
    now: datetime | None = None,
) -> Suppression:
    """Never draft for this account again; its unsent drafts (approved ones too) are rejected.

    Idempotent: suppressing twice keeps one entry and rejects nothing more.
    """
    now = as_utc(now or utcnow())
    row = add_suppression(session, platform, account_id, actor, reason, now)
    why = {"reason": f"suppressed: {reason}"}
    for draft in _unsent_drafts_for(session, platform, account_id):
        _record(session, draft, "rejected", actor, now, draft.content_hash, why)
    session.commit()
    return row


def _unsent_drafts_for(session: Session, platform: str, account_id: str) -> Sequence[Draft]:
    stmt = select(Draft).where(
        Draft.platform == platform,
        Draft.target_account == account_id,
        col(Draft.status).in_(UNSENT),
    )
    return session.exec(stmt).all()


def _check_reviewer(actor: str, bot: BotSettings, what: str) -> None:
    """With ``[bot] reviewers`` set, only those accounts may review."""
    if bot.reviewers and actor not in bot.reviewers:
        raise ReviewError(
            f"{actor!r} is not a reviewer ([bot] reviewers: {', '.join(bot.reviewers)}): "
            f"they cannot {what} drafts. Add them there, or review as one of them (--as)."
        )


def _check_text(draft: Draft, text: str, bot: BotSettings) -> None:
    found = problems(text, TextChecks.of(bot))
    if found:
        raise ReviewError(f"draft {draft.id}: the text " + "; ".join(found) + ".")


#: statuses whose text counts as said (or about to be) for the near-duplicate check
SAID = ("approved", "sending", "sent", "handoff", "reconcile")


def _check_not_duplicate(session: Session, draft: Draft, bot: BotSettings, now: datetime) -> None:
    """Refuse a reply or repost too like one approved or sent on the platform recently."""
    if draft.kind == "follow" or not draft.text.strip():
        return
    since = now - timedelta(days=bot.duplicate_window_days)
    stmt = select(Draft.id, Draft.text, Draft.target_account).where(
        Draft.platform == draft.platform,
        col(Draft.status).in_(SAID),
        Draft.id != draft.id,
        col(Draft.kind).in_(("reply", "repost", "post")),
        col(Draft.updated_at) >= since,
    )
    rows = session.exec(stmt).all()
    if not rows:
        return
    names = _names(session, draft.platform, {draft.target_account, *(r[2] for r in rows)})
    recent = [(i, text, names.get(a, "")) for i, text, a in rows if i is not None]
    other, score = closest(draft.text, names.get(draft.target_account, ""), recent)
    if other is not None and score >= bot.duplicate_similarity:
        raise ReviewError(
            f"draft {draft.id} is {score:.0%} like draft {other}, already {_status(session, other)}"
            f" on {draft.platform} (the addressee's name left out; [bot] duplicate_similarity = "
            f"{bot.duplicate_similarity}): the same words to many people read as spam. Edit it "
            "to speak to this post."
        )


def _names(session: Session, platform: str, accounts: set[str]) -> dict[str, str]:
    stmt = select(Account.platform_id, Account.name).where(
        Account.platform == platform, col(Account.platform_id).in_(sorted(accounts))
    )
    return {pid: name for pid, name in session.exec(stmt) if name}


def _status(session: Session, draft_id: int) -> str:
    row = session.get(Draft, draft_id)
    return row.status if row else "gone"


def _check_transition(draft: Draft, target: str) -> None:
    if target not in TRANSITIONS.get(draft.status, frozenset()):
        allowed = ", ".join(sorted(TRANSITIONS.get(draft.status, ()))) or "nothing"
        raise ReviewError(
            f"draft {draft.id} is {draft.status}: it cannot become {target} (from {draft.status} "
            f"it can become: {allowed})."
        )


def _check_not_expired(draft: Draft, now: datetime, target: str) -> None:
    if draft.expires_at is not None and as_utc(draft.expires_at) <= now:
        raise ReviewError(
            f"draft {draft.id} expired at {as_utc(draft.expires_at).isoformat()}: it cannot be "
            f"{target}. Reject it, or let the next drafting run propose it again with fresh evidence."
        )


def _commit(
    session: Session,
    draft: Draft,
    action: str,
    actor: str,
    now: datetime,
    before: str,
    detail: dict[str, Any] | None = None,
) -> Draft:
    _record(session, draft, action, actor, now, before, detail or {})
    session.commit()
    session.refresh(draft)
    logger.info("draft %s %s by %s", draft.id, action, actor)
    return draft


def _record(
    session: Session,
    draft: Draft,
    action: str,
    actor: str,
    now: datetime,
    before: str,
    detail: dict[str, Any],
) -> None:
    """Move ``draft`` to ``action`` (a status) and append its audit event."""
    detail = {"from": draft.status, **detail}
    draft.status = action
    if action in ("edited", "rejected", "expired"):
        draft.approved_hash = None  # an approval lives only as long as the approved state
    draft.updated_at = now
    if action != "expired":
        draft.reviewed_by = actor
    _event(session, draft, action, actor, now, before, detail)


def _event(
    session: Session,
    draft: Draft,
    action: str,
    actor: str,
    now: datetime,
    before: str,
    detail: dict[str, Any],
) -> None:
    """Append ``action``'s audit event for ``draft`` (its status is the caller's business)."""
    session.add(draft)
    session.add(
        AuditEvent(
            at=now,
            actor=actor,
            action=action,
            draft_id=draft.id,
            before_hash=before,
            after_hash=draft.content_hash,
            detail=detail,
        )
    )
