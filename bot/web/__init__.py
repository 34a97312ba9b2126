"""The review web UI (``tingfeng serve``): see ``bot.web.app``."""

from bot.web.app import create_app

__all__ = ["create_app"]
