"""The review state machine and its audit log."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from sqlmodel import Session, col, select

from bot import review
from bot.textcheck import TextChecks, closest, problems
from crawlers.config import BotSettings
from crawlers.errors import ReviewError
from crawlers.models import AuditEvent, Draft, Suppression, content_hash
from crawlers.store import make_engine, migrate
from tests.bot.world import T0

TTL = timedelta(hours=72)
CHECKS = TextChecks.of(BotSettings())


def make_draft(
    session: Session, kind: str = "reply", account: str = "u1", text: str = "你好"
) -> Draft:
    post = None if kind == "follow" else f"p-{account}-{kind}"
    text = "" if kind == "follow" else text
    draft = Draft(
        campaign="cafe",
        kind=kind,
        platform="weibo",
        target_account=account,
        target_post=post,
        text=text,
        content_hash=content_hash(kind, "weibo", account, post, text),
        dedup_key=f"cafe:{kind}:weibo:{account}:{post or ''}",
        created_at=T0,
        updated_at=T0,
        expires_at=T0 + TTL,
    )
    session.add(draft)
    session.commit()
    return draft


def events(session: Session, draft_id: int | None = None) -> list[AuditEvent]:
    stmt = select(AuditEvent).order_by(col(AuditEvent.id))
    if draft_id is not None:
        stmt = stmt.where(AuditEvent.draft_id == draft_id)
    return list(session.exec(stmt).all())


def test_approve_binds_the_hash_and_is_audited(session: Session) -> None:
    d = make_draft(session)
    h = d.content_hash
    review.approve(session, d.id, "alice", expected_hash=h, now=T0)
    assert (d.status, d.approved_hash, d.reviewed_by) == ("approved", h, "alice")
    [e] = events(session, d.id)
    assert (e.actor, e.action, e.before_hash, e.after_hash) == ("alice", "approved", h, h)
    assert review.as_utc(e.at) == T0 and e.detail["from"] == "pending"


def test_edit_voids_an_approval(session: Session) -> None:
    d = make_draft(session)
    old = d.content_hash
    review.approve(session, d.id, "alice", now=T0)
    review.edit(session, d.id, "新的回复", "bob", now=T0)
    assert (d.status, d.approved_hash, d.text) == ("edited", None, "新的回复")
    assert d.content_hash == content_hash("reply", "weibo", "u1", d.target_post, "新的回复")
    e = events(session, d.id)[-1]
    assert (e.action, e.before_hash, e.after_hash) == ("edited", old, d.content_hash)
    # the reviewer who saw the old text cannot approve the new one with the old hash
    with pytest.raises(ReviewError, match="changed since you read it"):
        review.approve(session, d.id, "alice", expected_hash=old, now=T0)
    review.approve(session, d.id, "alice", expected_hash=d.content_hash, now=T0)
    assert d.approved_hash == d.content_hash


@pytest.mark.parametrize(
    ("action", "message"),
    [
        (lambda s, i: review.approve(s, i, "a", now=T0), "cannot become approved"),
        (lambda s, i: review.edit(s, i, "x", "a", now=T0), "cannot become edited"),
        (lambda s, i: review.reject(s, i, "a", now=T0), "cannot become rejected"),
    ],
)
def test_rejected_is_final(session: Session, action, message: str) -> None:  # type: ignore[no-untyped-def]
    d = make_draft(session)
    review.reject(session, d.id, "alice", "off brand", now=T0)
    with pytest.raises(ReviewError, match=message):
        action(session, d.id)
    assert len(events(session, d.id)) == 1


def test_expired_draft_cannot_be_approved_or_edited(session: Session) -> None:
    d = make_draft(session)
    late = T0 + TTL
    with pytest.raises(ReviewError, match="expired"):
        review.approve(session, d.id, "alice", now=late)
    with pytest.raises(ReviewError, match="expired"):
        review.edit(session, d.id, "x", "alice", now=late)
    assert review.expire_due(session, now=late) == 1
    assert d.status == "expired" and events(session, d.id)[-1].actor == "tingfeng"
    with pytest.raises(ReviewError, match="cannot become approved"):
        review.approve(session, d.id, "alice", now=T0)


def test_unknown_id_and_follow_text(session: Session) -> None:
    with pytest.raises(ReviewError, match="no draft with id 99"):
        review.approve(session, 99, "alice")
    follow = make_draft(session, kind="follow")
    with pytest.raises(ReviewError, match="no text to edit"):
        review.edit(session, follow.id, "hi", "alice", now=T0)


def test_suppress_rejects_unsent_drafts_and_is_idempotent(session: Session) -> None:
    d = make_draft(session)
    approved = make_draft(session, kind="repost")
    review.approve(session, approved.id, "bob", now=T0)
    other = make_draft(session, account="u2")
    review.suppress(session, "weibo", "u1", "alice", "asked us to stop")
    review.suppress(session, "weibo", "u1", "alice", "again")
    assert len(session.exec(select(Suppression)).all()) == 1
    # an approved draft is withdrawn too: suppression wins over an earlier approval
    assert (d.status, approved.status, other.status) == ("rejected", "rejected", "pending")
    assert approved.approved_hash is None
    actions = [e.action for e in events(session)]
    assert actions == ["approved", "suppressed", "rejected", "rejected"]


def test_list_drafts_filters(session: Session) -> None:
    a, b = make_draft(session), make_draft(session, account="u2")
    review.reject(session, b.id, "alice", now=T0)
    assert [d.id for d in review.list_drafts(session)] == [a.id]
    assert [d.id for d in review.list_drafts(session, status=None, limit=1)] == [a.id]
    assert review.list_drafts(session, campaign="other") == []
    assert [e.action for e in review.history(session, b.id)] == ["rejected"]


class ReviewMachine(RuleBasedStateMachine):
    """Random sequences of review actions against a model of what each should do.

    Why: the approval must stay bound to the exact current text whatever order reviewers act in,
    and the audit log must hold exactly one event per transition that happened.
    """

    def __init__(self) -> None:
        super().__init__()
        self.engine = make_engine("sqlite://")
        migrate(self.engine)
        self.session = Session(self.engine)
        self.now = T0
        self.drafts = [
            make_draft(self.session, kind, f"u{i}")
            for i, kind in enumerate(["reply", "repost", "follow"])
        ]
        self.ids = [int(d.id or 0) for d in self.drafts]
        self.status = {i: "pending" for i in self.ids}
        self.transitions: Counter[int] = Counter()

    def _live(self) -> bool:
        return self.now < T0 + TTL

    def _attempt(self, draft_id: int, expect_ok: bool, new_status: str, call) -> None:  # type: ignore[no-untyped-def]
        try:
            call()
        except ReviewError:
            assert not expect_ok
            return
        assert expect_ok
        self.status[draft_id] = new_status
        self.transitions[draft_id] += 1

    @rule(n=st.integers(0, 2), seen=st.sampled_from(["none", "current", "stale"]))
    def approve(self, n: int, seen: str) -> None:
        i = self.ids[n]
        current = self.session.get(Draft, i).content_hash  # type: ignore[union-attr]
        expected = {"none": None, "current": current, "stale": "0" * 64}[seen]
        ok = (
            self.status[i] in review.OPEN
            and self._live()
            and seen != "stale"
            and not self._problems(i)
            and not self._like_an_approved(i)
        )
        self._attempt(
            i,
            ok,
            "approved",
            lambda: review.approve(self.session, i, "alice", expected, now=self.now),
        )

    @rule(n=st.integers(0, 2), text=st.text(max_size=12))
    def edit(self, n: int, text: str) -> None:
        i = self.ids[n]
        # draft 2 is a follow: it has no text to edit
        ok = (
            self.status[i] in (*review.OPEN, "approved")
            and self._live()
            and n != 2
            and not problems(text, CHECKS)  # sensitive words, links, hidden characters
        )
        self._attempt(
            i, ok, "edited", lambda: review.edit(self.session, i, text, "bob", now=self.now)
        )

    def _problems(self, i: int) -> list[str]:
        return problems(self.session.get(Draft, i).text, CHECKS)  # type: ignore[union-attr]

    def _like_an_approved(self, i: int) -> bool:
        """The near-duplicate guardrail: too like a text already approved (not a follow)."""
        d = self.session.get(Draft, i)
        assert d is not None
        if d.kind == "follow" or not d.text.strip():
            return False
        said = [
            (j, o.text, "")
            for j in self.ids
            if j != i and self.status[j] == "approved" and (o := self.session.get(Draft, j))
            and o.kind != "follow"
        ]  # fmt: skip
        other, score = closest(d.text, "", said)
        return other is not None and score >= CHECKS.duplicate_similarity

    @rule(n=st.integers(0, 2))
    def reject(self, n: int) -> None:
        i = self.ids[n]
        ok = self.status[i] in review.UNSENT  # an approval can be revoked
        self._attempt(
            i, ok, "rejected", lambda: review.reject(self.session, i, "carol", now=self.now)
        )

    @rule(hours=st.integers(1, 48))
    def advance(self, hours: int) -> None:
        self.now += timedelta(hours=hours)

    @rule()
    def expire(self) -> None:
        due = [i for i in self.ids if self.status[i] in review.OPEN and not self._live()]
        assert review.expire_due(self.session, now=self.now) == len(due)
        for i in due:
            self.status[i] = "expired"
            self.transitions[i] += 1

    @invariant()
    def approval_is_bound_to_the_current_text(self) -> None:
        for d in self.drafts:
            self.session.refresh(d)
            assert d.status == self.status[d.id]
            assert d.content_hash == content_hash(
                d.kind, d.platform, d.target_account, d.target_post, d.text
            )
            assert d.approved_hash == (d.content_hash if d.status == "approved" else None)

    @invariant()
    def one_audit_event_per_transition(self) -> None:
        counted = Counter(e.draft_id for e in events(self.session))
        assert counted == +self.transitions

    def teardown(self) -> None:
        self.session.close()
        self.engine.dispose()


ReviewMachine.TestCase.settings = settings(
    max_examples=25,
    stateful_step_count=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_review_state_machine = ReviewMachine.TestCase


def test_approval_accepts_the_hash_prefix_a_reviewer_was_shown(session: Session) -> None:
    d = make_draft(session)
    with pytest.raises(ReviewError, match="too short"):
        review.approve(session, d.id, "alice", expected_hash=d.content_hash[:4], now=T0)
    with pytest.raises(ReviewError, match="changed since you read it"):
        review.approve(session, d.id, "alice", expected_hash="0" * 8, now=T0)
    review.approve(session, d.id, "alice", expected_hash=d.content_hash[:8].upper(), now=T0)
    assert d.status == "approved" and d.approved_hash == d.content_hash
