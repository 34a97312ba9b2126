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
