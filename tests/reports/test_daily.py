"""The scheduler's report job: one file per campaign and period, e-mailed exactly once."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlmodel import Session

from bot import scheduler
from crawlers.config import default_settings
from crawlers.store import make_engine, migrate
from reports import daily
from tests.reports.smtp import Inbox
from tests.reports.store import CAMPAIGN, fill

#: the job runs at 09:00 Shanghai on 10-16 = 01:00 UTC; the daily period is 10-15 01:00 - 10-16 01:00
NOW = datetime(2026, 10, 16, 1, 7, tzinfo=UTC)


def _settings(tmp_path: Path, port: int, period_days: int = 7) -> Any:
    return default_settings(
        base_dir=tmp_path,
        crawl={"base_url": "https://m.weibo.cn"},
        campaigns={"c": CAMPAIGN},
        reports={"dir": "out", "period_days": period_days},
        alerts={
            "smtp_host": "127.0.0.1", "smtp_port": port, "smtp_starttls": False,
            "smtp_from": "tingfeng@example.com", "smtp_to": ["brand@example.com"],
        },
    )  # fmt: skip


def test_report_job_writes_each_period_once_and_emails_it_once(
    tmp_path: Path, smtp: tuple[int, Inbox]
) -> None:
    port, inbox = smtp
    settings = _settings(tmp_path, port)
    engine = make_engine("sqlite://")
    migrate(engine)
    with Session(engine) as session:
        fill(session)
        inbox.refuse = True  # the SMTP server is down: written, not marked sent
        out = daily.run(session, settings, now=NOW)
        path = tmp_path / "out" / "c-20261016T01Z.html"
        assert out["written"] == [str(path)] and out["emailed"] == [] and out["errors"]
        assert not path.with_suffix(".html.sent").exists()
        inbox.refuse = False  # the retry in the same hour (a misfire caught up) sends it
        out = daily.run(session, settings, now=NOW.replace(minute=40))
        assert out["emailed"] == ["c"] and len(inbox.messages) == 1
        again = daily.run(session, settings, now=NOW.replace(minute=50))
        assert again["emailed"] == [] and len(inbox.messages) == 1  # never twice
    html = path.read_text(encoding="utf-8")
    assert "拾光咖啡" in html and "2026-10-09" in html  # the 7 days up to 10-16 01:00
    ((_, _, msg),) = inbox.messages
    assert "拾光咖啡" in msg["Subject"] and msg["To"] == "brand@example.com"
    attached = [p.get_filename() for p in msg.iter_attachments()]
    assert attached == [path.name]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [path.name, path.name + ".sent"]


def test_report_and_alerts_are_scheduler_stages() -> None:
    assert {"alerts", "report"} <= set(scheduler.STAGES)
    assert scheduler._stage_function("report") is daily.stage
    assert scheduler._stage_function("alerts") is daily.alerts_stage
