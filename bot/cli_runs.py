"""``tingfeng runs`` and ``tingfeng alerts``: what the crawls did and did not see, what went wrong."""

from __future__ import annotations

from typing import Any

import click
from sqlmodel import Session, col, select

from bot.cli_common import Context, clean
from crawlers.models import CrawlRun


def _session_do(obj: Context, fn: Any) -> Any:
    from crawlers.store import open_store

    engine = open_store(obj.settings)
    try:
        with Session(engine) as session:
            result = fn(session)
            session.commit()
            return result
    finally:
        engine.dispose()


def recent_runs(session: Session, limit: int, target: str | None = None) -> list[CrawlRun]:
    stmt = select(CrawlRun).order_by(col(CrawlRun.id).desc()).limit(limit)
    if target:
        stmt = stmt.where(col(CrawlRun.target).contains(target))
    return list(session.exec(stmt).all())


@click.command()
@click.option("--limit", type=int, default=20, show_default=True, help="Most recent runs to show.")
@click.option("--target", default=None, help="Only targets containing this, e.g. topic:咖啡.")
@click.pass_obj
def runs(obj: Context, limit: int, target: str | None) -> None:
    """Recent crawl runs per target: pages, items, errors, and what was not seen (truncated)."""

    def show(session: Session) -> None:
        rows = recent_runs(session, limit, target)
        if not rows:
            click.echo("no crawl runs yet (run `tingfeng crawl`)")
            return
        for r in rows:
            started = r.started_at.strftime("%Y-%m-%d %H:%M") if r.started_at else "?"
            click.echo(
                f"#{r.id:<5} {started} {r.platform}:{clean(r.target, 40):<28} {r.status:<11} "
                f"pages={r.pages} items={r.items} errors={r.errors}"
                + (f" campaign={r.campaign}" if r.campaign else "")
            )
            for note in r.truncated:
                click.echo(f"        not seen: {clean(str(note), 140)}")

    _session_do(obj, show)
