"""``tingfeng nlp``: the whole recipe (pretrain, train, export, eval, predict) on tiny data.

The models here are tiny and the data synthetic (laid out like ../shared/data); the tests check
the commands, their files and their output formats, not accuracy.
"""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli
from tests.bot.test_cli import _settings_file
from tests.nlp.test_datasets import write_tiny_data

TASKS = {"chnsenticorp", "smp2020_usual", "thucnews", "covid_weibo_posneg"}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("nlp-cli")
    data = write_tiny_data(root / "data")
    (data / "unlabeled").mkdir()
    with gzip.open(data / "unlabeled/weibo_covid2020.csv.gz", "wt", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["date", "userid", "text"])
        for i in range(200):
            writer.writerow(["2020-1-19", str(i), f"今天第{i}次去武汉加油，大家都好好的[心]"])
    return root


def _run(root: Path, *args: str) -> tuple[int, str]:
    settings = _settings_file(root)
    result = CliRunner().invoke(
        cli, ["--settings", str(settings), "nlp", *args], catch_exceptions=False
    )
    return result.exit_code, result.output


def test_linear_train_then_eval_json_and_report(workspace: Path) -> None:
    data, models = workspace / "data", workspace / "linear"
    code, out = _run(workspace, "train", "--data-dir", str(data), "--out", str(models))
    assert code == 0, out
    assert {p.name for p in models.iterdir()} == {
        "review.npz",
        "sentiment.npz",
        "emotion.npz",
        "topic.npz",
    }
    code, out = _run(
        workspace, "eval", "--backend", "linear", "--model-dir", str(models),
        "--data-dir", str(data), "--json",
    )  # fmt: skip
    assert code == 0, out
    result = json.loads(out)
    assert set(result) == TASKS
    for scores in result.values():
        assert set(scores) == {"accuracy", "macro_f1", "n"} and scores["n"] > 0
        assert 0 <= scores["macro_f1"] <= scores["accuracy"] + 1 and scores["accuracy"] > 0.5

    code, out = _run(
        workspace, "eval", "--backend", "linear", "--model-dir", str(models),
        "--data-dir", str(data), "--task", "chnsenticorp", "--baseline",
    )  # fmt: skip
    assert code == 0, out
    assert "chnsenticorp" in out and "base acc" in out and "negative" in out


def test_eval_any_jsonl_file_by_its_label_names(workspace: Path, tmp_path: Path) -> None:
    models = workspace / "linear"
    if not models.exists():
        _run(workspace, "train", "--data-dir", str(workspace / "data"), "--out", str(models))
    mine = tmp_path / "my_posts.jsonl"
    rows = [{"text": "太好吃了，满意", "label": "positive"}, {"text": "失望", "label": "negative"}]
    mine.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    code, out = _run(
        workspace, "eval", "--backend", "linear", "--model-dir", str(models),
        "--data", str(mine), "--json",
    )  # fmt: skip
    assert code == 0, out
    assert json.loads(out)["my_posts"]["n"] == 2

    odd = tmp_path / "odd.jsonl"
    odd.write_text(json.dumps({"text": "x", "label": "meh"}), encoding="utf-8")
    code, out = _run(workspace, "eval", "--model-dir", str(models), "--data", str(odd))
    assert code == 2 and "match no head" in out and "sentiment:" in out


def test_unknown_task_and_missing_model_exit_2(workspace: Path, tmp_path: Path) -> None:
    code, out = _run(workspace, "eval", "--task", "nope", "--data-dir", str(workspace / "data"))
    assert code == 2 and "known:" in out and "chnsenticorp" in out
    code, out = _run(
        workspace, "eval", "--backend", "onnx", "--model-dir", str(tmp_path),
        "--data-dir", str(workspace / "data"), "--task", "thucnews",
    )  # fmt: skip
    assert code == 2 and "tingfeng nlp train" in out
    code, out = _run(workspace, "eval", "--data-dir", str(tmp_path / "nowhere"))
    assert code == 2 and "TINGFENG_DATA_DIR" in out


def test_pretrain_finetune_export_eval_predict(workspace: Path) -> None:
    data = workspace / "data"
    pre, tuned = workspace / "pre", workspace / "tuned"
    code, out = _run(
        workspace, "pretrain", "--data-dir", str(data), "--out", str(pre), "--steps", "3",
        "--layers", "1", "--hidden", "32", "--heads", "2", "--max-len", "32",
        "--batch-size", "8", "--threads", "1",
    )  # fmt: skip
    assert code == 0, out
    recipe = json.loads((pre / "recipe.json").read_text(encoding="utf-8"))
    assert recipe["steps"] == 3 and recipe["corpus"]["texts"] > 200  # corpus + training texts

    code, out = _run(
        workspace, "train", "--backend", "transformer", "--base", str(pre), "--head",
        "sentiment", "--epochs", "1", "--max-len", "32", "--out", str(tuned),
        "--data-dir", str(data), "--threads", "1",
    )  # fmt: skip
    assert code == 0, out
    onnx_dir = workspace / "tuned-onnx"
    assert (onnx_dir / "sentiment" / "model.onnx").is_file() and "onnx int8" in out

    code, out = _run(
        workspace, "eval", "--backend", "onnx", "--model-dir", str(onnx_dir),
        "--data-dir", str(data), "--task", "covid_weibo_posneg", "--json",
    )  # fmt: skip
    assert code == 0, out
    assert json.loads(out)["covid_weibo_posneg"]["n"] > 0
    code, out = _run(
        workspace, "eval", "--backend", "ensemble", "--model-dir", str(onnx_dir),
        "--data-dir", str(data), "--task", "covid_weibo_posneg", "--json",
    )  # fmt: skip
    assert code == 0, out
    assert json.loads(out)["covid_weibo_posneg"]["n"] > 0

    settings = _settings_file(
        workspace,
        "",
    )
    body = settings.read_text(encoding="utf-8").replace(
        'model = "linear"', f'model = "onnx"\nmodel_dir = "{onnx_dir}"', 1
    )
    body = body.replace('model_dir = ""', "", 1)
    body = body.replace('heads = ["sentiment", "emotion", "topic"]', 'heads = ["sentiment"]', 1)
    settings.write_text(body, encoding="utf-8")
    result = CliRunner().invoke(
        cli, ["--settings", str(settings), "nlp", "predict", "拾光咖啡太好喝了，推荐！", ""]
    )
    assert result.exit_code == 0, result.output
    assert "model onnx-" in result.output and "unlabellable" in result.output

    # the ensemble: the shipped linear head and this transformer, averaged
    settings.write_text(body.replace('model = "onnx"', 'model = "ensemble"', 1), encoding="utf-8")
    result = CliRunner().invoke(cli, ["--settings", str(settings), "nlp", "predict", "太好喝了"])
    assert result.exit_code == 0, result.output
    assert "model ensemble-" in result.output and "sentiment " in result.output
