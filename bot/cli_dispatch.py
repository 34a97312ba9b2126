"""``tingfeng dispatch``, ``tingfeng handoff`` and ``tingfeng reconcile``: what happens to a
draft after its approval (see ``bot.dispatch``, ``bot.handoff``, ``bot.reconcile``)."""

from __future__ import annotations

from typing import Any

import click

from bot.cli_common import Context, clean, run_stage_result, with_session
from bot.cli_review import _actor


def dispatch_command(obj: Context, target: str | None, limit: int | None) -> None:
    """The body of ``tingfeng dispatch``: ``--to sandbox`` sends Weibo drafts to the sandbox;
    without it, every platform goes where ``[dispatch]`` says."""
    from bot.dispatch import SandboxAdapter, run, run_configured

    if target == "sandbox":
        cfg = obj.settings.sandbox
        url = f"http://{cfg.host}:{cfg.port}"
        adapter = SandboxAdapter(url, obj.settings.dispatch.timeout_seconds)
        summary = run_stage_result(
            obj, lambda s, settings: run(s, settings, {"weibo": adapter}, limit=limit)
        )
    else:
        summary = run_stage_result(
            obj, lambda s, settings: run_configured(s, settings, limit=limit)
        )
    click.echo(str(summary))


def _describe(d: Any) -> list[str]:
    from bot.handoff import ACTIONS, links

    where = links(d)
    lines = [
        f"#{d.id} {ACTIONS.get(d.kind, d.kind)} ({d.platform}, account {d.target_account}"
        + (f", post {d.target_post}" if d.target_post else "")
        + f"), handed off {d.sent_at:%Y-%m-%d %H:%M} UTC",
        f"  open: {where[0]}" if where else "  open: (no link for this platform)",
    ]
    lines += [f"    or: {u}" for u in where[1:]]
    if d.kind != "follow":
        # the exact text to copy: newlines kept, control characters dropped
        safe = "".join(ch for ch in d.text if ch == "\n" or ch.isprintable())
        lines.append("  text (copy exactly):")
        lines += [f"    {line}" for line in safe.split("\n")]
    lines.append(f"  hash: {d.approved_hash}")
    return lines


@click.group()
def handoff() -> None:
    """Weibo drafts a person posts by hand ([dispatch] weibo = "handoff")."""


@handoff.command("list")
@click.pass_obj
def handoff_list(obj: Context) -> None:
    """What to post: where to open, the exact text to copy, its hash."""
    from bot.handoff import pending

    def show(session: Any) -> None:
        drafts = pending(session)
        if not drafts:
            click.echo("nothing handed off: no approved Weibo drafts wait for a person")
            return
        for d in drafts:
            for line in _describe(d):
                click.echo(line)
        click.echo(
            "after posting: `tingfeng handoff done ID --ref URL_OR_ID`; if you will not: "
            "`tingfeng handoff skip ID --why TEXT`"
        )

    with_session(obj, show)


@handoff.command("done")
@click.argument("draft_id", type=int)
@click.option("--ref", "ref", required=True, help="The URL or id of what you posted.")
@click.option("--hash", "expected_hash", default=None, help="The hash `handoff list` showed.")
@click.option("--as", "actor", default=None, help="Your name (default: your login).")
@click.pass_obj
def handoff_done(
    obj: Context, draft_id: int, ref: str, expected_hash: str | None, actor: str | None
) -> None:
    """You posted it: the draft becomes sent, with where."""
    from bot.handoff import confirm

    with_session(
        obj,
        lambda s: confirm(
            s, draft_id, _actor(actor), ref, expected_hash=expected_hash,
            settings=obj.settings.bot,
        ),
    )  # fmt: skip
    click.echo(f"draft #{draft_id} sent (posted by hand): {clean(ref, 128)}")


@handoff.command("skip")
@click.argument("draft_id", type=int)
@click.option("--why", required=True, help="Why it was not posted (kept in the audit log).")
@click.option("--as", "actor", default=None, help="Your name (default: your login).")
@click.pass_obj
def handoff_skip(obj: Context, draft_id: int, why: str, actor: str | None) -> None:
    """You will not post it: the draft becomes failed."""
    from bot.handoff import skip

    with_session(obj, lambda s: skip(s, draft_id, _actor(actor), why, settings=obj.settings.bot))
    click.echo(f"draft #{draft_id} skipped (failed): {clean(why, 80)}")


@click.group()
def reconcile() -> None:
    """Drafts sent without an answer: did it happen? Never re-sent blindly."""


@reconcile.command("list")
@click.pass_obj
def reconcile_list(obj: Context) -> None:
    """Drafts whose outcome is unknown, with the error and the hash (= Idempotency-Key)."""
    from bot.handoff import ACTIONS
    from bot.reconcile import pending

    def show(session: Any) -> None:
        drafts = pending(session)
        if not drafts:
            click.echo("nothing to reconcile")
            return
        for d in drafts:
            post = f", post {d.target_post}" if d.target_post else ""
            click.echo(
                f"#{d.id} {ACTIONS.get(d.kind, d.kind)} ({d.platform}, account "
                f"{d.target_account}{post}), sent {d.sent_at:%Y-%m-%d %H:%M} UTC: "
                f"{clean(d.dispatch_error, 120)}"
            )
            if d.text:
                click.echo(f"  text: {clean(d.text, 100)}")
            click.echo(f"  hash: {d.approved_hash}")
        click.echo(
            "`tingfeng reconcile check` asks the platforms that can tell; else look, then "
            "`reconcile sent ID --ref X` or `reconcile not-sent ID` (sent again, same key)"
        )

    with_session(obj, show)


@reconcile.command("sent")
@click.argument("draft_id", type=int)
@click.option("--ref", "ref", required=True, help="The platform's id or URL of it.")
@click.option("--as", "actor", default=None, help="Your name (default: your login).")
@click.pass_obj
def reconcile_sent(obj: Context, draft_id: int, ref: str, actor: str | None) -> None:
    """It happened: the draft becomes sent."""
    from bot.reconcile import resolve

    with_session(obj, lambda s: resolve(s, draft_id, _actor(actor), True, ref))
    click.echo(f"draft #{draft_id} sent: {clean(ref, 128)}")


@reconcile.command("not-sent")
@click.argument("draft_id", type=int)
@click.option("--why", default="", help="How you know (kept in the audit log).")
@click.option("--as", "actor", default=None, help="Your name (default: your login).")
@click.pass_obj
def reconcile_not_sent(obj: Context, draft_id: int, why: str, actor: str | None) -> None:
    """It did not happen: the draft is approved again, and the next dispatch sends it with the
    same Idempotency-Key."""
    from bot.reconcile import resolve

    with_session(obj, lambda s: resolve(s, draft_id, _actor(actor), False, why=why))
    click.echo(f"draft #{draft_id} approved again: the next dispatch sends it (same key)")


@reconcile.command("check")
@click.pass_obj
def reconcile_check(obj: Context) -> None:
    """Ask the platforms that can tell (Mastodon, the sandbox) and settle what they answer."""
    from bot.reconcile import check

    summary = run_stage_result(obj, lambda s, settings: check(s, settings))
    click.echo(str(summary))
    for note in summary.notes:
        click.echo(f"  {clean(note, 160)}")
