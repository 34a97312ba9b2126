"""``tingfeng review``: the review queue on the command line (list, show, approve, edit, reject).

An approval is bound to the SHA-256 of the exact text and target the reviewer saw: ``show``
prints the hash, and ``approve --hash`` refuses if the draft changed since.
"""

from __future__ import annotations

import getpass
import json
from typing import Any

import click

from bot.cli_common import Context, clean, format_draft, with_session


def _actor(name: str | None) -> str:
    return name or getpass.getuser() or "cli"


@click.group(invoke_without_command=True)
@click.pass_context
def review(ctx: click.Context) -> None:
    """Review drafted actions. Without a subcommand: list the pending ones."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(list_cmd)


@review.command("list")
@click.option(
    "--status",
    default="pending",
    show_default=True,
    help="pending, approved, edited, rejected, expired, or all.",
)
@click.option("--campaign", default=None, help="Only this campaign.")
@click.option("--limit", type=int, default=None, help="At most this many.")
@click.pass_obj
def list_cmd(obj: Context, status: str, campaign: str | None, limit: int | None) -> None:
    """List drafts with their id, kind, target, text and hash."""
    from bot.review import OPEN, approvers, list_drafts, progress
    from bot.summary import account_names, draft_line

    need = obj.settings.bot.approvals_required

    def show(session: Any) -> None:
        drafts = list_drafts(
            session, status=None if status == "all" else status, campaign=campaign, limit=limit
        )
        if not drafts:
            click.echo(f"no {status} drafts" if status != "all" else "no drafts")
            return
        names = account_names(session, list(drafts))
        for d in drafts:
            line = format_draft(draft_line(d, names), with_status=True)
            if need > 1 and d.status in OPEN and approvers(d):
                line += f"   [{clean(progress(d, need))}]"
            click.echo(line)

    with_session(obj, show)


@review.command()
@click.argument("draft_id", type=int)
@click.pass_obj
def show(obj: Context, draft_id: int) -> None:
    """Show one draft in full: text, target, hash, the rule that fired and its evidence."""
    from bot.review import OPEN, get_draft, progress

    def show_one(session: Any) -> None:
        d = get_draft(session, draft_id)
        click.echo(f"draft #{d.id} ({d.status}) campaign {d.campaign}, {d.kind} on {d.platform}")
        click.echo(
            f"target: account {d.target_account}"
            + (f", post {d.target_post}" if d.target_post else "")
        )
        click.echo(f"text: {clean(d.text)}")
        click.echo(f"hash: {d.content_hash}")
        need = obj.settings.bot.approvals_required
        if need > 1 and (d.status in OPEN or d.approvals):
            click.echo(f"approvals: {clean(progress(d, need))}")
        click.echo(f"rule: {d.rule}; expires {d.expires_at}")
        click.echo(
            "evidence: " + clean(json.dumps(d.evidence, ensure_ascii=False, default=str), 600)
        )

    with_session(obj, show_one)


@review.command()
@click.argument("draft_id", type=int)
@click.option(
    "--hash",
    "expected_hash",
    default=None,
    help="The hash you reviewed (from `review show`); refused if the draft changed since.",
)
@click.option("--as", "actor", default=None, help="Reviewer name (default: your login).")
@click.pass_obj
def approve(obj: Context, draft_id: int, expected_hash: str | None, actor: str | None) -> None:
    """Approve a draft exactly as it is now (`tingfeng dispatch` sends approved drafts)."""
    from bot.review import approve as do_approve

    d = with_session(
        obj,
        lambda s: _fields(
            do_approve(
                s, draft_id, _actor(actor), expected_hash=expected_hash, settings=obj.settings.bot
            ),
            obj.settings.bot.approvals_required,
        ),
    )
    need = obj.settings.bot.approvals_required
    if need > 1 and d["status"] != "approved":  # a step of a multi-step approval
        click.echo(
            f"draft #{d['id']} [{d['hash'][:12]}]: {d['progress']}; "
            f"not approved until {need} reviewers have"
        )
    elif need > 1:
        click.echo(f"approved draft #{d['id']} [{d['hash'][:12]}]: {d['progress']}")
    else:
        click.echo(f"approved draft #{d['id']} [{d['hash'][:12]}]")


@review.command()
@click.argument("draft_id", type=int)
@click.option(
    "--text", "new_text", required=True, help="The new text; any earlier approval is void."
)
@click.option("--as", "actor", default=None, help="Reviewer name (default: your login).")
@click.pass_obj
def edit(obj: Context, draft_id: int, new_text: str, actor: str | None) -> None:
    """Replace a draft's text (it must be approved again)."""
    from bot.review import edit as do_edit

    d = with_session(
        obj,
        lambda s: _fields(do_edit(s, draft_id, new_text, _actor(actor), settings=obj.settings.bot)),
    )
    click.echo(f"edited draft #{d['id']} [{d['hash'][:12]}]; approve it to use the new text")


@review.command()
@click.argument("draft_id", type=int)
@click.option("--reason", default="", help="Why (kept in the audit log).")
@click.option("--as", "actor", default=None, help="Reviewer name (default: your login).")
@click.pass_obj
def reject(obj: Context, draft_id: int, reason: str, actor: str | None) -> None:
    """Reject a draft; it will not be drafted again."""
    from bot.review import reject as do_reject

    d = with_session(
        obj,
        lambda s: _fields(
            do_reject(s, draft_id, _actor(actor), reason=reason, settings=obj.settings.bot)
        ),
    )
    click.echo(f"rejected draft #{d['id']}")


@review.command()
@click.argument("account_id")
@click.option("--platform", default="weibo", show_default=True)
@click.option("--reason", default="", help="Why (kept with the entry).")
@click.option("--as", "actor", default=None, help="Reviewer name (default: your login).")
@click.pass_obj
def suppress(obj: Context, account_id: str, platform: str, reason: str, actor: str | None) -> None:
    """Never contact this account again (no drafts will target it)."""
    from bot.review import suppress as do_suppress

    with_session(obj, lambda s: do_suppress(s, platform, account_id, _actor(actor), reason))
    click.echo(f"suppressed {platform}:{account_id}")


def _fields(draft: Any, need: int = 1) -> dict[str, Any]:
    # read what the message needs while the session is open
    from bot.review import progress

    return {
        "id": draft.id,
        "hash": draft.content_hash,
        "status": draft.status,
        "progress": clean(progress(draft, need)),
    }
