"""Weibo hand-off: Weibo's write API is closed to new apps, so with ``[dispatch] weibo =
"handoff"`` dispatch moves approved Weibo drafts to ``handoff`` (counted against the caps like
a send) and a person posts them by hand.

    approved -> handoff -> sent    (``confirm``: the person posted it; its URL or id kept)
                        -> failed  (``skip``: the person did not, and says why)

``pending`` lists what to post, ``links`` says where. The person must post the exact approved
text: ``confirm`` refuses a draft whose text no longer hashes to its approval. Nothing here
ever talks to Weibo.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session, col, select

from bot.dispatch import _bound, move
from bot.review import _check_reviewer, _check_transition, _same_hash, as_utc, get_draft
from crawlers.config import BotSettings, supertopic_containerid
from crawlers.errors import ReviewError
from crawlers.models import Draft, utcnow

logger = logging.getLogger(__name__)

#: what the person does for each kind of draft
ACTIONS = {
    "reply": "comment on the post",
    "repost": "repost the post with this comment",
    "follow": "follow the account",
    "group_post": "post in the super-topic",
    "post": "post",
}


def pending(session: Session) -> list[Draft]:
    """Drafts handed off and not yet confirmed or skipped, oldest first."""
    stmt = (
        select(Draft).where(Draft.status == "handoff").order_by(col(Draft.sent_at), col(Draft.id))
    )
    return list(session.exec(stmt).all())


def links(draft: Draft) -> Sequence[str]:
    """Where to act, best first: the post (mobile and desktop), the profile, the super-topic."""
    if draft.platform != "weibo":
        return []
    uid = draft.target_account
    if draft.kind == "follow":
        return [f"https://weibo.com/u/{uid}", f"https://m.weibo.cn/u/{uid}"]
    if draft.kind == "group_post":
        cid = supertopic_containerid(uid)
        return [f"https://m.weibo.cn/p/index?containerid={cid}", f"https://weibo.com/p/{cid}"]
    if draft.target_post:
        mid = draft.target_post
        return [f"https://m.weibo.cn/detail/{mid}", f"https://weibo.com/{uid}/{mid}"]
    return [f"https://weibo.com/u/{uid}"]


def confirm(
    session: Session,
    draft_id: int,
    actor: str,
    platform_ref: str,
    *,
    expected_hash: str | None = None,
    now: datetime | None = None,
    settings: BotSettings | None = None,
) -> Draft:
    """The person posted it: ``handoff -> sent`` with ``platform_ref`` (the URL or id of what
    they posted). Refused if the draft's text no longer hashes to its approval, or (with
    ``expected_hash``) is not the text the person was shown."""
    now = as_utc(now or utcnow())
    ref = platform_ref.strip()
    if not ref:
        raise ReviewError(
            f"draft {draft_id}: say where it was posted (--ref URL_OR_ID): the post's URL or id."
        )
    if len(ref) > 128:
        raise ReviewError(
            f"draft {draft_id}: --ref is {len(ref)} characters; give the post's id or a "
            "shorter URL (at most 128)."
        )
    draft = _handed_off(session, draft_id, actor, "sent", settings)
    if not _bound(draft) or draft.approved_hash != draft.content_hash:
        raise ReviewError(
            f"draft {draft_id}'s text no longer matches its approval (approved "
            f"{(draft.approved_hash or '')[:12]}, now {draft.content_hash[:12]}): it cannot be "
            "confirmed. Skip it (`tingfeng handoff skip`) and draft it again."
        )
    if expected_hash is not None and not _same_hash(expected_hash, draft.content_hash):
        raise ReviewError(
            f"draft {draft_id} is not the text you were shown (you saw {expected_hash[:12]}, it "
            f"is {draft.content_hash[:12]}). List the hand-offs again."
        )
    detail = {"platform_ref": ref, "handoff": "posted by a person"}
    if not move(session, draft, "handoff", "sent", actor, now, detail, platform_ref=ref):
        raise ReviewError(f"draft {draft_id} changed meanwhile: list the hand-offs again.")
    logger.info("draft %s posted by %s as %s", draft_id, actor, ref)
    return draft


def skip(
    session: Session,
    draft_id: int,
    actor: str,
    why: str,
    *,
    now: datetime | None = None,
    settings: BotSettings | None = None,
) -> Draft:
    """The person did not post it (the post is gone, the moment passed, ...): ``handoff ->
    failed``, with why."""
    now = as_utc(now or utcnow())
    reason = why.strip()
    if not reason:
        raise ReviewError(f"draft {draft_id}: say why it is skipped (--why TEXT).")
    draft = _handed_off(session, draft_id, actor, "failed", settings)
    error = f"skipped by {actor}: {reason}"[:2000]
    detail = {"reason": reason}
    if not move(session, draft, "handoff", "failed", actor, now, detail, dispatch_error=error):
        raise ReviewError(f"draft {draft_id} changed meanwhile: list the hand-offs again.")
    logger.info("draft %s skipped by %s", draft_id, actor)
    return draft


def _handed_off(
    session: Session, draft_id: int, actor: str, target: str, settings: BotSettings | None
) -> Draft:
    if settings is not None:
        _check_reviewer(actor, settings, "confirm or skip hand-offs of")
    draft = get_draft(session, draft_id)
    if draft.status != "handoff":
        raise ReviewError(
            f"draft {draft_id} is {draft.status}, not handed off: only drafts listed by "
            "`tingfeng handoff list` can be confirmed or skipped."
        )
    _check_transition(draft, target)
    return draft
