"""Property: whatever reviewers do, every platform call maps to an approved draft whose approved
hash equals what was sent, and no draft is sent twice.

A hypothesis state machine drafts, edits, approves, rejects, expires and dispatches in random
order against the real sandbox platform over HTTP (one server for all examples; each example's
drafts target accounts of their own, so their hashes are new to the server). Dispatch also
hands drafts off to a person (confirmed or skipped), and loses answers (the action done or
not, the answer gone): those drafts go to reconcile, where a person who looked (truthfully)
or ``reconcile.check`` settles them; a draft found not sent is sent again with the same key.
Each example draws ``[bot] approvals_required`` from {1, 2}: whatever was sent had that many
distinct approvers of the hash sent."""

from __future__ import annotations

import contextlib
import itertools
import threading
from datetime import timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from sqlmodel import Session, col, select

from bot import dispatch, handoff, reconcile, review
from bot.dispatch import HANDOFF, SandboxAdapter, UnknownOutcome
from crawlers.config import BotSettings, default_settings
from crawlers.errors import ReviewError
from crawlers.models import AuditEvent, Draft, content_hash
from crawlers.sandbox.server import make_server
from crawlers.sandbox.world import build_world
from crawlers.store import make_engine, migrate
from tests.bot.test_review import make_draft
from tests.bot.world import T0

SERVER = make_server("127.0.0.1", 0, build_world(5, 20))
threading.Thread(target=SERVER.serve_forever, daemon=True).start()
ADAPTERS = {"weibo": SandboxAdapter(SERVER.base_url, 5.0)}


class LosingAdapter(SandboxAdapter):
    """The real sandbox, but the answer is lost: after the platform acted (``after=True``) or
    before the request reached it."""

    def __init__(self, after: bool) -> None:
        super().__init__(SERVER.base_url, 5.0)
        self.after = after

    def send(self, draft: Draft, idempotency_key: str) -> str:
        if self.after:
            super().send(draft, idempotency_key)
        raise UnknownOutcome("no answer (lost on purpose)")


LOSING = {after: {"weibo": LosingAdapter(after)} for after in (False, True)}
SETTINGS = default_settings(dispatch={"target_cooldown_hours": 0, "comment_per_hour": 60,
                                      "follow_per_hour": 60})  # fmt: skip
#: review settings per ``approvals_required``: 1 is the default (anyone, one approval)
REVIEW = {
    1: BotSettings(),
    2: BotSettings(reviewers=["alice", "bob", "carol"], approvals_required=2),
}
EXAMPLE = itertools.count()
ENGINE = make_engine("sqlite://")
migrate(ENGINE)
TEXTS = [
    "谢谢分享，冷萃确实更顺口",
    "手冲可以试试中浅烘",
    "周末一起去新店看看？",
    "好久不见，最近还好吗",
]


class DispatchMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.session = Session(ENGINE)
        tag = next(EXAMPLE)
        # one database for all examples (creating one costs more than the example): each
        # example lives 30 days after the previous one, so caps and windows never overlap
        self.now = T0 + timedelta(days=30 * tag)
        self.ids = []
        for i, kind in enumerate(["reply", "repost", "follow"]):
            d = make_draft(self.session, kind, f"x{tag}-{i}", text=TEXTS[i])
            d.created_at = d.updated_at = self.now
            d.expires_at = self.now + timedelta(hours=72)
            self.session.add(d)
            self.ids.append(int(d.id or 0))
        self.session.commit()
        self.calls_before = SERVER.hits["/api/actions"]
        self.keys: set[str] = set()
        self.by_hand: set[int] = set()  # drafts a person posted (hand-off confirmed)
        self.need = 1
        self.bot = REVIEW[1]

    @initialize(need=st.sampled_from(sorted(REVIEW)))
    def approvals_required(self, need: int) -> None:
        self.need, self.bot = need, REVIEW[need]

    def _try(self, call) -> None:  # type: ignore[no-untyped-def]
        # refusals are bot.review's business (tests/bot/test_review.py)
        with contextlib.suppress(ReviewError):
            call()

    @rule(n=st.integers(0, 2), who=st.sampled_from(["alice", "carol", "bob"]))
    def approve(self, n: int, who: str) -> None:
        self._try(lambda: review.approve(self.session, self.ids[n], who, now=self.now,
                                         settings=self.bot))  # fmt: skip

    @rule(n=st.integers(0, 1), text=st.sampled_from(TEXTS) | st.text(min_size=1, max_size=8))
    def edit(self, n: int, text: str) -> None:
        self._try(lambda: review.edit(self.session, self.ids[n], text, "bob", now=self.now,
                                      settings=self.bot))  # fmt: skip

    @rule(n=st.integers(0, 2))
    def reject(self, n: int) -> None:
        self._try(lambda: review.reject(self.session, self.ids[n], "carol", now=self.now,
                                        settings=self.bot))  # fmt: skip

    @rule(hours=st.integers(1, 80))
    def advance(self, hours: int) -> None:
        self.now += timedelta(hours=hours)
        review.expire_due(self.session, now=self.now)

    @rule()
    def send(self) -> None:
        dispatch.run(self.session, SETTINGS, ADAPTERS, now=self.now)

    @rule()
    def hand_off(self) -> None:
        dispatch.run(self.session, SETTINGS, {"weibo": HANDOFF}, now=self.now)

    @rule(n=st.integers(0, 2), posted=st.booleans())
    def settle_hand_off(self, n: int, posted: bool) -> None:
        if posted:
            with contextlib.suppress(ReviewError):
                handoff.confirm(self.session, self.ids[n], "dan", "by-hand", now=self.now)
                self.by_hand.add(self.ids[n])
        else:
            self._try(lambda: handoff.skip(self.session, self.ids[n], "dan", "gone", now=self.now))

    @rule(after=st.booleans())
    def send_and_lose_the_answer(self, after: bool) -> None:
        dispatch.run(self.session, SETTINGS, LOSING[after], now=self.now)

    @rule(n=st.integers(0, 2))
    def resolve(self, n: int) -> None:
        # a person who looked on the platform: sent if it is there
        d = self.session.get(Draft, self.ids[n])
        assert d is not None
        done = [a for a in self._actions() if a["target_account"] == d.target_account]
        self._try(lambda: reconcile.resolve(self.session, self.ids[n], "erin", bool(done),
                                            done[0]["id"] if done else None, now=self.now))  # fmt: skip

    @rule()
    def check(self) -> None:
        reconcile.check(self.session, SETTINGS, ADAPTERS, now=self.now)

    def _approvers(self, d: Draft) -> set[str]:
        """Who approved ``d``'s approved hash since its last edit, read from the audit log (a
        reviewer's approval or step moves from an open status; dispatch and reconcile's own
        ``approved`` events do not)."""
        stmt = select(AuditEvent).where(AuditEvent.draft_id == d.id).order_by(col(AuditEvent.id))
        who: set[str] = set()
        for e in self.session.exec(stmt):
            if e.action == "edited":
                who = set()
            elif (
                e.action in ("approval_step", "approved")
                and e.detail.get("from") in review.OPEN
                and e.after_hash == d.approved_hash
            ):
                who.add(e.actor)
        return who

    def _actions(self) -> list[dict]:  # type: ignore[type-arg]
        with SERVER._lock:
            return list(SERVER.actions)

    @invariant()
    def every_call_is_an_approved_draft_sent_once(self) -> None:
        drafts = list(self.session.exec(select(Draft).where(col(Draft.id).in_(self.ids))))
        out = [d for d in drafts if d.status in ("sending", "sent", "reconcile", "handoff")]
        for d in out:
            assert (
                d.approved_hash
                == d.content_hash
                == content_hash(d.kind, d.platform, d.target_account, d.target_post, d.text)
            )
            assert len(self._approvers(d)) >= self.need
        actions = self._actions()
        for d in drafts:
            # each draft's own target account: the platform's actions toward it are its own
            mine = [a for a in actions if a["target_account"] == d.target_account]
            assert len(mine) <= 1  # at most once per draft, whatever was re-sent
            if mine:
                (action,) = mine
                # what was sent is exactly what was approved, and the draft says so
                assert action["key"] == d.approved_hash == content_hash(
                    action["kind"], "weibo", action["target_account"], action["target_post"],
                    action["text"],
                )  # fmt: skip
                assert d.status in ("sent", "reconcile")
                assert len(self._approvers(d)) >= self.need  # as many approvers as required
                if d.status == "sent":
                    assert d.platform_ref == action["id"]
            elif d.status == "sent":
                assert d.id in self.by_hand  # sent without a platform call: posted by a person
            assert d.status != "handoff" or not mine  # a hand-off never reaches the platform

    def teardown(self) -> None:
        # what this example left approved must not be sent by a later one (shared database)
        for d in self.session.exec(select(Draft).where(col(Draft.id).in_(self.ids))):
            if d.status in ("pending", "edited", "approved", "handoff", "reconcile"):
                d.status = "rejected"
                self.session.add(d)
        self.session.commit()
        self.session.close()


DispatchMachine.TestCase.settings = settings(
    max_examples=1000,
    stateful_step_count=10,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_dispatch_state_machine = DispatchMachine.TestCase
