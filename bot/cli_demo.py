"""``tingfeng demo``: the whole loop on the bundled sandbox platform, then a summary.

Starts the sandbox on ``[sandbox] host:port``, crawls it for every campaign, labels, ranks and
drafts, and prints what the store holds. Re-running it changes nothing (every stage is
idempotent); ``--fresh`` starts from an empty database.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import click

from bot.cli_common import Context, run_stage


def _timed(name: str, fn: Callable[[], Any]) -> Any:
    start = time.perf_counter()
    result = fn()
    click.echo(f"[{name}] {time.perf_counter() - start:.1f}s")
    return result


def _fresh_store(obj: Context) -> None:
    from sqlalchemy.engine import make_url

    from crawlers.store import database_url

    url = make_url(database_url(obj.settings))
    if url.get_backend_name() != "sqlite" or not url.database:
        raise click.UsageError(
            "--fresh only deletes SQLite files; empty a server database yourself"
        )
    from pathlib import Path

    for suffix in ("", "-wal", "-shm"):
        Path(url.database + suffix).unlink(missing_ok=True)


@click.command()
@click.option("--fresh", is_flag=True, help="Delete the SQLite database first.")
@click.pass_obj
def demo(obj: Context, fresh: bool) -> None:
    """Run the whole loop on the sandbox platform and print the results."""
    from bot.drafts import run as draft_run
    from crawlers.crawl import run_crawl
    from crawlers.sandbox.process import SandboxProcess
    from graph.score import run as rank_run
    from nlp.label import run as label_run

    settings = obj.settings
    if not obj.verbose:
        settings.crawl.log_level = "WARNING"  # the demo's output is its summary
    if fresh:
        _fresh_store(obj)
    sb = settings.sandbox
    click.echo(
        f"starting the sandbox platform (seed {sb.seed}, {sb.users} users) on {sb.host}:{sb.port}"
    )
    with SandboxProcess(host=sb.host, port=sb.port, seed=sb.seed, users=sb.users) as sandbox:
        settings.crawl.base_url = sandbox.base_url
        crawled = _timed("crawl", lambda: run_crawl(settings))
    click.echo("crawl: " + ", ".join(f"{k}={v}" for k, v in crawled.items()))
    labelled = _timed("label", lambda: run_stage(obj, label_run))
    ranked = _timed("rank", lambda: run_stage(obj, rank_run))
    drafted = _timed("draft", lambda: run_stage(obj, draft_run))
    click.echo(f"labelled {labelled} posts, ranked {ranked} users, drafted {drafted} actions")
    click.echo("")
    from bot.cli import status

    click.get_current_context().invoke(status)
