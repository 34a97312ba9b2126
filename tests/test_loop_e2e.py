"""The whole loop over real HTTP and a real database, run as a user runs it: the CLI.

The sandbox platform runs as a subprocess; each stage runs as ``python -m bot.cli ...``. The
loop runs twice: the second time no table may gain a row (crawl runs are a log of runs, the one
table that grows by design). It runs on SQLite and on a real PostgreSQL server.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlmodel import Session, SQLModel

from crawlers.sandbox.process import SandboxProcess
from crawlers.store import make_engine, table_counts
from tests.conftest import ROOT

pytestmark = pytest.mark.e2e

STAGES = (["crawl"], ["label"], ["rank"], ["draft"])


def _settings(tmp_path: Path, url: str, base_url: str) -> Path:
    body = (ROOT / "settings.toml").read_text(encoding="utf-8")
    body = body.replace('url = "sqlite:///var/tingfeng.db"', f'url = "{url}"', 1)
    body = body.replace('base_url = "http://127.0.0.1:8765"', f'base_url = "{base_url}"', 1)
    body = body.replace("max_pages = 8 ", "max_pages = 2 ", 1)
    path = tmp_path / "settings.toml"
    path.write_text(body, encoding="utf-8")
    return path


def _cli(path: Path, *args: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "bot.cli", "--settings", str(path), *args],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def _counts(url: str) -> dict[str, int]:
    engine = make_engine(url)
    with Session(engine) as s:
        counts = table_counts(s)
    engine.dispose()
    return counts


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_loop_twice_on_the_sandbox_adds_nothing_the_second_time(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'loop.db'}"
    else:
        url = request.getfixturevalue("pg_url")
        SQLModel.metadata.drop_all(make_engine(url))
    with SandboxProcess(seed=7, users=120) as sandbox:
        path = _settings(tmp_path, url, sandbox.base_url)
        outputs = [_cli(path, *stage) for stage in STAGES]
        first = _counts(url)
        again = [_cli(path, *stage) for stage in STAGES]
        second = _counts(url)
    assert first["account"] > 50 and first["post"] > 50 and first["interaction"] > 50
    assert first["postlabel"] == first["post"], "every post, comment and repost is labelled"
    assert first["influencescore"] > 0 and first["draft"] > 0
    assert "drafted" in outputs[3]
    grew = {t: (first[t], second[t]) for t in first if t != "crawlrun" and first[t] != second[t]}
    assert grew == {}, f"tables changed on the second run: {grew}"
    assert (
        "nothing to label" in again[1]
        and "nothing to rank" in again[2]
        and "nothing new to draft" in again[3]
    )
    status = _cli(path, "status")
    assert "top users by influence:" in status and "1. " in status
