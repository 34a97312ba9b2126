"""``tingfeng report``: the HTML sentiment report of one campaign over a period.

The numbers come from ``reports.data`` (SQL aggregates on the store); ``reports.render`` turns
them into one self-contained HTML file (inline CSS and SVG, no scripts, opens offline).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from bot.cli_common import Context, run_stage_result


@click.command(name="report")
@click.option("--campaign", required=True, help="A campaign name from [campaigns.NAME].")
@click.option(
    "--since",
    default=None,
    help="Start (UTC), YYYY-MM-DD or YYYY-MM-DDTHH:MM, inclusive (default: 7 days before --until).",
)
@click.option(
    "--until",
    default=None,
    help="End (UTC), exclusive; a bare date means the end of that day (default: now).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Where to write the HTML (default: report-CAMPAIGN-SINCE-UNTIL.html here; - for stdout).",
)
@click.pass_obj
def report(
    obj: Context, campaign: str, since: str | None, until: str | None, output: Path | None
) -> None:
    """Write an HTML sentiment report: volume and net sentiment over time, emotions, keywords
    and topics, share of voice against competitors, top voices, communities, notable posts and
    what changed since the previous period of the same length."""
    from reports.data import ReportError, check_period, find_campaign, parse_when
    from reports.render import render_report

    find_campaign(obj.settings, campaign)
    end = parse_when(until, "--until", end=True) if until else datetime.now(UTC)
    start = parse_when(since, "--since") if since else end - timedelta(days=7)
    start, end = check_period(start, end)

    def build(session: Any, settings: Any) -> str:
        return render_report(session, settings, campaign, start, end)

    html = run_stage_result(obj, build)
    if output is not None and str(output) == "-":
        click.echo(html, nl=False)
        return
    path = output or Path(f"report-{campaign}-{start:%Y%m%d}-{end:%Y%m%d}.html")
    try:
        path.write_text(html, encoding="utf-8")
    except OSError as exc:
        raise ReportError(f"--output {path}: cannot write there ({exc.strerror})") from exc
    click.echo(f"wrote {path} ({len(html.encode('utf-8')) // 1024} KiB)")
