"""Unknown outcomes: a person resolves them, or ``reconcile check`` asks the platforms that can
tell (Mastodon: the same Idempotency-Key within the hour, else our statuses; the sandbox: the
same key). Nothing is ever sent twice, and hand-offs are never re-sent."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlmodel import Session

from bot import dispatch, reconcile
from bot.adapters.mastodon import MastodonAdapter
from bot.dispatch import HANDOFF, SandboxAdapter
from crawlers.config import default_settings
from crawlers.errors import ReviewError
from crawlers.models import Draft, utcnow
from crawlers.sandbox.server import make_server
from crawlers.sandbox.world import build_world
from crawlers.store import make_engine, migrate
from tests.bot.test_adapters_mastodon import TOKEN, approved
from tests.bot.world import T0
from tests.mastodon_server import MastodonReplay

SETTINGS = default_settings(dispatch={"timeout_seconds": 0.5})


@pytest.fixture
def server() -> Iterator[MastodonReplay]:
    with MastodonReplay() as s:
        s.hang_s = 3.0
        yield s


def lost(session: Session, server: MastodonReplay, fault: str, *drafts: Draft) -> dict:  # type: ignore[type-arg]
    """Dispatch ``drafts`` with ``fault`` on: each ends in reconcile."""
    routes = {"mastodon": MastodonAdapter(server.base_url, TOKEN, 0.5)}
    server.fault = fault
    now = utcnow()
    assert dispatch.run(session, SETTINGS, routes, now=now).reconcile == len(drafts)
    server.fault = ""
    return routes


def test_a_person_resolves_and_not_sent_reuses_the_same_key(
    session: Session, server: MastodonReplay
) -> None:
    made = approved(session, "reply", "201", "9001", "谢谢分享，冷萃确实更顺口")
    lost(session, server, "drop", made)  # it was created, the answer lost
    other = approved(session, "reply", "202", "9002", "手冲可以试试中浅烘")
    routes = lost(session, server, "error", other)  # nothing was created
    assert [d.id for d in reconcile.pending(session)] == [made.id, other.id]
    sent = reconcile.resolve(session, int(made.id or 0), "carol", True, server.statuses[0]["id"])
    assert sent.status == "sent" and sent.platform_ref == server.statuses[0]["id"]
    again = reconcile.resolve(session, int(other.id or 0), "carol", False, why="not on our profile")
    assert again.status == "approved" and again.approved_hash == again.content_hash
    out = dispatch.run(session, SETTINGS, routes, now=utcnow())
    assert out.sent == 1 and len(server.statuses) == 2
    keys = [h.idempotency_key for h in server.posts]
    assert keys == [made.approved_hash, other.approved_hash, other.approved_hash]
    with pytest.raises(ReviewError, match="only drafts with an unknown outcome"):
        reconcile.resolve(session, int(made.id or 0), "carol", False)


def test_check_resends_within_the_hour_with_the_same_key(
    session: Session, server: MastodonReplay
) -> None:
    created = approved(session, "reply", "201", "9001", "谢谢分享，冷萃确实更顺口")
    lost(session, server, "hang", created)
    never = approved(session, "reply", "202", "9002", "手冲可以试试中浅烘")
    lost(session, server, "error", never)
    follow = approved(session, "follow", "203")
    routes = lost(session, server, "drop", follow)
    assert len(server.statuses) == 1 and server.follows == ["203"]
    # within the hour: the same key again; Mastodon answers with the status it made
    out = reconcile.check(session, SETTINGS, routes, now=utcnow() + timedelta(minutes=10))
    assert (out.sent, out.unknown) == (3, 0), out
    for d in (created, never, follow):
        session.refresh(d)
        assert d.status == "sent"
    assert created.platform_ref == server.statuses[0]["id"]
    assert never.platform_ref == server.statuses[1]["id"]  # it had not happened: now it has
    assert follow.platform_ref == "follow:203"
    assert len(server.statuses) == 2


def test_check_after_the_hour_looks_among_our_statuses(
    session: Session, server: MastodonReplay
) -> None:
    created = approved(session, "reply", "201", "9001", "谢谢分享\n\n冷萃确实更顺口")
    lost(session, server, "drop", created)
    never = approved(session, "reply", "202", "9002", "手冲可以试试中浅烘")
    routes = lost(session, server, "error", never)
    posts = len(server.posts)
    out = reconcile.check(session, SETTINGS, routes, now=utcnow() + timedelta(hours=2))
    assert (out.sent, out.not_sent) == (1, 1), out
    session.refresh(created)
    session.refresh(never)
    assert created.status == "sent" and created.platform_ref == server.statuses[0]["id"]
    assert never.status == "approved"  # not on our profile: sent again by the next dispatch
    assert len(server.posts) == posts  # looked, sent nothing


def test_check_never_resends_a_hand_off_and_asks_the_sandbox_by_key(session: Session) -> None:
    from bot import review
    from tests.bot.test_review import make_draft

    sandbox = make_server("127.0.0.1", 0, build_world(3, 40))
    threading.Thread(target=sandbox.serve_forever, daemon=True).start()
    try:
        d = make_draft(session, kind="reply", account="u1", text="谢谢分享，冷萃确实更顺口")
        review.approve(session, int(d.id or 0), "alice", now=T0)
        sandbox.action_fault = "lost"
        box = {"weibo": SandboxAdapter(sandbox.base_url, 0.5)}
        assert dispatch.run(session, SETTINGS, box, now=T0).reconcile == 1
        sandbox.action_fault = ""
        # weibo by hand-off: the platform cannot dedupe, a person decides
        out = reconcile.check(session, SETTINGS, {"weibo": HANDOFF}, now=T0)
        assert out.manual == 1 and sandbox.hits["/api/actions"] == 1
        out = reconcile.check(session, SETTINGS, box, now=T0)
        session.refresh(d)
        assert out.sent == 1 and d.status == "sent" and d.platform_ref == "a1"
        assert len(sandbox.actions) == 1  # the same key: the first action, nothing new
    finally:
        sandbox.shutdown()
        sandbox.server_close()


def test_reconcile_commands(
    tmp_path: Path, server: MastodonReplay, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.cli import cli
    from tests.bot.test_cli import _settings_file

    path = _settings_file(tmp_path)
    text = path.read_text(encoding="utf-8")
    text = text.replace(
        'base_url = "https://mastodon.social"', f'base_url = "{server.base_url}"', 1
    )
    path.write_text(text, encoding="utf-8")
    monkeypatch.setenv("TINGFENG_MASTODON_TOKEN", TOKEN)
    engine = make_engine(f"sqlite:///{tmp_path / 'cli.db'}")
    migrate(engine)
    with Session(engine) as s:
        a = approved(s, "reply", "201", "9001", "谢谢分享，冷萃确实更顺口")
        b = approved(s, "reply", "202", "9002", "手冲可以试试中浅烘")
        c = approved(s, "reply", "203", "9003", "周末一起去新店看看？")
        lost(s, server, "drop", a, b, c)
        ids = [a.id, b.id, c.id]
    engine.dispose()
    run = CliRunner().invoke
    out = run(cli, ["--settings", str(path), "reconcile", "list"])
    assert out.exit_code == 0 and f"#{ids[0]} " in out.output and "hash: " in out.output, out.output
    out = run(
        cli, ["--settings", str(path), "reconcile", "sent", str(ids[0]), "--ref", "1", "--as", "e"]
    )
    assert out.exit_code == 0, out.output
    out = run(cli, ["--settings", str(path), "reconcile", "not-sent", str(ids[1])])
    assert out.exit_code == 0 and "same key" in out.output, out.output
    out = run(cli, ["--settings", str(path), "reconcile", "check"])
    assert out.exit_code == 0 and out.output.startswith("sent 1,"), out.output
    out = run(cli, ["--settings", str(path), "reconcile", "list"])
    assert "nothing to reconcile" in out.output
    assert len(server.statuses) == 3  # drop created all three; nothing was made twice
