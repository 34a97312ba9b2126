"""Helpers the CLI modules share: settings context, store sessions, terminal-safe text."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any


def clean(text: str, width: int | None = None) -> str:
    """Untrusted text made safe for a terminal: no control characters, one line, cut to width."""
    flat = " ".join(text.split())
    safe = "".join(ch for ch in flat if unicodedata.category(ch)[0] != "C")
    if width is not None and len(safe) > width:
        return safe[: width - 1] + "…"
    return safe


class Context:
    def __init__(self, settings_path: Path, verbose: int = 0) -> None:
        self.settings_path = settings_path
        self.verbose = verbose
        self._settings: Any = None

    @property
    def settings(self) -> Any:
        if self._settings is None:
            from crawlers.config import load_settings

            self._settings = load_settings(self.settings_path)
        return self._settings


def run_stage_result(ctx: Context, fn: Callable[..., Any]) -> Any:
    """``fn(session, settings)`` on the configured store; its result as it is."""
    from sqlmodel import Session

    from crawlers.store import open_store

    engine = open_store(ctx.settings)
    try:
        with Session(engine) as session:
            return fn(session, ctx.settings)
    finally:
        engine.dispose()


def run_stage(ctx: Context, fn: Callable[..., int]) -> int:
    from sqlmodel import Session

    from crawlers.store import open_store

    engine = open_store(ctx.settings)
    try:
        with Session(engine) as session:
            n = fn(session, ctx.settings)
            session.commit()
        return n
    finally:
        engine.dispose()


def empty_store(ctx: Context, model_name: str) -> bool:
    from sqlmodel import Session

    from crawlers import models
    from crawlers.store import count, open_store

    engine = open_store(ctx.settings)
    try:
        with Session(engine) as session:
            return count(session, getattr(models, model_name)) == 0
    finally:
        engine.dispose()


def format_draft(d: dict[str, Any], with_status: bool = False) -> str:
    """One line for a draft (see ``bot.summary.draft_line``): id, campaign, action, target, text."""
    who = clean(d["name"], 20) + f" ({d['target']})" if d["name"] else d["target"]
    action = {"follow": f"follow {who}", "reply": f"reply to {who}", "repost": f"repost {who}"}.get(
        d["kind"], f"{d['kind']} {who}"
    )
    if d["post"]:
        action += f" post {d['post']}"
    status = f"{d['status']:<8} " if with_status else ""
    text = f": {clean(d['text'], 60)}" if d["text"] else ""
    return f"#{d['id']:<4} {status}{d['campaign']:<9} [{d['hash'][:8]}] {action}{text}"


def with_session(ctx: Context, fn: Callable[[Any], Any]) -> Any:
    """Run ``fn(session)`` on the configured store and commit; returns what ``fn`` returns."""
    from sqlmodel import Session

    from crawlers.store import open_store

    engine = open_store(ctx.settings)
    try:
        with Session(engine) as session:
            result = fn(session)
            session.commit()
            return result
    finally:
        engine.dispose()
