"""``tingfeng serve`` (the review web UI) and ``tingfeng users`` (who may log in to it)."""

from __future__ import annotations

import getpass
import os
from typing import Any

import click

from bot.cli_common import Context, clean, with_session
from crawlers.errors import ReviewError

PASSWORD_ENV = "TINGFENG_NEW_PASSWORD"


@click.command()
@click.option("--host", default=None, help="Listen address (default: [web] host, 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default: [web] port, 8750).")
@click.pass_obj
def serve(obj: Context, host: str | None, port: int | None) -> None:
    """Run the review web UI until interrupted (log in with a `tingfeng users add` account)."""
    import uvicorn

    from bot.web import create_app

    settings = obj.settings
    cfg = settings.web
    app = create_app(settings)
    host, port = host or cfg.host, port or cfg.port
    if not cfg.https_only and host not in ("127.0.0.1", "localhost", "::1"):
        click.echo(
            "warning: [web] https_only = false on a non-local address: session cookies may "
            "travel in clear text. Serve it behind HTTPS and set https_only = true.",
            err=True,
        )
    click.echo(f"review UI on http://{host}:{port}/ (Ctrl-C stops it)")
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level="info" if obj.verbose else "warning",
        server_header=False,
        proxy_headers=False,
    )


@click.group("users")
def users() -> None:
    """Accounts of the review web UI: add, list, disable."""


def _new_password() -> str:
    from bot.web.auth import check_new_password

    password = os.environ.get(PASSWORD_ENV)
    if password is None:
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            raise ReviewError("the two passwords differ. Run the command again.")
    check_new_password(password)
    return password


@users.command("add")
@click.argument("name")
@click.pass_obj
def add(obj: Context, name: str) -> None:
    """Create a user; the password comes from TINGFENG_NEW_PASSWORD or is asked twice."""
    from bot.web.auth import add_user, check_name

    check_name(name)
    password = _new_password()
    with_session(obj, lambda s: add_user(s, name, password))
    reviewers = obj.settings.bot.reviewers
    note = ""
    if reviewers and name not in reviewers:
        note = " (not in [bot] reviewers: they can read but not approve, edit or reject)"
    click.echo(f"added user {name}{note}")


@users.command("list")
@click.pass_obj
def list_cmd(obj: Context) -> None:
    """List users: name, created, enabled or disabled, reviewer or read only."""
    from bot.web.auth import list_users

    reviewers = obj.settings.bot.reviewers

    def show(session: Any) -> list[str]:
        return [
            f"{clean(u.name, 64):<20} {u.created_at:%Y-%m-%d %H:%M} "
            f"{'disabled' if u.disabled else 'enabled ':<8} "
            f"{'reviewer' if not reviewers or u.name in reviewers else 'read only'}"
            for u in list_users(session)
        ]

    lines = with_session(obj, show)
    click.echo("\n".join(lines) if lines else "no users: add one with `tingfeng users add NAME`")


@users.command("disable")
@click.argument("name")
@click.pass_obj
def disable(obj: Context, name: str) -> None:
    """Disable a user; their sessions end at once (the name stays in the audit log)."""
    from bot.web.auth import disable_user

    with_session(obj, lambda s: disable_user(s, name))
    click.echo(f"disabled user {name}")
