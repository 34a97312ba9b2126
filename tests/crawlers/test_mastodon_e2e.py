"""End to end: ``python -m crawlers.crawl`` as a subprocess against the Mastodon replay server
(tests/mastodon_server.py) serving the recorded bodies, into a temporary SQLite database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlmodel import Session, select

from crawlers.models import Account, CrawlRun, Interaction, Post
from crawlers.store import make_engine, table_counts
from tests.mastodon_server import MastodonReplay

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "mastodon-token-s3cret"
TEST_2, ADMIN = "117020566092212359", "117020565693913441"

# [crawl] is left at its defaults (log_level aside): the Mastodon spider takes its politeness
# from [mastodon], and the Weibo spider, with no Weibo targets, has nothing to do.
SETTINGS = """
[store]
url = "sqlite:///{db}"
[crawl]
log_level = "DEBUG"
[mastodon]
enabled = true
base_url = "{base_url}"
download_delay = 0.0
[campaigns.hoot]
brand = "Hoot"
hashtags = ["hoot", "toot"]
hashtags_none = ["spam"]
mastodon_accounts = ["mastodonpy_test_2@localhost"]
"""


def crawl(tmp_path: Path, base_url: str, db: Path) -> tuple[dict[str, int], str]:
    path = tmp_path / "settings.toml"
    path.write_text(SETTINGS.format(db=db, base_url=base_url), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "crawlers.crawl", "--settings", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "TINGFENG_MASTODON_TOKEN": TOKEN},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert TOKEN not in done.stderr + done.stdout, "the token leaked into the logs"
    summary = {k: int(v) for k, v in (line.split("=") for line in done.stdout.split())}
    return summary, done.stderr


def counts(db: Path) -> dict[str, int]:
    with Session(make_engine(f"sqlite:///{db}")) as s:
        return {k: v for k, v in table_counts(s).items() if k in ("account", "post", "interaction")}


def test_crawl_stores_the_recorded_world_once(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    with MastodonReplay() as server:
        summary, _ = crawl(tmp_path, server.base_url, db)
        hits = list(server.requests)
    assert summary["errors"] == 0 and summary["requests"] == len(hits)  # Weibo sent nothing
    assert hits[0].path == "/robots.txt" and {h.status for h in hits} == {200}
    api = [h for h in hits if h.path != "/robots.txt"]
    assert all(h.authorization == f"Bearer {TOKEN}" for h in api)
    tag_pages = [h.query for h in api if h.path == "/api/v1/timelines/tag/hoot"]
    assert tag_pages == [
        {"any[]": ["toot"], "none[]": ["spam"], "limit": ["40"]},
        {"any[]": ["toot"], "none[]": ["spam"], "limit": ["40"], "max_id": ["117020593741189701"]},
    ]
    with Session(make_engine(f"sqlite:///{db}")) as s:
        posts = {(p.platform_id, p.kind, p.parent_id) for p in s.exec(select(Post))}
        assert posts == {
            ("117020593741189701", "post", None),  # the #hoot status
            ("117020583245459824", "post", None),  # "Toot, finally!"
            ("117020583258292382", "comment", "117020583245459824"),  # its reply (context)
            ("117020585505579935", "post", None),  # the boosted status
            ("117020585512776006", "repost", "117020585505579935"),  # the boost
        }
        edges = {(i.kind, i.src_id, i.dst_id, i.post_id) for i in s.exec(select(Interaction))}
        assert edges == {
            ("comment", ADMIN, TEST_2, "117020583258292382"),
            ("mention", ADMIN, TEST_2, "117020583258292382"),
            ("repost", TEST_2, TEST_2, "117020585505579935"),
            ("follow", "117020457624302809", TEST_2, ""),
            ("follow", "117020457767579295", TEST_2, ""),
        }
        accounts = {a.platform_id: a.name for a in s.exec(select(Account))}
        assert accounts == {
            TEST_2: "mastodonpy_test_2",
            ADMIN: "admin",
            "117020457624302809": "admin",
            "117020457767579295": "admin2",
        }
        rows = [*s.exec(select(Post)), *s.exec(select(Account)), *s.exec(select(Interaction))]
        assert {r.platform for r in rows} == {"mastodon"}
        runs = {r.target: r for r in s.exec(select(CrawlRun))}
        assert set(runs) == {"hashtag:hoot", "account:mastodonpy_test_2@localhost"}
        assert all(r.platform == "mastodon" and r.status == "finished" for r in runs.values())
        assert runs["account:mastodonpy_test_2@localhost"].truncated == [
            "statuses: stopped at status_pages=1"
        ]
    first = counts(db)
    with MastodonReplay() as server:
        crawl(tmp_path, server.base_url, db)
    assert counts(db) == first  # natural keys + upserts: a re-run adds no rows


def test_rate_limit_headers_keep_the_crawl_under_the_limit(tmp_path: Path) -> None:
    # 5 calls a second: the crawl (a dozen calls) must wait for the window at least once
    with MastodonReplay(limit=5, window_s=1.0) as server:
        summary, log = crawl(tmp_path, server.base_url, tmp_path / "r.db")
        statuses = [h.status for h in server.requests]
    assert 429 not in statuses and summary["errors"] == 0 and summary["stored_post"] == 5
    assert "rate limit: holding" in log
