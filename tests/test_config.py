"""Settings: the shipped file loads; every mistake names the key, the value and the fix."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import BaseModel

from crawlers.config import Settings, load_settings, supertopic_containerid
from crawlers.errors import ConfigError
from tests.conftest import ROOT


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "settings.toml"
    path.write_text(body, encoding="utf-8")
    return path


def _problems(tmp_path: Path, body: str) -> str:
    with pytest.raises(ConfigError) as info:
        load_settings(_write(tmp_path, body))
    assert info.value.exit_code == 2
    return str(info.value)


def test_shipped_settings_load() -> None:
    s = load_settings(ROOT / "settings.toml")
    assert "shiguang" in s.campaigns and s.campaigns["shiguang"].topics == ["咖啡探店", "手冲咖啡"]
    assert s.base_dir == ROOT


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        # wrong type: names the table, key, value and what is expected
        (
            '[crawl]\ndownload_delay = "fast"\n',
            r"\[crawl\] download_delay = 'fast': .*valid number",
        ),
        # a typo in a key: unknown, with a suggestion and the keys that exist
        (
            "[crawl]\ndownload_dealy = 1.0\n",
            r"\[crawl\] download_dealy: unknown key\. Did you mean 'download_delay'",
        ),
        ("[nope]\nx = 1\n", r"nope: unknown key"),
        # a campaign without its required brand
        ('[campaigns.c]\ntags = ["咖啡"]\n', r"\[campaigns\.c\] brand: required but missing"),
        # out of range
        ("[graph]\ndamping = 1.5\n", r"\[graph\] damping = 1\.5: .*less than 1"),
        ('[crawl]\nbase_url = "ftp://x"\n', r"\[crawl\] base_url = 'ftp://x': .*http"),
        ('[campaigns.c]\nbrand = "b"\ninterests = ["cooking"]\n', r"unknown interest 'cooking'"),
        ("[crawl\n", r"not valid TOML"),
        ('[schedule]\ncrawl = "every hour"\n', r"\[schedule\] crawl = 'every hour': .*crontab"),
        (
            '[schedule]\ntimezone = "Mars/Olympus"\n',
            r"\[schedule\] timezone = 'Mars/Olympus': .*IANA",
        ),
    ],
)
def test_bad_settings_name_key_value_and_fix(tmp_path: Path, body: str, expected: str) -> None:
    assert re.search(expected, _problems(tmp_path, body))


def test_secrets_in_the_file_are_refused(tmp_path: Path) -> None:
    msg = _problems(tmp_path, '[crawl]\ncookie = "SUB=abc"\n')
    assert "crawl.cookie" in msg and "TINGFENG_WEIBO_COOKIE" in msg and "SUB=abc" not in msg


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_settings(tmp_path / "absent.toml")


def test_secret_comes_from_env_and_never_prints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TINGFENG_WEIBO_COOKIE", "SUB=secret-value")
    s = load_settings(_write(tmp_path, ""))
    assert s.secrets.weibo_cookie is not None
    assert s.secrets.weibo_cookie.get_secret_value() == "SUB=secret-value"
    assert "secret-value" not in repr(s.secrets) and "secret-value" not in str(s.model_dump())


def test_env_overrides_a_table_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TINGFENG_CRAWL__MAX_PAGES", "7")
    assert load_settings(_write(tmp_path, "[crawl]\nmax_pages = 2\n")).crawl.max_pages == 7


def test_supertopic_containerid_is_md5_of_name() -> None:
    cid = supertopic_containerid("咖啡")
    assert cid.startswith("100808") and len(cid) == 38
    assert supertopic_containerid(cid) == cid


def test_every_setting_is_in_settings_toml_with_its_default() -> None:
    """Each key of every table appears in settings.toml with a `(default: X)` comment."""
    text = (ROOT / "settings.toml").read_text(encoding="utf-8")
    defaults = Settings.model_validate({})
    for table, section in defaults:
        if table == "campaigns":
            continue
        for key, value in section:
            if isinstance(value, dict | list | BaseModel):
                continue
            lines = [ln for ln in text.splitlines() if ln.split("=")[0].strip() == key]
            assert lines, f"[{table}] {key} is missing from settings.toml"
            shown = str(value).lower() if isinstance(value, bool) else str(value)
            assert any(
                f"default: {shown}" in ln
                or f'default: "{shown}"' in ln
                or "default: the same" in ln
                for ln in lines
            ), f"[{table}] {key}: no '(default: {shown})' comment"


def test_every_setting_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for table, section in Settings.model_validate({}):
        if table == "campaigns":
            continue
        for key, _ in section:
            assert f"`{key}`" in readme, f"README settings reference lacks [{table}] {key}"
