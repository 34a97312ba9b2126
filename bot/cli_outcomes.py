"""``tingfeng outcomes``: what our sent actions got back, per campaign, rule and template."""

from __future__ import annotations

from datetime import datetime

import click
from sqlmodel import Session

from bot.cli_common import Context, clean, with_session
from bot.outcomes import MIN_SAMPLE, OutcomeRow, by_template


def _mean(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def format_rows(rows: list[OutcomeRow]) -> list[str]:
    """The table: one line per campaign, rule and template, each rule's best first (★)."""
    if not rows:
        return []
    lines = [
        f"{'campaign':<10} {'rule':<22} {'template':<32} {'sent':>4} {'follow-back':<16} "
        f"{'engaged':<16} {'found':>5} {'likes/c':>7} {'replies/c':>9} {'reposts/c':>9}"
    ]
    best: set[tuple[str, str]] = set()
    for r in rows:
        mark = " "
        if (r.campaign, r.rule) not in best and not r.too_few and r.score >= 0:
            best.add((r.campaign, r.rule))
            mark = "★"
        lines.append(
            f"{clean(r.campaign, 10):<10} {clean(r.rule, 22):<22} "
            f"{mark}{clean(r.template or '(no text)', 31):<31} {r.sent:>4} "
            f"{str(r.follow_back):<16} {str(r.engaged):<16} {r.found:>5} "
            f"{_mean(r.likes_mean):>7} {_mean(r.replies_mean):>9} {_mean(r.reposts_mean):>9}"
            + (f"  {r.note}" if r.note else "")
        )
        if r.example and r.kind != "follow":
            lines.append(f"{'':<34}e.g. {clean(r.example, 70)}")
    return lines


def _since(value: str | None) -> datetime | None:
    from reports.data import parse_when

    return None if value is None else parse_when(value, "--since")


@click.command()
@click.option("--campaign", default=None, help="Only this campaign (default: all).")
@click.option("--since", default=None, help="Only drafts sent on or after this date (UTC).")
@click.pass_obj
def outcomes(obj: Context, campaign: str | None, since: str | None) -> None:
    """Follow-backs, likes, replies and reposts our sent actions got, per rule and template
    (collected by later crawls), the best template of each rule first."""
    start = _since(since)
    known = obj.settings.campaigns
    if campaign is not None and campaign not in known:
        raise click.BadParameter(
            f"no campaign {campaign!r}; known: {', '.join(known) or 'none'}",
            param_hint="--campaign",
        )
    own = {name: list(camp.own_accounts) for name, camp in known.items()}

    def show(session: Session) -> None:
        rows = by_template(session, campaign, start, own)
        if not rows:
            click.echo("no sent drafts yet (approve drafts, then `tingfeng dispatch`)")
            return
        for line in format_rows(rows):
            click.echo(line)
        if any(r.kind == "follow" and not r.follow_back.n for r in rows):
            click.echo(
                "follow-back needs the campaign's own_accounts (their fans are crawled): "
                "set [campaigns.NAME] own_accounts"
            )
        click.echo(
            f"rates: Wilson 95% intervals; ★ = best of its rule by follow-back (lower bound) or "
            f"likes+replies+reposts per comment, among rows with n >= {MIN_SAMPLE}. "
            "Counts grow as later crawls collect them."
        )

    with_session(obj, show)
