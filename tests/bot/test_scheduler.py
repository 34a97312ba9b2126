"""The scheduler: cron jobs in the job store, no duplicates on restart, the lease. No sleeps."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import text
from sqlalchemy.engine import Engine

from bot import scheduler as sched
from crawlers.config import Settings, load_settings
from crawlers.errors import SchedulerError
from crawlers.store import open_store
from tests.bot.world import T0

SHANGHAI = ZoneInfo("Asia/Shanghai")
TTL = 120


@pytest.fixture
def settings_file(tmp_path: Path) -> Settings:
    """Settings from a file (jobs reload them from their path), store in a temporary SQLite file."""
    path = tmp_path / "settings.toml"
    path.write_text(
        f'[store]\nurl = "sqlite:///{tmp_path / "t.db"}"\n'
        '[schedule]\ntimezone = "Asia/Shanghai"\ncrawl = "0 */2 * * *"\nlabel = "10 */2 * * *"\n'
        'rank = "20 */6 * * *"\ndraft = "30 */6 * * *"\nlock_ttl_seconds = 120\n'
        '[campaigns.cafe]\nbrand = "拾光咖啡"\ninterests = ["coffee"]\n',
        encoding="utf-8",
    )
    return load_settings(path)


@pytest.fixture
def store(settings_file: Settings) -> Iterator[Engine]:
    engine = open_store(settings_file)
    yield engine
    engine.dispose()


@pytest.mark.parametrize(
    ("stage", "first_fire"),
    [
        ("crawl", datetime(2024, 5, 1, 2, 0, tzinfo=SHANGHAI)),
        ("label", datetime(2024, 5, 1, 0, 10, tzinfo=SHANGHAI)),
        ("rank", datetime(2024, 5, 1, 0, 20, tzinfo=SHANGHAI)),
        ("draft", datetime(2024, 5, 1, 0, 30, tzinfo=SHANGHAI)),
    ],
)
def test_jobs_have_the_configured_cron_triggers(
    settings_file: Settings, store: Engine, stage: str, first_fire: datetime
) -> None:
    scheduler = sched.build_scheduler(settings_file, "me", engine=store, blocking=False)
    job = scheduler.get_job(f"tingfeng.{stage}")
    assert isinstance(job.trigger, CronTrigger) and str(job.trigger.timezone) == "Asia/Shanghai"
    frozen = datetime(2024, 5, 1, 0, 5, tzinfo=SHANGHAI)
    assert job.trigger.get_next_fire_time(None, frozen) == first_fire
    assert (job.coalesce, job.max_instances, job.misfire_grace_time) == (
        True,
        1,
        settings_file.schedule.misfire_grace_seconds,
    )
    assert job.func is sched.run_stage
    assert job.args == (stage, str(settings_file.path)) and job.kwargs == {"holder": "me"}


def _stored_job_ids(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return [row[0] for row in conn.execute(text("SELECT id FROM apscheduler_jobs ORDER BY id"))]


def test_restarting_never_duplicates_jobs(settings_file: Settings, store: Engine) -> None:
    for holder in ("first", "second"):
        scheduler = sched.build_scheduler(settings_file, holder, engine=store, blocking=False)
        scheduler.start(paused=True)  # writes the jobs to the store, runs none
        scheduler.shutdown(wait=False)
    assert _stored_job_ids(store) == [f"tingfeng.{s}" for s in sorted(sched.STAGES)]
    again = sched.build_scheduler(settings_file, "third", engine=store, blocking=False)
    again.start(paused=True)
    jobs = again.get_jobs()
    again.shutdown(wait=False)
    assert sorted(j.id for j in jobs) == sorted(f"tingfeng.{s}" for s in sched.STAGES)
    assert {j.kwargs["holder"] for j in jobs} == {"third"}


def test_lease_refused_while_valid_and_taken_over_after_expiry(store: Engine) -> None:
    assert sched.acquire_lease(store, "A", TTL, now=T0)
    assert not sched.acquire_lease(store, "B", TTL, now=T0 + timedelta(seconds=10))
    assert sched.acquire_lease(store, "A", TTL, now=T0 + timedelta(seconds=60))  # renewal
    assert not sched.acquire_lease(store, "B", TTL, now=T0 + timedelta(seconds=179))
    assert sched.holds_lease(store, "A", now=T0 + timedelta(seconds=179))
    # A stopped renewing: B takes over once A's lease has run out
    assert sched.acquire_lease(store, "B", TTL, now=T0 + timedelta(seconds=181))
    assert not sched.holds_lease(store, "A", now=T0 + timedelta(seconds=182))
    assert not sched.acquire_lease(store, "A", TTL, now=T0 + timedelta(seconds=182))
    assert sched.current_lease(store).holder == "B"  # type: ignore[union-attr]
    sched.release_lease(store, "A")  # not A's to release
    assert sched.current_lease(store).holder == "B"  # type: ignore[union-attr]
    sched.release_lease(store, "B")
    assert sched.current_lease(store) is None


class FakeClock:
    def __init__(self) -> None:
        self.now = T0
        self.slept: list[float] = []

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += timedelta(seconds=seconds)


def test_standby_waits_then_takes_over(store: Engine) -> None:
    assert sched.acquire_lease(store, "A", TTL, now=T0)
    clock = FakeClock()
    with pytest.raises(SchedulerError, match="another scheduler holds the lock: A"):
        sched.wait_for_lease(store, "B", TTL, wait=False, sleep=clock.sleep, clock=clock)
    sched.wait_for_lease(store, "B", TTL, wait=True, sleep=clock.sleep, clock=clock)
    assert clock.slept == [60.0, 60.0, 60.0]  # took over at T0+180 s, once A's lease ran out
    assert sched.holds_lease(store, "B", now=clock.now)


@pytest.fixture
def fake_stages(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Stages that record their order; draft and dispatch are real (empty store -> 0)."""
    calls: list[str] = []

    def fake(stage: str):  # type: ignore[no-untyped-def]
        def run(session, settings) -> int:  # type: ignore[no-untyped-def]
            calls.append(stage)
            return {"label": 3, "rank": 2}[stage]

        return run

    real = sched._stage_function
    monkeypatch.setattr(
        sched, "_stage_function", lambda s: real(s) if s in ("draft", "dispatch", "alerts", "report") else fake(s)
    )
    monkeypatch.setattr(sched, "crawl", lambda path: calls.append("crawl") or 0)
    return calls


