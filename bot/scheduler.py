"""``tingfeng schedule``: the stages on cron expressions, in exactly one process.

Jobs live in a ``SQLAlchemyJobStore`` on the store's own database, under fixed ids with
``replace_existing=True``, so restarting never duplicates them. The job store pickles a reference
to ``run_stage`` and its arguments (the stage name, the settings file's path, the lease holder),
so each run reloads the settings from that file (environment overrides apply; in-memory
changes do not) and opens its own store.

The lock is a lease, one ``SchedulerLock`` row named ``scheduler``:

* a process takes it with one atomic statement: ``UPDATE .. WHERE name = 'scheduler' AND
  (expires_at < now OR holder = me)``; if no row matched, ``INSERT`` it, and a unique-key
  conflict means another process won the race. ``holder`` is ``hostname:pid:random``;
* the holder renews it every third of ``[schedule] lock_ttl_seconds`` (a job in a per-process
  memory store), and every stage job checks it still holds the lease before it runs;
* a process that cannot take the lease waits as a standby and retries every half TTL, so it
  takes over within about 1.5 TTL of the holder dying (``wait=False`` raises
  ``SchedulerError`` instead); ``once=True`` never waits;
* a holder that finds, on renewal, that another process took the lease over stops its
  scheduler and ``run_scheduler`` raises ``SchedulerError``.

Times are the processes' own clocks (UTC); hosts sharing a PostgreSQL store need clocks in sync
to well within the TTL.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import delete, inspect, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from bot.review import as_utc
from crawlers.config import Settings, load_settings
from crawlers.errors import SchedulerError
from crawlers.models import SchedulerLock, utcnow
from crawlers.store import open_store

logger = logging.getLogger(__name__)

LOCK_NAME = "scheduler"
STAGES = ("crawl", "label", "rank", "draft", "dispatch", "alerts", "report")
JOB_PREFIX = "tingfeng."
LEASE_JOB_ID = "tingfeng.lease"
#: where the scheduler reads the time (tests pass a fake clock)
Clock = Callable[[], datetime]


# --- the lease -------------------------------------------------------------------------------


def make_holder() -> str:
    """``hostname:pid:random``: unique per process, readable in the lock row."""
    return f"{socket.gethostname()[:80]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def acquire_lease(
    engine: Engine,
    holder: str,
    ttl_seconds: float,
    now: datetime | None = None,
    name: str = LOCK_NAME,
) -> bool:
    """Take or renew the lease for ``ttl_seconds``; ``False`` if another holder's is still valid."""
    now = as_utc(now or utcnow())
    expires = now + timedelta(seconds=ttl_seconds)
    table = SchedulerLock.__table__  # type: ignore[attr-defined]
    with engine.begin() as conn:
        stmt = (
            update(table)
            .where(table.c.name == name)
            .where((table.c.expires_at < now) | (table.c.holder == holder))
            .values(holder=holder, expires_at=expires)
        )
        if conn.execute(stmt).rowcount == 1:
            return True
    try:
        with engine.begin() as conn:
            conn.execute(table.insert().values(name=name, holder=holder, expires_at=expires))
    except IntegrityError:  # the row exists: another holder's lease is still valid
        return False
    return True


def current_lease(engine: Engine, name: str = LOCK_NAME) -> SchedulerLock | None:
    with Session(engine, expire_on_commit=False) as session:
        return session.exec(select(SchedulerLock).where(SchedulerLock.name == name)).first()


def holds_lease(
    engine: Engine, holder: str, now: datetime | None = None, name: str = LOCK_NAME
) -> bool:
    """Whether ``holder`` holds a lease that has not expired at ``now``."""
    now = as_utc(now or utcnow())
    with Session(engine) as session:
        stmt = select(SchedulerLock.name).where(
            SchedulerLock.name == name,
            SchedulerLock.holder == holder,
            col(SchedulerLock.expires_at) > now,
        )
        return session.exec(stmt).first() is not None


def release_lease(engine: Engine, holder: str, name: str = LOCK_NAME) -> None:
    table = SchedulerLock.__table__  # type: ignore[attr-defined]
    with engine.begin() as conn:
        conn.execute(delete(table).where(table.c.name == name, table.c.holder == holder))


