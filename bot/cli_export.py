"""``tingfeng export posts|users``: a campaign's posts with labels, or its users with influence,
as CSV (UTF-8 with BOM), XLSX or Parquet. See ``reports.exports``."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import click

from bot.cli_common import Context, run_stage_result
from crawlers.errors import ConfigError


def parse_time(value: str | None, option: str) -> datetime | None:
    """``2026-11-01`` or ``2026-11-01T08:00[:00][+08:00]``; without a zone, UTC (the report's
    parser, ``reports.data.parse_when``: one reading of dates for every command)."""
    from reports.data import parse_when

    return None if value is None else parse_when(value, option)


@click.command(name="export")
@click.argument("what", type=click.Choice(["posts", "users"]))
@click.option("--campaign", required=True, help="The campaign ([campaigns.NAME]).")
@click.option("--since", default=None, help="Posts created at or after this (UTC unless a zone).")
@click.option("--until", default=None, help="Posts created before this (UTC unless a zone).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "xlsx", "parquet"]),
    default=None,
    help="File format (default: from the --out suffix).",
)
@click.option("--out", type=click.Path(path_type=Path), required=True, help="File to write.")
@click.pass_obj
def export(
    obj: Context,
    what: str,
    campaign: str,
    since: str | None,
    until: str | None,
    fmt: str | None,
    out: Path,
) -> None:
    """Export a campaign's POSTS (with the latest labels) or USERS (with influence scores).

    CSV is UTF-8 with a byte-order mark, so Excel shows Chinese text correctly; XLSX holds at
    most 1,048,576 rows; Parquet keeps types. Exports stream in chunks, so millions of rows
    fit. Text cells that a spreadsheet would run as a formula get a leading apostrophe.
    """
    from reports.exports import posts_export, users_export, write_export

    chosen = fmt or out.suffix.lower().lstrip(".")
    if chosen not in ("csv", "xlsx", "parquet"):
        raise ConfigError([f"--out {out}: give --format csv|xlsx|parquet (or such a suffix)"])
    start, end = parse_time(since, "--since"), parse_time(until, "--until")

    def run(session: Any, settings: Any) -> int:
        build = posts_export if what == "posts" else users_export
        return write_export(build(session, settings, campaign, start, end), chosen, out)  # type: ignore[arg-type]

    n = run_stage_result(obj, run)
    click.echo(f"wrote {n} {what} to {out} ({chosen})")
