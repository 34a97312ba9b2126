"""The project's exception family: every error tingfeng raises on purpose is a TingfengError.

Each class builds its own message in ``__init__`` so that the message always names what was
wrong and what to do. Only ``bot.cli`` turns these into printed messages and exit codes.
"""

from __future__ import annotations


class TingfengError(Exception):
    """Root of every error tingfeng raises on purpose."""

    exit_code = 1


class ConfigError(TingfengError):
    """A setting is wrong: names the key, the bad value and what is expected."""

    exit_code = 2

    def __init__(self, problems: list[str], path: str | None = None) -> None:
        self.problems = problems
        self.path = path
        where = f"settings file {path}" if path else "settings"
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{where} is not valid:\n{lines}")


class StoreError(TingfengError):
    """The database cannot be opened or written."""

    exit_code = 3

    def __init__(self, url: str, reason: str, fix: str) -> None:
        self.url = url
        super().__init__(f"cannot use the database {url}: {reason}. {fix}")


class CrawlError(TingfengError):
    """A crawl could not start or finish."""

    exit_code = 4


class ReviewError(TingfengError):
    """A review action is not allowed (unknown draft, wrong state, stale approval)."""

    exit_code = 5


class SchedulerError(TingfengError):
    """The scheduler cannot start (for example another process holds the lock)."""

    exit_code = 6