def wait_for_lease(
    engine: Engine,
    holder: str,
    ttl_seconds: float,
    *,
    wait: bool = True,
    sleep: Callable[[float], None] = time.sleep,
    clock: Clock = utcnow,
) -> None:
    """Take the lease, waiting as a standby while another process holds it (unless ``wait=False``)."""
    retry = max(1.0, ttl_seconds / 2)
    announced = False
    while not acquire_lease(engine, holder, ttl_seconds, now=clock()):
        lease = current_lease(engine)
        other = f"{lease.holder} (until {lease.expires_at})" if lease else "another process"
        if not wait:
            raise SchedulerError(
                f"another scheduler holds the lock: {other}. Stop it, or run `tingfeng schedule` "
                "without --no-wait to stand by and take over when it stops."
            )
        if not announced:
            logger.info("standby: %s holds the scheduler lock; retrying every %.0f s", other, retry)
            announced = True
        sleep(retry)
    logger.info("took the scheduler lock as %s", holder)


# --- jobs ------------------------------------------------------------------------------------


def _stage_function(stage: str) -> Callable[..., int]:
    """The stage's ``run(session, settings)``; imported late (stages load heavy libraries)."""
    if stage == "label":
        from nlp.label import run as label_run

        return label_run
    if stage == "rank":
        from graph.score import run as rank_run

        return rank_run
    if stage == "draft":
        from bot.drafts import run as draft_run

        return draft_run
    if stage == "dispatch":
        from bot.dispatch import stage as dispatch_stage

        return dispatch_stage
    if stage == "alerts":
        from reports.daily import alerts_stage

        return alerts_stage
    if stage == "report":
        from reports.daily import stage as report_stage

        return report_stage
    raise SchedulerError(f"unknown stage {stage!r}; stages: {', '.join(STAGES)}")


def crawl(settings_path: str) -> int:
    """Crawl in a child process (Twisted's reactor cannot be restarted inside this one).

    The child's log goes to this process's stderr; its summary (``key=value`` lines) is read
    back and logged. Returns the posts, comments and reposts it stored.
    """
    cmd = [sys.executable, "-m", "crawlers.crawl", "--settings", settings_path]
    result = subprocess.run(cmd, check=False, stdout=subprocess.PIPE, text=True)
    if result.returncode != 0:
        raise SchedulerError(
            f"the crawl exited with status {result.returncode}; see its log above."
        )
    summary = dict(line.split("=", 1) for line in result.stdout.split() if "=" in line)
    logger.info("crawl finished: %s", ", ".join(f"{k}={v}" for k, v in summary.items()))
    return int(summary.get("stored_post", 0))


def run_stage(stage: str, settings_path: str, holder: str | None = None) -> int:
    """A job: reload the settings, check the lease, run one stage; returns its count.

    Module level with plain arguments because the job store pickles a reference to it.
    """
    settings = load_settings(settings_path)
    engine = open_store(settings)
    try:
        if holder is not None and not holds_lease(engine, holder):
            logger.warning("%s skipped: this process no longer holds the scheduler lock", stage)
            return 0
        if stage == "crawl":
            count = crawl(settings_path)
        else:
            with Session(engine) as session:
                count = _stage_function(stage)(session, settings)
        logger.info("stage %s done: %d", stage, count)
        return count
    finally:
        engine.dispose()


# --- the scheduler ---------------------------------------------------------------------------


def _settings_path(settings: Settings) -> str:
    if settings.path is None:
        raise SchedulerError(
            "the scheduler needs settings loaded from a file (its jobs reload them); "
            "pass --settings PATH."
        )
    return str(settings.path)


def build_scheduler(
    settings: Settings,
    holder: str | None = None,
    *,
    engine: Engine | None = None,
    blocking: bool = True,
) -> BaseScheduler:
    """A scheduler with the stage jobs, not started. Jobs go to the store's database."""
    path = _settings_path(settings)
    engine = engine or open_store(settings)
    tz = settings.schedule.timezone
    cls = BlockingScheduler if blocking else BackgroundScheduler
    jobstore = SQLAlchemyJobStore(engine=engine)
    scheduler = cls(jobstores={"default": jobstore, "process": MemoryJobStore()}, timezone=tz)
    for stage in STAGES:
        trigger = CronTrigger.from_crontab(getattr(settings.schedule, stage), timezone=tz)
        scheduler.add_job(
            run_stage,
            trigger,
            args=[stage, path],
            kwargs={"holder": holder},
            id=JOB_PREFIX + stage,
            name=f"tingfeng {stage}",
            replace_existing=True,
            coalesce=True,  # after downtime, run a missed stage once, not once per missed time
            max_instances=1,
            misfire_grace_time=settings.schedule.misfire_grace_seconds,
            **_kept_next_run(jobstore, JOB_PREFIX + stage, trigger),
        )
    return scheduler


