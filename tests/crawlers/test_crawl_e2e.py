"""End to end: the sandbox platform and ``python -m crawlers.crawl`` as subprocesses, over HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.request import urlopen

import pytest
from sqlmodel import Session, select

from crawlers.models import Account, CrawlRun, Interaction, Post
from crawlers.sandbox.process import SandboxProcess
from crawlers.store import make_engine, table_counts

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
#: a login cookie as an operator would export it; it must never appear in any log line
SECRET = "SUB=_2A25secret-cookie-value"

SETTINGS = """
[store]
url = "sqlite:///{db}"
[crawl]
base_url = "{base_url}"
download_delay = 0.0
autothrottle = false
concurrent_requests_per_domain = 4
retry_times = 0
max_pages = 2
timeline_pages = 1
comment_pages = 1
repost_pages = 1
fan_pages = 1
search_types = ["realtime", "hot"]
log_level = "DEBUG"
[campaigns.shiguang]
brand = "拾光咖啡"
interests = ["coffee"]
tags = ["咖啡"]
topics = ["咖啡探店"]
supertopics = ["咖啡"]
keywords = ["拿铁"]
"""


def crawl(tmp_path: Path, base_url: str, db: Path) -> dict[str, int]:
    path = tmp_path / "settings.toml"
    path.write_text(SETTINGS.format(db=db, base_url=base_url), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "crawlers.crawl", "--settings", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "TINGFENG_WEIBO_COOKIE": SECRET},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "secret-cookie-value" not in done.stderr + done.stdout, "the cookie leaked into the logs"
    return {k: int(v) for k, v in (line.split("=") for line in done.stdout.split())}


def hits(base_url: str) -> dict[str, int]:
    with urlopen(f"{base_url}/_sandbox/stats", timeout=10) as resp:  # noqa: S310 - 127.0.0.1 only
        return json.loads(resp.read())["hits"]


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Any]:
    with SandboxProcess(seed=7, users=120) as sb:
        yield sb


def counts(db: Path) -> dict[str, int]:
    with Session(make_engine(f"sqlite:///{db}")) as s:
        return {
            k: v
            for k, v in table_counts(s).items()
            if k in ("account", "post", "interaction", "grp")
        }


def test_crawl_collects_everything_once(sandbox: Any, tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    summary = crawl(tmp_path, sandbox.base_url, db)
    assert summary["errors"] == 0 and summary["pages"] > 10
    engine = make_engine(f"sqlite:///{db}")
    with Session(engine) as s:
        tagged = s.exec(select(Account).where(Account.profile_tags != [])).all()
        assert any("咖啡" in a.profile_tags for a in tagged)
        posts = s.exec(select(Post)).all()
        assert any("咖啡探店" in p.topics for p in posts)
        assert any(p.group_id and p.group_id.startswith("100808") for p in posts)
        assert {p.kind for p in posts} == {"post", "comment", "repost"}
        kinds = {i.kind for i in s.exec(select(Interaction))}
        assert {"comment", "repost", "follow"} <= kinds
        runs = s.exec(select(CrawlRun)).all()
        assert {r.target for r in runs} == {
            "tag:咖啡",
            "topic:咖啡探店",
            "keyword:拿铁",
            "supertopic:咖啡",
        }
        assert all(
            r.status == "finished" and r.pages > 0 and r.campaign == "shiguang" for r in runs
        )
    first = counts(db)
    crawl(tmp_path, sandbox.base_url, db)
    assert counts(db) == first  # natural keys + upserts: a re-run adds no rows
    seen = hits(sandbox.base_url)
    assert seen.get("/robots.txt", 0) >= 1
    assert not [p for p in seen if p.startswith("/private/")]


def test_faults_are_counted_and_skipped(tmp_path: Path) -> None:
    db = tmp_path / "f.db"
    with SandboxProcess(
        seed=7, users=120, faults={"malformed_json": 0.2, "missing_field": 0.2}
    ) as sb:
        summary = crawl(tmp_path, sb.base_url, db)
    assert summary["errors"] > 0 and summary["stored_post"] > 0
    engine = make_engine(f"sqlite:///{db}")
    with Session(engine) as s:
        runs = s.exec(select(CrawlRun)).all()
        assert all(r.status == "finished" for r in runs)
        assert sum(r.errors for r in runs) > 0
        # no broken rows: every post has an author, every interaction two ends
        assert all(p.author_id and p.platform_id for p in s.exec(select(Post)))
        assert all(i.src_id and i.dst_id for i in s.exec(select(Interaction)))
