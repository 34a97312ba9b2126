"""Write the README's screenshot of the review queue: ``python -m tests.web.screenshot [PATH]``.

Builds the bot tests' small coffee world, runs the real drafting stage on it, adds one reply
holding a hidden right-to-left override, serves the UI on 127.0.0.1 and photographs the queue
in headless Chromium (``docs/review-ui.png`` by default).
"""

from __future__ import annotations

import sys
import tempfile
from datetime import timedelta
from pathlib import Path

from sqlmodel import Session, col, select

from bot import drafts
from crawlers.models import Draft, WebUser, utcnow
from crawlers.store import make_engine, migrate
from tests.bot.world import T0, bot_settings, build_world
from tests.conftest import free_port
from tests.web.browser import chromium, log_in_page, serve
from tests.web.conftest import PASSWORD, PASSWORD_HASH, fresh_draft

ROOT = Path(__file__).resolve().parents[2]


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else ROOT / "docs" / "review-ui.png"
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'shot.db'}")
        migrate(engine)
        settings = bot_settings()
        settings.store.url = f"sqlite:///{Path(tmp) / 'shot.db'}"
        with Session(engine) as s:
            build_world(s)
            drafts.run(s, settings, now=T0)
            for d in s.exec(select(Draft).order_by(col(Draft.id))):
                d.expires_at = utcnow() + timedelta(days=3)  # open for review today
                s.add(d)
            s.add(WebUser(name="alice", password_hash=PASSWORD_HASH))
            s.commit()
            odd = fresh_draft(s, account="u3", text="谢谢分享\u202e！我们也爱冷萃 \u200b")
            odd.created_at = T0 - timedelta(hours=1)  # first in the queue
            odd.rule = "reply_question"
            odd.evidence = {"rule": {"name": odd.rule, "why": "asks a question about coffee"},
                            "post": {"id": "p3", "text": "咖啡还行"}}  # fmt: skip
            s.add(odd)
            s.commit()
        with chromium() as browser, serve(settings, engine, free_port()) as base:
            page = browser.new_page(viewport={"width": 1360, "height": 900})
            log_in_page(page, base, "alice", PASSWORD)
            page.screenshot(path=str(out), full_page=False)
        engine.dispose()
    print(f"wrote {out} ({out.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