def _kept_next_run(
    jobstore: SQLAlchemyJobStore, job_id: str, trigger: CronTrigger
) -> dict[str, datetime]:
    """The stored job's next run time if its trigger is unchanged: re-adding a job without one
    moves it to the trigger's next time after now, so a time missed while no scheduler ran was
    dropped instead of run once within ``misfire_grace_seconds``."""
    if not inspect(jobstore.engine).has_table(jobstore.jobs_t.name):
        return {}
    try:
        stored = jobstore.lookup_job(job_id)
    except Exception:  # an unreadable stored job (e.g. pickled by an older version): replace it
        logger.warning("stored job %s is unreadable; its next run time is recomputed", job_id)
        return {}
    if stored is None or stored.next_run_time is None or repr(stored.trigger) != repr(trigger):
        return {}
    return {"next_run_time": stored.next_run_time}


def add_lease_renewal(
    scheduler: BaseScheduler, engine: Engine, holder: str, ttl_seconds: float, clock: Clock = utcnow
) -> None:
    """Renew the lease every third of its TTL; stop the scheduler if another process took it."""

    def renew() -> None:
        if not acquire_lease(engine, holder, ttl_seconds, now=clock()):
            logger.error("lost the scheduler lock to another process; stopping this scheduler")
            scheduler.shutdown(wait=False)

    scheduler.add_job(
        renew,
        IntervalTrigger(seconds=max(1.0, ttl_seconds / 3)),
        id=LEASE_JOB_ID,
        jobstore="process",
        replace_existing=True,
        coalesce=True,
        max_instances=1,
    )


def run_once(
    settings: Settings, engine: Engine, holder: str, clock: Clock = utcnow
) -> dict[str, int]:
    """Every stage once, in order, renewing the lease meanwhile (a crawl outlasts the TTL).

    A failed stage is logged and the next ones still run; ``SchedulerError`` names the failures.
    """
    path = _settings_path(settings)
    keeper = BackgroundScheduler(
        jobstores={"process": MemoryJobStore()}, timezone=settings.schedule.timezone
    )
    add_lease_renewal(keeper, engine, holder, settings.schedule.lock_ttl_seconds, clock)
    keeper.start()
    counts: dict[str, int] = {}
    failed: list[str] = []
    try:
        for stage in STAGES:
            try:
                counts[stage] = run_stage(stage, path, holder)
            except Exception:  # one broken stage must not hide the others' results
                logger.exception("stage %s failed", stage)
                failed.append(stage)
    finally:
        if keeper.running:
            keeper.shutdown(wait=False)
    if failed:
        raise SchedulerError(
            f"stages failed: {', '.join(failed)} (the log above says why); the others ran: {counts}"
        )
    return counts


def run_scheduler(
    settings: Settings,
    once: bool = False,
    *,
    wait: bool = True,
    sleep: Callable[[float], None] = time.sleep,
    clock: Clock = utcnow,
) -> dict[str, int]:
    """Hold the lease and run the jobs until interrupted; ``once=True`` runs each stage once.

    Returns the stages' counts for ``once=True``, else ``{}`` after a clean stop.
    """
    engine = open_store(settings)
    holder = make_holder()
    ttl = settings.schedule.lock_ttl_seconds
    wait_for_lease(engine, holder, ttl, wait=wait and not once, sleep=sleep, clock=clock)
    try:
        if once:
            return run_once(settings, engine, holder, clock)
        _serve(settings, engine, holder, ttl, clock)
        return {}
    finally:
        release_lease(engine, holder)
        engine.dispose()


def _serve(settings: Settings, engine: Engine, holder: str, ttl: float, clock: Clock) -> None:
    scheduler = build_scheduler(settings, holder, engine=engine, blocking=True)
    add_lease_renewal(scheduler, engine, holder, ttl, clock)
    logger.info(
        "scheduler started: %s", ", ".join(f"{s}={getattr(settings.schedule, s)!r}" for s in STAGES)
    )
    try:
        scheduler.start()  # blocks until shutdown (lost lease) or Ctrl-C
    except (KeyboardInterrupt, SystemExit):
        logger.info("scheduler stopping")
    finally:
        if scheduler.running:
            scheduler.shutdown(wait=False)
    if not holds_lease(engine, holder, clock()):
        raise SchedulerError(
            "this scheduler lost its lock to another process and stopped; "
            "the other process runs the jobs now."
        )
