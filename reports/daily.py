"""The scheduler's report job: each campaign's report for the period just ended, written to
``[reports] dir`` and e-mailed to ``[alerts] smtp_to`` when SMTP is set up.

The period ends at the job's hour (UTC, minutes dropped) and spans ``[reports] period_days``,
so a re-run in the same hour (a restart, a misfire caught up) writes the same file again and
never e-mails twice: a ``.sent`` marker beside the report records the delivery, written only
after the SMTP server accepted it. A failed e-mail is retried by the next run in that hour.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlmodel import Session

from crawlers.config import Settings
from crawlers.errors import TingfengError

logger = logging.getLogger(__name__)


def period(now: datetime, days: int) -> tuple[datetime, datetime]:
    """(since, until): ``days`` ending at ``now``'s hour, UTC."""
    now = now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)
    until = now.replace(minute=0, second=0, microsecond=0)
    return until - timedelta(days=days), until


def report_path(settings: Settings, campaign: str, until: datetime) -> Path:
    folder = settings.resolve(settings.reports.dir)
    return Path(folder) / f"{campaign}-{until:%Y%m%dT%H}Z.html"


def run(session: Session, settings: Settings, now: datetime | None = None) -> dict[str, Any]:
    """Write (and e-mail) every campaign's report; returns what it did. Safe to re-run."""
    from reports.mail import send_report, smtp_configured
    from reports.render import render_report

    since, until = period(now or datetime.now(UTC), settings.reports.period_days)
    out: dict[str, Any] = {"written": [], "emailed": [], "errors": []}
    mail = settings.reports.email and smtp_configured(settings)
    for name in sorted(settings.campaigns):
        path = report_path(settings, name, until)
        try:
            html = render_report(session, settings, name, since, until)
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".html.tmp")
            tmp.write_text(html, encoding="utf-8")
            tmp.replace(path)  # a reader never sees half a report
            out["written"].append(str(path))
            marker = path.with_suffix(".html.sent")
            if mail and not marker.exists():
                brand = settings.campaigns[name].brand
                subject = f"{brand} 舆情日报 sentiment report {since:%Y-%m-%d %H:%M} - {until:%Y-%m-%d %H:%M} UTC"
                message_id = send_report(settings, subject, html, [path])
                marker.write_text(message_id + "\n", encoding="utf-8")
                out["emailed"].append(name)
        except TingfengError as exc:  # one campaign's failure (SMTP down) never stops the rest
            logger.warning("report for %s: %s", name, exc)
            out["errors"].append(f"{name}: {exc}")
    logger.info(
        "reports: %d written, %d e-mailed, %d errors",
        len(out["written"]), len(out["emailed"]), len(out["errors"]),
    )  # fmt: skip
    return out


def stage(session: Session, settings: Settings) -> int:
    """The scheduler's ``report`` stage; returns the reports written."""
    return len(run(session, settings)["written"])


def alerts_stage(session: Session, settings: Settings) -> int:
    """The scheduler's ``alerts`` stage; returns the new alerts."""
    from reports.alerts import run_alerts

    return int(run_alerts(session, settings)["new_alerts"])
