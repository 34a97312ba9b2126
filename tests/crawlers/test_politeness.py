"""crawlers.politeness: pauses, alerts, budgets and Retry-After, on an explicit clock."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from crawlers import politeness as pol
from crawlers.models import Alert, BanEvent, RequestBudget
from crawlers.store import make_engine, migrate

T0 = datetime(2026, 3, 1, 8, 30, tzinfo=UTC)


def test_take_budget_counts_to_the_limit_then_refuses(session: Session) -> None:
    taken = [pol.take_budget(session, "ip:weibo.test", 3, T0) for _ in range(5)]
    assert taken == [True, True, True, False, False]
    assert pol.budget_used(session, "ip:weibo.test", T0) == 3  # refusals are not counted


def test_take_budget_starts_again_each_hour(session: Session) -> None:
    assert pol.take_budget(session, "k", 1, T0)
    assert not pol.take_budget(session, "k", 1, T0 + timedelta(minutes=29))
    assert pol.take_budget(session, "k", 1, T0 + timedelta(minutes=30))  # 09:00, a new window
    assert pol.hour_window(T0) == datetime(2026, 3, 1, 8, tzinfo=UTC)


def test_take_budget_zero_means_no_cap_and_writes_nothing(session: Session) -> None:
    assert all(pol.take_budget(session, "k", 0, T0) for _ in range(100))
    assert session.exec(select(RequestBudget)).all() == []


def _hammer(engine: Engine, limit: int, tries: int, granted: list[bool]) -> None:
    with Session(engine) as s:
        for _ in range(tries):
            granted.append(pol.take_budget(s, "ip:shared", limit, T0))


def _race(url: str) -> int:
    # one engine per thread: separate connections, as separate crawler processes would have
    engines = [make_engine(url) for _ in range(4)]
    migrate(engines[0])
    granted: list[bool] = []
    threads = [threading.Thread(target=_hammer, args=(e, 50, 25, granted)) for e in engines]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for e in engines:
        e.dispose()
    return sum(granted)


def test_take_budget_never_overshoots_under_concurrency(tmp_path: Path) -> None:
    assert _race(f"sqlite:///{tmp_path / 'b.db'}") == 50  # 100 tries, exactly 50 granted


@pytest.mark.postgres
def test_take_budget_never_overshoots_on_postgres(pg_url: str) -> None:
    assert _race(pg_url) == 50


def test_pause_source_records_one_event_and_one_alert(session: Session, caplog) -> None:
    caplog.set_level(logging.ERROR, logger="crawlers.politeness")
    url = "http://user:hunter2@weibo.test/api/container/getIndex?containerid=1"
    event = pol.pause_source(session, "weibo.test", "weibo", "http_418", 418, url, 60, T0)
    assert pol.as_utc(event.paused_until) == T0 + timedelta(hours=1)
    assert "hunter2" not in event.url and "hunter2" not in caplog.text
    assert "weibo.test paused until" in caplog.text and caplog.records[0].levelname == "ERROR"
    # the same ban seen again (another process, an in-flight response): one alert, counted
    pol.pause_source(session, "weibo.test", "weibo", "http_418", 418, url, 60, T0)
    alerts = pol.list_alerts(session)
    assert len(alerts) == 1 and alerts[0].kind == "ban" and alerts[0].detail["count"] == 2
    assert len(session.exec(select(BanEvent)).all()) == 2


def test_paused_until_holds_then_lapses(session: Session) -> None:
    assert pol.paused_until(session, "weibo.test", T0) is None
    pol.pause_source(session, "weibo.test", "weibo", "captcha_json", 200, "http://x", 30, T0)
    until = T0 + timedelta(minutes=30)
    assert pol.paused_until(session, "weibo.test", T0 + timedelta(minutes=29)) == until
    assert pol.paused_until(session, "weibo.test", until) is None
    assert pol.paused_until(session, "other.test", T0) is None  # per source


def test_resume_source_ends_the_pause(session: Session) -> None:
    pol.pause_source(session, "weibo.test", "weibo", "http_432", 432, "http://x", 360, T0)
    later = T0 + timedelta(minutes=5)
    assert pol.resume_source(session, "weibo.test", later) == 1
    assert pol.paused_until(session, "weibo.test", later) is None
    assert pol.latest_pause(session, "weibo.test", later) is None


def test_acknowledged_alerts_leave_the_list_and_a_new_ban_alerts_again(session: Session) -> None:
    pol.pause_source(session, "weibo.test", "weibo", "http_403", 403, "http://x", 60, T0)
    (alert,) = pol.list_alerts(session)
    assert alert.id is not None
    acked = pol.acknowledge_alert(session, alert.id, T0 + timedelta(minutes=1))
    assert acked is not None and acked.acknowledged_at is not None
    assert pol.as_utc(acked.acknowledged_at) == T0 + timedelta(minutes=1)
    assert pol.acknowledge_alert(session, alert.id, T0 + timedelta(hours=9)) is acked  # kept
    assert pol.acknowledge_alert(session, 999, T0) is None
    assert pol.list_alerts(session) == []
    assert len(pol.list_alerts(session, include_acknowledged=True)) == 1
    pol.pause_source(session, "weibo.test", "weibo", "http_403", 403, "http://x", 60, T0)
    assert len(pol.list_alerts(session)) == 1  # a fresh alert after the acknowledgement


def test_alert_kinds_follow_the_signal(session: Session) -> None:
    pol.pause_source(session, "a.test", "weibo", "http_429", 429, "http://a.test/", 60, T0)
    pol.raise_alert(session, "budget", "b.test", "spent", {}, "budget:ip:b.test:1", T0)
    session.commit()
    kinds = {a.source: a.kind for a in session.exec(select(Alert))}
    assert kinds == {"a.test": "rate_limited", "b.test": "budget"}


def test_list_alerts_newest_first_and_limited(session: Session) -> None:
    for n in range(5):
        pol.raise_alert(session, "ban", f"s{n}", "m", {}, f"k{n}", T0 + timedelta(minutes=n))
    session.commit()
    assert [a.source for a in pol.list_alerts(session, limit=3)] == ["s4", "s3", "s2"]


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120.0),
        (b"  7 ", 7.0),
        ("Sun, 01 Mar 2026 08:31:00 GMT", 60.0),  # an HTTP date, 60 s after T0
        ("Sun, 01 Mar 2026 08:00:00 GMT", 0.0),  # a date in the past: go now
        ("-5", 0.0),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_retry_after(header: str | bytes | None, seconds: float | None) -> None:
    assert pol.parse_retry_after(header, T0) == seconds


def test_backoff_keeps_the_latest_hold() -> None:
    backoff = pol.Backoff()
    assert backoff.wait_seconds("s", T0) == 0
    backoff.hold("s", T0 + timedelta(seconds=10))
    backoff.hold("s", T0 + timedelta(seconds=5))  # an earlier hold does not shorten it
    assert backoff.wait_seconds("s", T0 + timedelta(seconds=4)) == 6
    assert backoff.wait_seconds("other", T0) == 0


def test_safe_url_and_fingerprint_hide_secrets() -> None:
    assert pol.safe_url("http://u:p@proxy.test:8080/x?q=1") == "http://proxy.test:8080/x?q=1"
    assert pol.safe_url("http://weibo.test/x") == "http://weibo.test/x"
    fp = pol.fingerprint("SUB=secret")
    assert len(fp) == 12 and "secret" not in fp and fp == pol.fingerprint("SUB=secret")
