"""Property: whatever reviewers do, every platform call maps to an approved draft whose approved
hash equals what was sent, and no draft is sent twice.

A hypothesis state machine drafts, edits, approves, rejects, expires and dispatches in random
order against the real sandbox platform over HTTP (one server for all examples; each example's
drafts target accounts of their own, so their hashes are new to the server)."""

from __future__ import annotations

import contextlib
import itertools
import threading
from datetime import timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from sqlmodel import Session, col, select

from bot import dispatch, review
from bot.dispatch import SandboxAdapter
from crawlers.config import default_settings
from crawlers.errors import ReviewError
from crawlers.models import Draft, content_hash
from crawlers.sandbox.server import make_server
from crawlers.sandbox.world import build_world
from crawlers.store import make_engine, migrate
from tests.bot.test_review import make_draft
from tests.bot.world import T0

SERVER = make_server("127.0.0.1", 0, build_world(5, 20))
threading.Thread(target=SERVER.serve_forever, daemon=True).start()
ADAPTERS = {"weibo": SandboxAdapter(SERVER.base_url, 5.0)}
SETTINGS = default_settings(dispatch={"target_cooldown_hours": 0, "comment_per_hour": 60,
                                      "follow_per_hour": 60})  # fmt: skip
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

    def _try(self, call) -> None:  # type: ignore[no-untyped-def]
        # refusals are bot.review's business (tests/bot/test_review.py)
        with contextlib.suppress(ReviewError):
            call()

    @rule(n=st.integers(0, 2))
    def approve(self, n: int) -> None:
        self._try(lambda: review.approve(self.session, self.ids[n], "alice", now=self.now))

    @rule(n=st.integers(0, 1), text=st.sampled_from(TEXTS) | st.text(min_size=1, max_size=8))
    def edit(self, n: int, text: str) -> None:
        self._try(lambda: review.edit(self.session, self.ids[n], text, "bob", now=self.now))

    @rule(n=st.integers(0, 2))
    def reject(self, n: int) -> None:
        self._try(lambda: review.reject(self.session, self.ids[n], "carol", now=self.now))

    @rule(hours=st.integers(1, 80))
    def advance(self, hours: int) -> None:
        self.now += timedelta(hours=hours)
        review.expire_due(self.session, now=self.now)

    @rule()
    def send(self) -> None:
        dispatch.run(self.session, SETTINGS, ADAPTERS, now=self.now)

    @invariant()
    def every_call_is_an_approved_draft_sent_once(self) -> None:
        drafts = list(self.session.exec(select(Draft).where(col(Draft.id).in_(self.ids))))
        sent = [d for d in drafts if d.status in ("sending", "sent", "reconcile")]
        for d in sent:
            assert (
                d.approved_hash
                == d.content_hash
                == content_hash(d.kind, d.platform, d.target_account, d.target_post, d.text)
            )
        # exactly one HTTP call per sent draft, none for anything else
        assert SERVER.hits["/api/actions"] - self.calls_before == len(sent)
        keys = {d.approved_hash for d in sent}
        with SERVER._lock:
            mine = [a for a in SERVER.actions if a["target_account"] in
                    {d.target_account for d in drafts}]  # fmt: skip
        assert len(mine) == len(sent)
        for action in mine:
            assert action["key"] in keys
            assert action["key"] == content_hash(
                action["kind"], "weibo", action["target_account"], action["target_post"],
                action["text"],
            )  # what was sent is exactly what was approved  # fmt: skip

    def teardown(self) -> None:
        # what this example left approved must not be sent by a later one (shared database)
        for d in self.session.exec(select(Draft).where(col(Draft.id).in_(self.ids))):
            if d.status in ("pending", "edited", "approved"):
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
