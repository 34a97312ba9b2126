"""The ``tingfeng`` command line: the only place that prints or sets exit codes.

Each stage command loads the settings once, opens the store and calls the stage function the
scheduler also calls. Errors of the TingfengError family become one clear message and the
error's exit code (2 for settings).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from bot.cli_common import (
    Context,
    clean,
    empty_store,
    format_draft,
    run_stage,
)
from crawlers.errors import TingfengError

logger = logging.getLogger(__name__)


class TingfengGroup(click.Group):
    """Turns TingfengError into a message on stderr and the error's exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except TingfengError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(exc.exit_code)


def _setup_logging(verbose: int) -> None:
    level = logging.DEBUG if verbose > 1 else logging.INFO if verbose == 1 else logging.WARNING
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    # the handler filters too: Scrapy sets its own loggers to DEBUG when a crawl starts
    for handler in logging.getLogger().handlers:
        handler.setLevel(level)


@click.group(cls=TingfengGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--settings",
    "settings_path",
    type=click.Path(path_type=Path),
    default=lambda: os.environ.get("TINGFENG_SETTINGS", "settings.toml"),
    show_default="settings.toml",
    help="Settings file (also TINGFENG_SETTINGS).",
)
@click.option("-v", "--verbose", count=True, help="More logging (-v info, -vv debug).")
@click.pass_context
def cli(ctx: click.Context, settings_path: Path, verbose: int) -> None:
    """tingfeng (听风): listen to Weibo, find the right people, draft engagement for human review.

    Nothing is ever sent to a platform without a person's approval.
    """
    _setup_logging(verbose)
    ctx.obj = Context(settings_path, verbose)


@cli.command()
@click.option("--host", default=None, help="Listen address (default: [sandbox] host).")
@click.option("--port", type=int, default=None, help="Port (default: [sandbox] port).")
@click.option("--seed", type=int, default=None, help="World seed (default: [sandbox] seed).")
@click.option(
    "--users", type=int, default=None, help="Users in the world (default: [sandbox] users)."
)
@click.option(
    "--fault",
    "faults",
    multiple=True,
    metavar="NAME=RATE",
    help="Failure mode and the share of URLs it hits, e.g. malformed_json=0.1.",
)
@click.pass_obj
def sandbox(
    obj: Context,
    host: str | None,
    port: int | None,
    seed: int | None,
    users: int | None,
    faults: tuple[str, ...],
) -> None:
    """Run the bundled sandbox platform (m.weibo.cn JSON shapes) until interrupted."""
    from crawlers.sandbox.__main__ import main as sandbox_main

    s = obj.settings.sandbox
    argv = [
        "--host",
        host or s.host,
        "--port",
        str(port or s.port),
        "--seed",
        str(seed if seed is not None else s.seed),
        "--users",
        str(users or s.users),
    ]
    for f in faults:
        argv += ["--fault", f]
    raise SystemExit(sandbox_main(argv))


@cli.command()
@click.option("--campaign", "campaigns", multiple=True, help="Only these campaigns (default: all).")
@click.pass_obj
def crawl(obj: Context, campaigns: tuple[str, ...]) -> None:
    """Collect posts, users, comments, reposts and follows for the campaigns' targets."""
    from crawlers.crawl import run_crawl

    _check_campaigns(obj, campaigns)
    summary = run_crawl(obj.settings, list(campaigns) or None)
    click.echo("crawl finished: " + ", ".join(f"{k}={v}" for k, v in summary.items()))


def _check_campaigns(obj: Context, campaigns: tuple[str, ...]) -> None:
    from crawlers.errors import ConfigError

    known = obj.settings.campaigns
    if not known:
        raise ConfigError(
            ["no [campaigns.NAME] table: add one with brand and targets (tags, topics, ...)"],
            str(obj.settings_path),
        )
    unknown = [c for c in campaigns if c not in known]
    if unknown:
        raise ConfigError(
            [f"--campaign {c}: no such campaign; known: {', '.join(known)}" for c in unknown],
            str(obj.settings_path),
        )


def _stage(obj: Context, fn: Callable[..., int], needs: str, done: str, nothing: str) -> None:
    """Run one stage and say what it did, or why it had nothing to do."""
    if empty_store(obj, needs):
        click.echo(f"{nothing}: the store has no {needs.lower()}s yet (run `tingfeng crawl` first)")
        return
    n = run_stage(obj, fn)
    click.echo(done.format(n=n) if n else f"{nothing}: {NOTHING_NEW[needs]}")


NOTHING_NEW = {
    "Post": "every post has a label of the current model",
    "Interaction": "the graph has not changed since the last ranking",
}


@cli.command()
@click.pass_obj
def label(obj: Context) -> None:
    """Label posts not yet labelled by the current model: sentiment, interests, intents, keywords."""
    from nlp.label import run

    _stage(obj, run, "Post", "labelled {n} posts", "nothing to label")


