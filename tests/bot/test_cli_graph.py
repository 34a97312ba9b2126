"""``tingfeng graph eval`` on a tiny edge list: the table, strict JSON, and bad files."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from bot.cli import cli
from tests.bot.test_cli import _settings_file


def _run(tmp_path: Path, *args: str) -> tuple[int, str]:
    settings = _settings_file(tmp_path)
    result = CliRunner().invoke(cli, ["--settings", str(settings), "graph", "eval", *args])
    return result.exit_code, result.output


def test_graph_eval_table_and_json(tmp_path: Path) -> None:
    edges = tmp_path / "tiny.txt"
    edges.write_text("1 2 10\n2 3 20\n3 1 30\n1 3 40\n4 1 50\n", encoding="utf-8")
    code, out = _run(tmp_path, "--edges", str(edges), "--runs", "5")
    assert code == 0, out
    assert "4 nodes" in out and "leaderrank" in out and "temporal" in out
    assert "influence beats in_degree at " in out
    code, out = _run(tmp_path, "--edges", str(edges), "--runs", "5", "--json")
    assert code == 0, out
    result = json.loads(out)["tiny.txt"]  # strict JSON: NaN would not parse as null
    assert len(result["results"]) == 4 and set(result["results"][0]["tau"]) == {
        "influence",
        "in_degree",
        "pagerank",
        "leaderrank",
        "coreness",
    }
    assert all(t is None or -1 <= t <= 1 for r in result["results"] for t in r["tau"].values())


def test_graph_eval_bad_file_names_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("1 2\n3 x\n", encoding="utf-8")
    code, out = _run(tmp_path, "--edges", str(bad))
    assert code == 2 and "bad.txt:2" in out
    code, out = _run(tmp_path, "--edges", str(bad), "--beta-factors", "a,b")
    assert code == 2 and "--beta-factors" in out
