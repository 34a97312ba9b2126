"""``tingfeng users`` (add, list, disable) and ``tingfeng serve --help``."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlmodel import Session, select

from bot.cli import cli
from bot.web.auth import verify_password
from crawlers.models import WebUser
from crawlers.store import make_engine
from tests.conftest import ROOT


def _settings_file(tmp_path: Path) -> Path:
    body = (ROOT / "settings.toml").read_text(encoding="utf-8")
    body = body.replace(
        'url = "sqlite:///var/tingfeng.db"', f'url = "sqlite:///{tmp_path / "cli.db"}"', 1
    )
    body = body.replace("reviewers = []", 'reviewers = ["alice"]', 1)
    path = tmp_path / "settings.toml"
    path.write_text(body, encoding="utf-8")
    return path


def _run(
    path: Path, *args: str, env: dict[str, str] | None = None, stdin: str = ""
) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--settings", str(path), *args], env=env, input=stdin)
    return result.exit_code, result.output


def test_users_add_list_disable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _settings_file(tmp_path)
    secret = "a long pass phrase 1"
    code, out = _run(path, "users", "add", "alice", env={"TINGFENG_NEW_PASSWORD": secret})
    assert code == 0 and "added user alice" in out and secret not in out
    code, out = _run(path, "users", "add", "bob", env={"TINGFENG_NEW_PASSWORD": secret})
    assert code == 0 and "not in [bot] reviewers" in out
    code, out = _run(path, "users", "add", "carl", env={"TINGFENG_NEW_PASSWORD": "short"})
    assert code == 5 and "at least 12" in out
    code, out = _run(path, "users", "add", "alice", env={"TINGFENG_NEW_PASSWORD": secret})
    assert code == 5 and "exists already" in out
    code, out = _run(path, "users", "add", "bad name!", env={"TINGFENG_NEW_PASSWORD": secret})
    assert code == 5 and "letters, digits" in out
    # without the variable: asked twice, hidden
    answers = iter([secret, secret + "x"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    code, out = _run(path, "users", "add", "dora")
    assert code == 5 and "differ" in out
    code, out = _run(path, "users", "disable", "bob")
    assert code == 0 and "disabled user bob" in out
    code, out = _run(path, "users", "list")
    lines = out.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("alice") and "enabled" in lines[0] and "reviewer" in lines[0]
    assert lines[1].startswith("bob") and "disabled" in lines[1] and "read only" in lines[1]
    assert _run(path, "users", "disable", "nobody")[0] == 5
    engine = make_engine(f"sqlite:///{tmp_path / 'cli.db'}")
    with Session(engine) as s:
        alice = s.exec(select(WebUser).where(WebUser.name == "alice")).one()
        assert secret not in alice.password_hash and verify_password(secret, alice.password_hash)
    engine.dispose()


def test_serve_help_names_its_options(tmp_path: Path) -> None:
    code, out = _run(_settings_file(tmp_path), "serve", "--help")
    assert code == 0 and "--host" in out and "--port" in out and "[web]" in out