@cli.command()
@click.pass_obj
def rank(obj: Context) -> None:
    """Rank users by influence on the interaction graph and store each score with its reasons."""
    from graph.score import run

    _stage(obj, run, "Interaction", "ranked {n} users", "nothing to rank")


@cli.command()
@click.pass_obj
def draft(obj: Context) -> None:
    """Draft engagement actions (follow, reply, repost) into the review queue. Sends nothing:
    only `tingfeng dispatch` sends, and only approved drafts."""
    from bot.drafts import run

    n = run_stage(obj, run)
    click.echo(f"drafted {n} actions for review" if n else "nothing new to draft")


@cli.command()
@click.option(
    "--to",
    "target",
    type=click.Choice(["sandbox"]),
    default=None,
    help="Send approved Weibo drafts to the sandbox platform ([sandbox] host and port) "
    "whatever [dispatch] weibo says. Without it: as [dispatch] configures (weibo, mastodon).",
)
@click.option("--limit", type=int, default=None, help="Send at most this many drafts.")
@click.pass_obj
def dispatch(obj: Context, target: str | None, limit: int | None) -> None:
    """Send approved drafts, exactly once each, within the [dispatch] caps (Weibo drafts go to
    a person by default: `tingfeng handoff list`)."""
    from bot.cli_dispatch import dispatch_command

    dispatch_command(obj, target, limit)


@cli.command()
@click.option("--once", is_flag=True, help="Run every stage once, in order, and exit.")
@click.option(
    "--no-wait",
    is_flag=True,
    help="Exit (code 6) if another process holds the scheduler lock, instead of standing by.",
)
@click.pass_obj
def schedule(obj: Context, once: bool, no_wait: bool) -> None:
    """Run the stages on the cron expressions in [schedule] (one process holds the lock)."""
    import signal

    from bot.scheduler import run_scheduler

    # service managers stop with SIGTERM: exit cleanly so the lock is released at once
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    counts = run_scheduler(obj.settings, once=once, wait=not no_wait)
    if once:
        click.echo("ran every stage once: " + ", ".join(f"{k}={v}" for k, v in counts.items()))


@cli.command()
@click.option("--top", type=int, default=10, show_default=True, help="Top users to show.")
@click.pass_obj
def status(obj: Context, top: int) -> None:
    """What the store holds: counts, sentiment mix, top users by influence, pending drafts."""
    from sqlmodel import Session

    from bot.summary import summarize
    from crawlers.store import open_store

    engine = open_store(obj.settings)
    with Session(engine) as session:
        _print_summary(summarize(session, top))
    engine.dispose()


def _print_summary(summary: Any) -> None:
    c = summary.counts
    click.echo(
        f"stored: {c['users']} users, {c['posts']} posts, {c['comments']} comments, "
        f"{c['reposts']} reposts, {c['follows']} follows, {c['mentions']} mentions"
    )
    total = sum(summary.sentiment.values())
    if total:
        mix = ", ".join(f"{k} {v} ({v / total:.0%})" for k, v in summary.sentiment.items())
        click.echo(f"sentiment ({summary.label_version}): {mix}")
    else:
        click.echo("sentiment: no labels yet")
    emotions = sum(summary.emotion.values())
    if emotions:
        mix = ", ".join(f"{k} {v / emotions:.0%}" for k, v in summary.emotion.items())
        click.echo(f"emotion: {mix}; accounts flagged as spam/bot (水军): {summary.spam_accounts}")
    click.echo(
        "top users by influence:" if summary.top_users else "top users by influence: not ranked yet"
    )
    for u in summary.top_users:
        click.echo(
            f"  {u['rank']:>3}. {clean(u['name'], 24)} ({u['account_id']}) score {u['score']:.5f}"
        )
        click.echo(f"       why: {clean(u['why'], 160)}")
    click.echo(f"pending drafts: {len(summary.pending)}")
    for d in summary.pending:
        click.echo("  " + format_draft(d))


def _register() -> None:
    from bot.cli_demo import demo
    from bot.cli_graph import graph_group
    from bot.cli_nlp import nlp
    from bot.cli_review import review
    from bot.cli_runs import alerts, frontier, resume, runs

    for command in (review, demo, runs, alerts, resume, frontier, nlp, graph_group):
        cli.add_command(command)

    # `alerts` becomes a group (the list, plus `alerts check`); `export` writes CSV/XLSX/Parquet
    from bot.cli_alerts import alerts_group
    from bot.cli_export import export

    cli.add_command(alerts_group)
    cli.add_command(export)

    from bot.cli_dispatch import handoff, reconcile

    cli.add_command(handoff)
    cli.add_command(reconcile)

    from bot.cli_web import serve, users

    cli.add_command(serve)
    cli.add_command(users)

    from bot.cli_report import report

    cli.add_command(report)

    from bot.cli_outcomes import outcomes

    cli.add_command(outcomes)


_register()


def main() -> None:
    cli(prog_name="tingfeng")


if __name__ == "__main__":
    main()
