"""``tingfeng alerts [check]``: list alerts (bans, rate limits, negative spikes), or check the
campaigns for negative spikes and deliver them (``reports.alerts``).

``tingfeng alerts`` alone keeps its meaning (the list of ``bot.cli_runs``); this group adds the
``check`` subcommand.
"""

from __future__ import annotations

from typing import Any

import click

from bot.cli_common import Context, clean, run_stage_result
from bot.cli_runs import alerts as list_alerts


@click.group(name="alerts", invoke_without_command=True)
@click.option("--all", "show_all", is_flag=True, help="Include acknowledged alerts.")
@click.option("--ack", "ack_id", type=int, default=None, help="Acknowledge the alert with this id.")
@click.option("--limit", type=int, default=50, show_default=True)
@click.pass_context
def alerts_group(ctx: click.Context, show_all: bool, ack_id: int | None, limit: int) -> None:
    """Alerts an operator must see: bans, rate limits, spent request budgets, negative
    spikes. `tingfeng alerts check` looks for new negative spikes and delivers them."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(list_alerts, show_all=show_all, ack_id=ack_id, limit=limit)


@alerts_group.command(name="check")
@click.option("--campaign", "campaigns", multiple=True, help="Only these campaigns (default: all).")
@click.option(
    "--now",
    default=None,
    help="Check as if it were this time (ISO, UTC unless a zone), e.g. to replay a day.",
)
@click.option("--no-deliver", is_flag=True, help="Record alerts but send nothing.")
@click.pass_obj
def check(obj: Context, campaigns: tuple[str, ...], now: str | None, no_deliver: bool) -> None:
    """Detect negative spikes in the last [alerts] check_hours full hours of each campaign
    (baseline: the same clock hour over [alerts] baseline_days days; robust z and NSR),
    record one alert per episode and deliver it by webhook and/or e-mail, exactly once."""
    from bot.cli_export import parse_time
    from reports.alerts import run_alerts

    when = parse_time(now, "--now")

    def run(session: Any, settings: Any) -> dict[str, Any]:
        return run_alerts(
            session, settings, now=when, campaigns=campaigns or None, deliver_alerts=not no_deliver
        )

    s = run_stage_result(obj, run)
    click.echo(
        f"checked {s['hours_checked']} campaign-hours of {s['campaigns']} campaign(s): "
        f"{s['alerting_hours']} alerting, {s['new_alerts']} new alert(s), "
        f"{s['extended_alerts']} continuing; delivered {s['sent']}, failed {s['failed']}"
    )
    for message in s["new"]:
        click.echo(f"  new: {clean(message, 200)}")
    if s["cold_start"]:
        click.echo(
            "  cold start (less than [alerts] min_history_days of history, no alerts yet): "
            + ", ".join(s["cold_start"])
        )
    if s["failed"]:
        click.echo("  failed deliveries are retried by the next check", err=True)
