"""``tingfeng runs`` and ``tingfeng alerts``: what the crawls did and did not see, what went wrong."""

from __future__ import annotations

import click
from sqlmodel import Session, col, select

from bot.cli_common import Context, clean, with_session
from crawlers.models import CrawlRun


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

    with_session(obj, show)


@click.command()
@click.option("--all", "show_all", is_flag=True, help="Include acknowledged alerts.")
@click.option("--ack", "ack_id", type=int, default=None, help="Acknowledge the alert with this id.")
@click.option("--limit", type=int, default=50, show_default=True)
@click.pass_obj
def alerts(obj: Context, show_all: bool, ack_id: int | None, limit: int) -> None:
    """Alerts an operator must see: bans, rate limits, spent request budgets."""
    from crawlers import politeness
    from crawlers.errors import CrawlError
    from crawlers.models import utcnow

    def show(session: Session) -> None:
        if ack_id is not None:
            if politeness.acknowledge_alert(session, ack_id, utcnow()) is None:
                raise CrawlError(f"no alert with id {ack_id}; `tingfeng alerts --all` lists them")
            click.echo(f"acknowledged alert #{ack_id}")
            return
        rows = politeness.list_alerts(session, include_acknowledged=show_all, limit=limit)
        if not rows:
            click.echo("no alerts" if show_all else "no unacknowledged alerts")
        for a in rows:
            seen = f" (x{a.detail.get('count')})" if a.detail.get("count", 1) > 1 else ""
            done = " [acknowledged]" if a.acknowledged_at else ""
            click.echo(
                f"#{a.id:<4} {a.at:%Y-%m-%d %H:%M} {a.kind:<12} {a.source}{seen}{done}: "
                f"{clean(a.message, 160)}"
            )

    with_session(obj, show)


@click.command()
@click.argument("source")
@click.pass_obj
def resume(obj: Context, source: str) -> None:
    """End a source's pause early (e.g. after a ban was lifted): SOURCE is its host, m.weibo.cn."""
    from crawlers import politeness
    from crawlers.models import utcnow

    n = with_session(obj, lambda s: politeness.resume_source(s, source, utcnow()))
    click.echo(f"resumed {source}" if n else f"{source} was not paused")


@click.command()
@click.argument("action", type=click.Choice(["reset"]))
@click.option("--force", is_flag=True, help="Reset even while workers are registered.")
@click.pass_obj
def frontier(obj: Context, action: str, force: bool) -> None:
    """Distributed mode: reset the shared crawl frontier and dupefilter in Redis."""
    from crawlers.distributed import reset_frontier

    removed = reset_frontier(obj.settings, force=force)
    click.echo(f"frontier reset ({removed} keys removed)")
