"""The scheduler on a controllable clock: cron times, misfire grace, coalescing, restarts, UTC.

APScheduler 3 reads "now" from ``datetime.now`` in two modules (the scheduler's loop and the
executor's misfire check); a fake clock replaces both, and a scheduler class that never starts a
thread lets each test call the loop body (``_process_jobs``) at chosen instants. Everything else
is what ``build_scheduler`` makes: the stage jobs from the settings, in the SQLAlchemy job store
on the store's SQLite file, run by the real ``run_stage`` (the stages themselves record calls).
No sleeps; nothing depends on the machine's own clock or time zone.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from apscheduler.events import EVENT_JOB_EXECUTED, EVENT_JOB_MISSED, JobEvent
from apscheduler.executors.debug import DebugExecutor
from apscheduler.schedulers.base import BaseScheduler
from sqlalchemy import text
from sqlmodel import Session

from bot import drafts
from bot import scheduler as sched
from crawlers.config import Settings, load_settings
from crawlers.store import make_engine, migrate, open_store
from tests.bot.world import T0, bot_settings, build_world

SHANGHAI = ZoneInfo("Asia/Shanghai")
#: 2024-05-01 00:05 in Shanghai: the stages' first times are crawl 02:00, label 00:10, rank
#: 00:20, draft 00:30 (Shanghai), i.e. 18:00, 16:10, 16:20, 16:30 UTC on 30 April
START = datetime(2024, 4, 30, 16, 5, tzinfo=UTC)
FIRST = {
    "crawl": datetime(2024, 4, 30, 18, 0, tzinfo=UTC),
    "label": datetime(2024, 4, 30, 16, 10, tzinfo=UTC),
    "rank": datetime(2024, 4, 30, 16, 20, tzinfo=UTC),
    "draft": datetime(2024, 4, 30, 16, 30, tzinfo=UTC),
}
GRACE = 900
#: stages beyond these four (added later) get a time these tests never reach
NEVER = "0 0 1 1 *"


class Clock:
    """The one "now" of a test: APScheduler's, the lease's and the stages'."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    import apscheduler.executors.base as executor_base
    import apscheduler.schedulers.base as scheduler_base

    fake = Clock(START)

    class FakeDatetime(datetime):
        @classmethod
        def now(cls, tz: tzinfo | None = None) -> Any:
            return fake.now.astimezone(tz) if tz else fake.now.replace(tzinfo=None)

    monkeypatch.setattr(scheduler_base, "datetime", FakeDatetime)
    monkeypatch.setattr(executor_base, "datetime", FakeDatetime)
    return fake


