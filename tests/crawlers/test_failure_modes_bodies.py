"""End to end: broken replies from the sandbox (huge, gzip bombs, hangs, truncated, malformed,
missing fields, slow, GB18030): each is counted and skipped, nothing half-parsed is stored.

Helpers and settings: test_failure_modes.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import select

from crawlers.models import CrawlRun, Post
from crawlers.sandbox.process import SandboxProcess
from tests.crawlers.test_failure_modes import (
    USERS,
    assert_no_half_rows,
    db_session,
    fired,
    run_crawl,
    sandbox_log,
)

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize(
    "fault",
    ["huge_body", "gzip_bomb", "hang", "truncated", "malformed_json", "missing_field"],
)
def test_broken_replies_are_counted_and_skipped(tmp_path: Path, fault: str) -> None:
    share = 0.1 if fault == "hang" else 0.3  # each hang costs a download timeout
    with SandboxProcess(seed=7, users=USERS, faults={fault: share}) as sb:
        crawl = run_crawl(tmp_path, sb.base_url)
        entries = sandbox_log(sb.base_url)
    assert fired(entries, fault), f"{fault} never fired: the test proves nothing"
    assert crawl.code == 0 and crawl.summary["banned"] == 0, crawl.log[-3000:]
    assert crawl.summary["errors"] + crawl.summary.get("dropped", 0) > 0, crawl.summary
    with db_session(tmp_path) as s:
        runs = s.exec(select(CrawlRun)).all()
        assert all(r.status == "finished" for r in runs)
        assert_no_half_rows(s)
    if fault in ("huge_body", "gzip_bomb"):
        assert "DOWNLOAD_MAXSIZE" in crawl.log or "maxsize" in crawl.log.lower()


def test_slow_replies_still_arrive(tmp_path: Path) -> None:
    with SandboxProcess(seed=7, users=USERS, faults={"slow": 0.2}, slow_seconds=0.3) as sb:
        crawl = run_crawl(tmp_path, sb.base_url)
        entries = sandbox_log(sb.base_url)
    assert fired(entries, "slow")
    assert crawl.code == 0 and crawl.summary["errors"] == 0, crawl.log[-3000:]


def _texts(tmp_path: Path, db_name: str) -> dict[str, str]:
    with db_session(tmp_path, db_name) as s:
        return {p.platform_id: p.text for p in s.exec(select(Post))}


def test_gb18030_text_is_stored_intact(tmp_path: Path) -> None:
    with SandboxProcess(seed=7, users=USERS) as sb:
        run_crawl(tmp_path, sb.base_url, db_name="utf8.db")
    with SandboxProcess(seed=7, users=USERS, faults={"gb18030": 1.0}) as sb:
        crawl = run_crawl(tmp_path, sb.base_url, db_name="gb.db")
        entries = sandbox_log(sb.base_url)
    assert fired(entries, "gb18030") and crawl.summary["errors"] == 0, crawl.log[-3000:]
    utf8, gb = _texts(tmp_path, "utf8.db"), _texts(tmp_path, "gb.db")
    assert gb and gb == utf8  # the same world, the same Chinese text, byte for byte
    assert any("咖啡" in t for t in gb.values())
