"""``tingfeng graph top | communities | lookalikes | eval``.

``top``, ``communities`` and ``lookalikes`` read the latest ranking run in the store (written by
``tingfeng rank``). ``eval`` measures how well each ranking predicts spreading, on real edge
lists:

Kitsak-style: each node seeds SIR outbreaks on the spreading graph; Kendall tau-b of each
ranking against the mean outbreak size, per infection rate (multiples of the epidemic
threshold). With timestamps, also Spearman's rho of rankings of the first half of the messages
against messages received in the second half. See ``graph.evaluate``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import click

from bot.cli_common import Context, run_stage_result
from crawlers.errors import ConfigError

DEFAULT_NETWORKS = ("email-Eu-core.txt", "CollegeMsg.txt")


@click.group(name="graph")
def graph_group() -> None:
    """Influence rankings, communities and look-alikes from the store; evaluation on real
    networks."""


@graph_group.command(name="top")
@click.option("--platform", default="weibo", show_default=True)
@click.option("--interest", default="", help="An interest name (default: overall influence).")
@click.option("--limit", type=int, default=20, show_default=True)
@click.pass_obj
def top(obj: Context, platform: str, interest: str, limit: int) -> None:
    """The most influential users of the latest run, each with why."""
    from graph.score import account_names, latest_run, latest_scores

    def show(session: Any, _settings: Any) -> None:
        run = latest_run(session, platform)
        if run is None:
            click.echo(f"no ranking of {platform} yet: run `tingfeng rank` first")
            return
        rows = latest_scores(session, platform, limit, interest)
        known = sorted(run.summary.get("interests", {}))
        if interest and not rows:
            click.echo(f"nobody ranked in {interest!r}; interests ranked: {', '.join(known)}")
        names = account_names(session, platform, tuple(r.account_id for r in rows))
        for row in rows:
            who = (
                f"{names[row.account_id]} ({row.account_id})"
                if row.account_id in names
                else row.account_id
            )
            click.echo(f"{row.rank:>5}. {who} score {row.score:.4g}")
            click.echo(f"       why: {row.explanation}")

    # the engine is disposed whichever way show() ends (an early return, an error)
    run_stage_result(obj, show)


@graph_group.command(name="communities")
@click.option("--platform", default="weibo", show_default=True)
@click.option("--limit", type=int, default=10, show_default=True)
@click.pass_obj
def communities_cmd(obj: Context, platform: str, limit: int) -> None:
    """The communities of the latest run, largest first: the groups worth joining."""
    from sqlmodel import col, select

    from crawlers.models import Community
    from graph.score import latest_run

    def show(session: Any, _settings: Any) -> None:
        run = latest_run(session, platform)
        if run is None:
            click.echo(f"no ranking of {platform} yet: run `tingfeng rank` first")
            return
        rows = session.exec(
            select(Community).where(Community.run_id == run.id).order_by(col(Community.community))
        ).all()
        click.echo(
            f"{run.summary.get('communities', 0)} communities "
            f"(modularity {run.summary.get('modularity', 0):.3f}); of two or more users:"
        )
        for row in rows[:limit]:
            click.echo(f"  #{row.community}: {row.explanation}")

    # the engine is disposed whichever way show() ends (an early return, an error)
    run_stage_result(obj, show)


@graph_group.command(name="lookalikes")
@click.argument("seeds", nargs=-1, required=True)
@click.option("--platform", default="weibo", show_default=True)
@click.option("--k", type=int, default=20, show_default=True)
@click.pass_obj
def lookalikes_cmd(obj: Context, seeds: tuple[str, ...], platform: str, k: int) -> None:
    """Users most like SEEDS (platform ids or display names): close in the graph, alike in
    tags and interests."""
    from bot.drafts import load_context, profiles
    from crawlers.models import utcnow
    from graph.engage import load_graph, lookalike_accounts

    def show(session: Any, _settings: Any) -> None:
        ctx = load_context(session)
        wanted = set(seeds)
        ids = {a for (p, a), n in ctx.names.items() if p == platform and n in wanted}
        ids |= {s for s in seeds}
        graph = load_graph(session, obj.settings, platform, utcnow())
        if graph is None or not graph.nodes(ids):
            raise ConfigError([f"none of {', '.join(seeds)} is in the {platform} graph; "
                               "give platform ids or display names of ranked users"])  # fmt: skip
        profile = profiles(ctx, platform)
        found = lookalike_accounts(graph, sorted(ids), profile, k)
        for i, (account, score, parts) in enumerate(found, start=1):
            name = ctx.names.get((platform, account), "")
            click.echo(
                f"{i:>4}. {name or account} ({account}) {score:.3f}: graph closeness "
                f"{parts['ppr']:.2f}, tag/interest similarity {parts['similarity']:.2f}"
            )

    # the engine is disposed whichever way show() ends (an early return, an error)
    run_stage_result(obj, show)


@graph_group.command(name="eval")
@click.option("--edges", "edge_files", multiple=True, type=click.Path(path_type=Path),
              help="A `src dst [time]` edge list (default: the two networks in ../shared/data/graphs).")  # fmt: skip
@click.option("--runs", type=int, default=1000, show_default=True,
              help="SIR runs per node (100 is the literature's minimum; 1000 separates "
                   "rankings 0.01 apart).")  # fmt: skip
@click.option("--beta-factors", default="0.5,1,1.5,2", show_default=True,
              help="Infection rates as multiples of the epidemic threshold.")  # fmt: skip
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object {network: results}.")
@click.option("--data-dir", type=click.Path(path_type=Path), default=None)
def eval_graph(
    edge_files: tuple[Path, ...],
    runs: int,
    beta_factors: str,
    seed: int,
    as_json: bool,
    data_dir: Path | None,
) -> None:
    """Kendall tau of each ranking against simulated SIR spreading, per infection rate."""
    from graph.evaluate import evaluate_network, load_edge_list, temporal_check

    try:
        factors = [float(f) for f in beta_factors.split(",") if f.strip()]
    except ValueError as exc:
        raise ConfigError(
            [f"--beta-factors {beta_factors!r}: numbers separated by commas"]
        ) from exc
    files = list(edge_files) or _default_networks(data_dir)
    out: dict[str, Any] = {}
    for path in files:
        try:
            src, dst, times = load_edge_list(path)
        except (OSError, ValueError) as exc:
            raise ConfigError([f"--edges {path}: {exc}"]) from exc
        result = evaluate_network(src, dst, factors, runs=runs, seed=seed)
        if times is not None:
            result["temporal"] = temporal_check(src, dst, times)
        out[path.name] = result
    if as_json:
        click.echo(json.dumps(_finite(out), default=_plain))
        return
    for name, result in out.items():
        click.echo(_table(name, result))


def _default_networks(data_dir: Path | None) -> list[Path]:
    from nlp.datasets import default_data_dir

    root = (data_dir or default_data_dir()) / "graphs"
    files = [root / name for name in DEFAULT_NETWORKS]
    missing = [f for f in files if not f.is_file()]
    if missing:
        raise ConfigError(
            [
                f"no edge list at {f}; pass --edges FILE or --data-dir (../shared/data)"
                for f in missing
            ]
        )
    return files


def _finite(value: Any) -> Any:
    """NaN (a tau against a constant ranking) as null, so the output is strict JSON."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _plain(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def _table(name: str, result: dict[str, Any]) -> str:
    rows = result["results"]
    methods = list(rows[0]["tau"]) if rows else []
    lines = [
        f"{name}: {result['nodes']} nodes, {result['edges']} edges, "
        f"epidemic threshold {result['epidemic_threshold']:.5f}, {result['runs']} runs per node",
        "  x beta_c      beta  mean size  " + "  ".join(f"{m:>10}" for m in methods),
    ]
    for row in rows:
        taus = "  ".join(f"{_num(row['tau'][m]):>10}" for m in methods)
        lines.append(
            f"  {row['factor']:>8g}  {row['beta']:.5f}  {row['mean_outbreak']:>9.2f}  {taus}"
        )
    if "influence" in methods:
        wins = [
            f"{m} at {sum(_beats(r['tau'], m) for r in rows)}/{len(rows)}"
            for m in methods
            if m != "influence"
        ]
        lines.append(f"  influence beats {', '.join(wins)} infection rates")
    temporal = result.get("temporal")
    if temporal:
        rho = "  ".join(f"{m} {_num(v)}" for m, v in temporal["rho"].items())
        lines.append(f"  temporal (Spearman, first half vs messages received later): {rho}")
    return "\n".join(lines)


def _beats(tau: dict[str, float | None], other: str) -> bool:
    ours, theirs = tau.get("influence"), tau.get(other)
    if ours is None or theirs is None or math.isnan(ours):
        return False
    return math.isnan(theirs) or ours > theirs


def _num(value: float) -> str:
    return "nan" if value is None or math.isnan(value) else f"{value:.3f}"
