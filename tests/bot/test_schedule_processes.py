"""Two real ``tingfeng schedule`` processes on one database: exactly one runs jobs.

The first takes the lease and keeps its four jobs in the APScheduler job store (a table in the
same database); a second one asked not to wait exits with code 6 naming the holder; once the
first stops (SIGTERM, as a service manager sends) the lease is free for the next.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import text
from sqlmodel import Session, select

from bot.scheduler import STAGES
from crawlers.models import SchedulerLock
from crawlers.store import make_engine

#: cron expressions that will not fire while the test runs
NEVER = "0 0 1 1 *"


def _settings(tmp_path: Path) -> Path:
    path = tmp_path / "settings.toml"
    stages = "\n".join(f'{s} = "{NEVER}"' for s in STAGES)
    path.write_text(
        f'[store]\nurl = "sqlite:///{tmp_path / "s.db"}"\n[schedule]\n{stages}\n', encoding="utf-8"
    )
    return path


def _schedule(path: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "--settings", str(path), "schedule", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _holder(db: Path, deadline: float) -> str | None:
    # waits for a condition (the lease row), bounded; not a timing assertion
    engine = make_engine(f"sqlite:///{db}")
    try:
        while time.monotonic() < deadline:
            if db.exists():
                with Session(engine) as s:
                    try:
                        lock = s.exec(select(SchedulerLock)).first()
                    except Exception:  # tables not created yet
                        lock = None
                    if lock is not None:
                        return lock.holder
            time.sleep(0.1)
        return None
    finally:
        engine.dispose()


def test_second_scheduler_is_refused_while_the_first_holds_the_lock(tmp_path: Path) -> None:
    path = _settings(tmp_path)
    first = _schedule(path)
    try:
        holder = _holder(tmp_path / "s.db", time.monotonic() + 60)
        assert holder is not None, (
            first.stderr.read() if first.poll() is not None else "no lease taken"
        )
        second = subprocess.run(
            [sys.executable, "-m", "bot.cli", "--settings", str(path), "schedule", "--no-wait"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == 6, second.stderr
        assert "another scheduler holds the lock" in second.stderr and holder in second.stderr
        engine = make_engine(f"sqlite:///{tmp_path / 's.db'}")
        with engine.connect() as conn:
            jobs = sorted(r[0] for r in conn.execute(text("SELECT id FROM apscheduler_jobs")))
        engine.dispose()
        assert jobs == sorted(f"tingfeng.{s}" for s in STAGES)
    finally:
        first.send_signal(signal.SIGTERM)
        first.wait(timeout=30)
    assert first.returncode == 0, first.stderr.read()
    # the lease was released on a clean stop: the next scheduler takes it at once
    engine = make_engine(f"sqlite:///{tmp_path / 's.db'}")
    with Session(engine) as s:
        assert s.exec(select(SchedulerLock)).first() is None
    engine.dispose()
