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


def _store_cli(tmp_path: Path) -> Path:
    """A store with the shared-audience world of test_drafts_graph, ranked through the CLI."""
    from sqlmodel import Session

    from crawlers.store import make_engine, migrate
    from tests.bot.test_drafts_graph import shared_audience_world

    settings = _settings_file(tmp_path)
    engine = make_engine(f"sqlite:///{tmp_path / 'cli.db'}")
    migrate(engine)
    with Session(engine) as session:
        shared_audience_world(session)
    engine.dispose()
    result = CliRunner().invoke(cli, ["--settings", str(settings), "rank"])
    assert result.exit_code == 0 and "ranked" in result.output, result.output
    return settings


def _cli(settings: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--settings", str(settings), "graph", *args])
    return result.exit_code, result.output


def test_graph_top_communities_and_lookalikes_read_the_store(tmp_path: Path) -> None:
    settings = _store_cli(tmp_path)
    code, out = _cli(settings, "top", "--limit", "3")
    assert code == 0 and out.splitlines()[0].startswith("    1. 博主a")
    assert "8 users engage with them (8 reposts)" in out
    code, out = _cli(settings, "top", "--interest", "coffee")
    assert code == 0 and "rank 3 of 3 in coffee: 1 of 1 posts about coffee" in out
    code, out = _cli(settings, "top", "--interest", "golf")
    assert "nobody ranked in 'golf'; interests ranked: coffee" in out
    code, out = _cli(settings, "communities")
    assert code == 0 and "2 communities (modularity 0." in out
    assert "#0: 10 users; they post about coffee (20%); top voices 博主a" in out
    code, out = _cli(settings, "lookalikes", "博主a1", "--k", "1")
    assert code == 0 and out.strip().startswith("1. 博主a2 (a2) 1.000: graph closeness 1.00")
    code, out = _cli(settings, "lookalikes", "nobody")
    assert code == 2 and "none of nobody is in the weibo graph" in out


def test_graph_top_before_any_ranking(tmp_path: Path) -> None:
    code, out = _cli(_settings_file(tmp_path), "top")
    assert code == 0 and "no ranking of weibo yet: run `tingfeng rank` first" in out
