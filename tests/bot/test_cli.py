"""The command line: every stage has a command, bad settings exit 2, empty stores are explained."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli
from tests.conftest import ROOT


def _settings_file(tmp_path: Path, extra: str = "") -> Path:
    body = (ROOT / "settings.toml").read_text(encoding="utf-8")
    body = body.replace(
        'url = "sqlite:///var/tingfeng.db"', f'url = "sqlite:///{tmp_path / "cli.db"}"', 1
    )
    path = tmp_path / "settings.toml"
    path.write_text(body + extra, encoding="utf-8")
    return path


def _run(path: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--settings", str(path), *args])
    return result.exit_code, result.output


def test_help_lists_every_stage_command() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "bot.cli", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for command in (
        "crawl",
        "label",
        "rank",
        "draft",
        "review",
        "schedule",
        "sandbox",
        "demo",
        "status",
    ):
        assert f"  {command} " in out


def test_malformed_settings_exit_2_with_the_key_named(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[crawl]\nmax_pages = "many"\n', encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "bot.cli", "--settings", str(path), "label"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert "[crawl] max_pages = 'many'" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    ("command", "message"),
    [
        ("label", "nothing to label: the store has no posts yet"),
        ("rank", "nothing to rank: the store has no interactions yet"),
        ("draft", "nothing new to draft"),
    ],
)
def test_stage_on_empty_store_says_so(tmp_path: Path, command: str, message: str) -> None:
    code, out = _run(_settings_file(tmp_path), command)
    assert code == 0, out
    assert message in out


def test_status_on_empty_store(tmp_path: Path) -> None:
    code, out = _run(_settings_file(tmp_path), "status")
    assert code == 0, out
    assert "stored: 0 users, 0 posts" in out and "pending drafts: 0" in out


def test_review_unknown_draft_is_a_clear_error(tmp_path: Path) -> None:
    code, out = _run(_settings_file(tmp_path), "review", "approve", "999")
    assert code == 5
    assert "999" in out


def test_review_lists_nothing_on_empty_store(tmp_path: Path) -> None:
    code, out = _run(_settings_file(tmp_path), "review")
    assert code == 0 and "no pending drafts" in out


def test_unknown_campaign_for_crawl(tmp_path: Path) -> None:
    code, out = _run(_settings_file(tmp_path), "crawl", "--campaign", "nosuch")
    assert code == 2 and "no such campaign" in out


def test_unwritable_store_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "blocker").write_text("a file where a folder should be")
    path = tmp_path / "s.toml"
    path.write_text(f'[store]\nurl = "sqlite:///{tmp_path}/blocker/x/t.db"\n', encoding="utf-8")
    code, out = _run(path, "label")
    assert code == 3 and "cannot create the folder" in out


def _seed_draft(path: Path) -> str:
    from sqlmodel import Session

    from crawlers.config import load_settings
    from crawlers.models import Account, Draft, content_hash
    from crawlers.store import open_store

    engine = open_store(load_settings(path))
    text = "你好～\x1b[31m关于手冲的问题"  # an escape sequence must never reach the terminal
    digest = content_hash("reply", "weibo", "42", "p1", text)
    with Session(engine) as s:
        s.add(Account(platform="weibo", platform_id="42", name="拿铁少女"))
        s.add(
            Draft(
                campaign="shiguang",
                kind="reply",
                platform="weibo",
                target_account="42",
                target_post="p1",
                text=text,
                content_hash=digest,
                dedup_key="k1",
            )
        )
        s.commit()
    engine.dispose()
    return digest


def test_review_flow_through_the_cli(tmp_path: Path) -> None:
    path = _settings_file(tmp_path)
    digest = _seed_draft(path)
    code, out = _run(path, "review")
    assert code == 0 and "reply to 拿铁少女 (42)" in out and digest[:8] in out
    assert "\x1b" not in out
    code, out = _run(path, "review", "show", "1")
    assert code == 0 and digest in out
    code, out = _run(path, "review", "approve", "1", "--hash", digest[:8], "--as", "alice")
    assert code == 0 and "approved draft #1" in out
    code, out = _run(path, "review", "edit", "1", "--text", "改过的回复", "--as", "bob")
    assert code == 0 and "approve it to use the new text" in out
    # the old hash no longer approves: the text changed
    code, out = _run(path, "review", "approve", "1", "--hash", digest[:8])
    assert code == 5 and "changed since you read it" in out
    code, out = _run(path, "review", "reject", "1", "--reason", "off-brand", "--as", "carol")
    assert code == 0
    code, out = _run(path, "review", "list", "--status", "all")
    assert "rejected" in out
    code, out = _run(path, "review", "approve", "1")
    assert code == 5 and "cannot become approved" in out


def test_alerts_resume_and_runs_through_the_cli(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from sqlmodel import Session

    from crawlers import politeness
    from crawlers.config import load_settings
    from crawlers.models import CrawlRun
    from crawlers.store import open_store

    path = _settings_file(tmp_path)
    engine = open_store(load_settings(path))
    with Session(engine) as s:
        s.add(
            CrawlRun(
                platform="weibo",
                spider="weibo",
                target="topic:咖啡探店",
                status="finished",
                pages=3,
                items=30,
                truncated=["search: guest cap after 3 pages"],
            )
        )
        s.commit()
        politeness.pause_source(
            s, "m.weibo.cn", "weibo", "http_418", 418, "https://m.weibo.cn/x", 60, datetime.now(UTC)
        )
    engine.dispose()
    code, out = _run(path, "runs")
    assert (
        code == 0 and "topic:咖啡探店" in out and "not seen: search: guest cap after 3 pages" in out
    )
    code, out = _run(path, "alerts")
    assert code == 0 and "ban" in out and "m.weibo.cn" in out
    code, out = _run(path, "resume", "m.weibo.cn")
    assert code == 0 and "resumed m.weibo.cn" in out
    code, out = _run(path, "resume", "m.weibo.cn")
    assert "was not paused" in out
    code, out = _run(path, "alerts", "--ack", "1")
    assert code == 0 and "acknowledged alert #1" in out
    code, out = _run(path, "alerts")
    assert "no unacknowledged alerts" in out
    code, out = _run(path, "alerts", "--ack", "99")
    assert code == 4 and "no alert with id 99" in out