def test_once_runs_every_stage_in_order_and_releases_the_lock(
    settings_file: Settings, store: Engine, fake_stages: list[str]
) -> None:
    assert sched.run_scheduler(settings_file, once=True) == {
        "crawl": 0,
        "label": 3,
        "rank": 2,
        "draft": 0,
        "dispatch": 0,
        "alerts": 0,  # cold start: no history
        "report": len(settings_file.campaigns),  # one report written per campaign
    }
    assert fake_stages == ["crawl", "label", "rank"]
    assert sched.current_lease(store) is None


def test_once_refuses_while_another_scheduler_runs(
    settings_file: Settings, store: Engine, fake_stages: list[str]
) -> None:
    assert sched.acquire_lease(store, "daemon", TTL)
    with pytest.raises(SchedulerError, match="daemon"):
        sched.run_scheduler(settings_file, once=True)
    assert fake_stages == []


def test_a_job_without_the_lease_does_not_run(
    settings_file: Settings, store: Engine, fake_stages: list[str]
) -> None:
    assert sched.acquire_lease(store, "daemon", TTL)
    assert sched.run_stage("label", str(settings_file.path), holder="stale") == 0
    assert sched.run_stage("label", str(settings_file.path), holder="daemon") == 3
    assert fake_stages == ["label"]


def test_a_failed_stage_does_not_stop_the_others(
    settings_file: Settings, fake_stages: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(path: str) -> int:
        raise SchedulerError("the crawl exited with status 1")

    monkeypatch.setattr(sched, "crawl", broken)
    with pytest.raises(SchedulerError, match="stages failed: crawl"):
        sched.run_scheduler(settings_file, once=True)
    assert fake_stages == ["label", "rank"]


def test_settings_without_a_file_are_refused(bare_settings: Settings) -> None:
    with pytest.raises(SchedulerError, match="--settings"):
        sched.build_scheduler(bare_settings, blocking=False)


def test_renewal_keeps_the_lease_and_stops_the_scheduler_once_it_is_lost(store: Engine) -> None:
    from apscheduler.jobstores.memory import MemoryJobStore
    from apscheduler.schedulers.background import BackgroundScheduler

    clock = FakeClock()
    scheduler = BackgroundScheduler(jobstores={"process": MemoryJobStore()})
    sched.add_lease_renewal(scheduler, store, "A", TTL, clock=clock)
    scheduler.start(paused=True)
    renew = scheduler.get_job(sched.LEASE_JOB_ID).func
    assert sched.acquire_lease(store, "A", TTL, now=clock.now)
    clock.now += timedelta(seconds=100)
    renew()
    assert sched.current_lease(store).expires_at == clock.now + timedelta(seconds=TTL)  # type: ignore[union-attr]
    assert scheduler.running
    clock.now += timedelta(seconds=TTL + 1)  # A stalled past its lease; B takes over
    assert sched.acquire_lease(store, "B", TTL, now=clock.now)
    renew()
    assert not scheduler.running