@pytest.fixture
def host_in_new_york(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A host whose local zone is neither UTC nor the schedule's: nothing may depend on it."""
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


class ManualScheduler(BaseScheduler):
    """No thread: the test runs the loop body itself, synchronously."""

    def shutdown(self, wait: bool = True) -> None:
        super().shutdown(wait)

    def wakeup(self) -> None:
        pass


@pytest.fixture
def ran(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The stages run_stage called, in order (the real stages need a crawled store)."""
    calls: list[str] = []

    def stage(name: str):  # type: ignore[no-untyped-def]
        def run(session: Session, settings: Settings) -> int:
            calls.append(name)
            return 1

        return run

    monkeypatch.setattr(sched, "_stage_function", stage)
    monkeypatch.setattr(sched, "crawl", lambda path: stage("crawl")(None, None))
    monkeypatch.setattr(sched, "BackgroundScheduler", ManualScheduler)
    return calls


def _settings(tmp_path: Path, **schedule: object) -> Settings:
    values = {
        "timezone": "Asia/Shanghai",
        "crawl": "0 */2 * * *",
        "label": "10 */2 * * *",
        "rank": "20 */6 * * *",
        "draft": "30 */6 * * *",
        "misfire_grace_seconds": GRACE,
        **{stage: NEVER for stage in sched.STAGES if stage not in FIRST},
        **schedule,
    }
    lines = "\n".join(
        f"{k} = {v!r}" if isinstance(v, int) else f'{k} = "{v}"' for k, v in values.items()
    )
    path = tmp_path / "settings.toml"
    path.write_text(
        f'[store]\nurl = "sqlite:///{tmp_path / "t.db"}"\n[schedule]\n{lines}\n', encoding="utf-8"
    )
    return load_settings(path)


class Running:
    """A scheduler from ``build_scheduler``, started, with the events it reported."""

    def __init__(self, settings: Settings) -> None:
        self.engine = open_store(settings)
        self.scheduler = sched.build_scheduler(settings, None, engine=self.engine, blocking=False)
        self.scheduler.add_executor(DebugExecutor(), "default")  # runs jobs in this thread
        self.events: list[JobEvent] = []
        self.scheduler.add_listener(self.events.append, EVENT_JOB_EXECUTED | EVENT_JOB_MISSED)
        self.scheduler.start()

    def tick(self) -> None:
        """One pass of the scheduler's loop at the clock's "now"."""
        self.scheduler._process_jobs()

    def missed(self) -> list[str]:
        return [
            e.job_id.removeprefix("tingfeng.") for e in self.events if e.code == EVENT_JOB_MISSED
        ]

    def executed(self) -> list[tuple[str, datetime]]:
        return [
            (e.job_id.removeprefix("tingfeng."), e.scheduled_run_time.astimezone(UTC))  # type: ignore[attr-defined]
            for e in self.events
            if e.code == EVENT_JOB_EXECUTED
        ]

    def stored_next_run_times(self) -> dict[str, datetime]:
        with self.engine.connect() as conn:
            rows = conn.execute(text("SELECT id, next_run_time FROM apscheduler_jobs")).all()
        times = {i.removeprefix("tingfeng."): datetime.fromtimestamp(t, UTC) for i, t in rows}
        return {stage: t for stage, t in times.items() if stage in FIRST}

    def stop(self) -> None:
        self.scheduler.shutdown(wait=False)
        self.engine.dispose()


@pytest.fixture
def running() -> Iterator[list[Running]]:
    started: list[Running] = []
    yield started
    for r in started:
        if r.scheduler.running:
            r.scheduler.shutdown(wait=False)
        r.engine.dispose()


def _start(settings: Settings, running: list[Running]) -> Running:
    r = Running(settings)
    running.append(r)
    return r


def test_next_run_times_are_stored_as_utc_instants_whatever_the_host_zone(
    tmp_path: Path, clock: Clock, ran: list[str], running: list[Running], host_in_new_york: None
) -> None:
    r = _start(_settings(tmp_path), running)
    assert r.stored_next_run_times() == FIRST
    for stage, first in FIRST.items():
        job = r.scheduler.get_job(f"tingfeng.{stage}")
        assert job.next_run_time == first and job.next_run_time.tzinfo == SHANGHAI


def test_cron_times_follow_the_configured_zone_across_a_dst_change(
    tmp_path: Path, clock: Clock, ran: list[str], running: list[Running], host_in_new_york: None
) -> None:
    # Berlin switches to summer time on 2024-03-31: 09:00 local is 08:00 UTC, then 07:00 UTC
    settings = _settings(tmp_path, timezone="Europe/Berlin", draft="0 9 * * *")
    clock.now = datetime(2024, 3, 30, 0, 0, tzinfo=UTC)
    r = _start(settings, running)
    trigger = r.scheduler.get_job("tingfeng.draft").trigger
    first = trigger.get_next_fire_time(None, clock.now)
    second = trigger.get_next_fire_time(first, first + timedelta(seconds=1))
    assert (first, second) == (
        datetime(2024, 3, 30, 8, 0, tzinfo=UTC),
        datetime(2024, 3, 31, 7, 0, tzinfo=UTC),
    )
    assert r.stored_next_run_times()["draft"] == datetime(2024, 3, 30, 8, 0, tzinfo=UTC)


def test_a_stage_runs_once_at_its_time_and_not_before(
    tmp_path: Path, clock: Clock, ran: list[str], running: list[Running]
) -> None:
    r = _start(_settings(tmp_path), running)
    clock.now = FIRST["label"] - timedelta(seconds=1)
    r.tick()
    assert ran == []
    clock.now = FIRST["label"]
    r.tick()
    r.tick()  # the same instant again: already done
    assert ran == ["label"] and r.executed() == [("label", FIRST["label"])]
    assert r.stored_next_run_times()["label"] == FIRST["label"] + timedelta(hours=2)


@pytest.mark.parametrize(("late", "runs"), [(GRACE - 1, True), (GRACE + 1, False)])
def test_misfire_grace_runs_a_late_stage_only_within_the_grace(
    tmp_path: Path, clock: Clock, ran: list[str], running: list[Running], late: int, runs: bool
) -> None:
    r = _start(_settings(tmp_path), running)
    clock.now = FIRST["draft"] + timedelta(seconds=late)  # label and rank: later still, missed
    r.tick()
    assert ran == (["draft"] if runs else [])
    assert sorted(r.missed()) == (["label", "rank"] if runs else ["draft", "label", "rank"])
    r.tick()  # a missed time is gone for good: no second attempt
    assert ran == (["draft"] if runs else [])


def test_coalescing_runs_several_missed_times_once(
    tmp_path: Path, clock: Clock, ran: list[str], running: list[Running]
) -> None:
    # a grace longer than the gap, so without coalescing every missed time would run
    r = _start(_settings(tmp_path, misfire_grace_seconds=86_400), running)
    clock.now = FIRST["crawl"] + timedelta(hours=6, minutes=1)  # crawl missed 4 times, label 4
    r.tick()
    assert sorted(ran) == ["crawl", "draft", "label", "rank"]
    assert dict(r.executed())["crawl"] == FIRST["crawl"] + timedelta(hours=6)  # the latest one
    assert r.missed() == []


def test_a_restart_after_downtime_runs_a_stage_missed_within_the_grace(
    tmp_path: Path, clock: Clock, ran: list[str], running: list[Running]
) -> None:
    """The job store keeps the missed time across a restart; re-adding the jobs from the settings
    (same ids, ``replace_existing``) must not silently move it to the next cron time."""
    settings = _settings(tmp_path)
    first = _start(settings, running)
    first.stop()  # down from 00:05 to 00:40 Shanghai
    clock.now = FIRST["draft"] + timedelta(minutes=10)
    again = _start(settings, running)
    again.tick()
    assert ran == ["draft"]  # 10 min late: within the grace
    assert sorted(again.missed()) == ["label", "rank"]  # 30 and 20 min late: past it
    assert again.stored_next_run_times()["draft"] == FIRST["draft"] + timedelta(hours=6)


def test_a_restart_with_a_changed_cron_expression_uses_the_new_one(
    tmp_path: Path, clock: Clock, ran: list[str], running: list[Running]
) -> None:
    _start(_settings(tmp_path), running).stop()
    clock.now = FIRST["draft"] + timedelta(minutes=10)
    again = _start(_settings(tmp_path, draft="45 */6 * * *"), running)
    assert again.stored_next_run_times()["draft"] == FIRST["draft"] + timedelta(minutes=15)
    again.tick()
    assert "draft" not in ran


def test_the_lease_is_stored_in_utc_whatever_zone_the_clock_reports(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'lease.db'}")
    migrate(engine)
    try:
        shanghai_now = T0.astimezone(SHANGHAI)  # 16:00 in Shanghai, 08:00 UTC
        assert sched.acquire_lease(engine, "A", 120, now=shanghai_now)
        with engine.connect() as conn:
            (stored,) = conn.execute(text("SELECT expires_at FROM schedulerlock")).one()
        assert str(stored).startswith("2024-05-01 08:02:00")  # UTC wall time, no offset
        lease = sched.current_lease(engine)
        assert lease is not None and sched.as_utc(lease.expires_at) == T0 + timedelta(seconds=120)
        # another process whose clock reports UTC: refused until the same instant, then takes over
        assert not sched.acquire_lease(engine, "B", 120, now=T0 + timedelta(seconds=119))
        assert sched.holds_lease(
            engine, "A", now=(T0 + timedelta(seconds=119)).astimezone(SHANGHAI)
        )
        assert sched.acquire_lease(engine, "B", 120, now=T0 + timedelta(seconds=121))
        assert not sched.holds_lease(engine, "A", now=T0 + timedelta(seconds=121))
    finally:
        engine.dispose()


def test_drafts_and_their_audit_events_are_stamped_in_utc(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'drafts.db'}")
    migrate(engine)
    try:
        with Session(engine) as session:
            build_world(session)
            made = drafts.run(session, bot_settings(), now=T0.astimezone(SHANGHAI))
        assert made > 0
        with engine.connect() as conn:
            stamps = conn.execute(
                text(
                    "SELECT d.created_at, d.updated_at, a.at FROM draft d JOIN auditevent a ON a.draft_id = d.id"
                )
            ).all()
        assert len(stamps) == made
        assert {str(v)[:19] for row in stamps for v in row} == {"2024-05-01 08:00:00"}
    finally:
        engine.dispose()
