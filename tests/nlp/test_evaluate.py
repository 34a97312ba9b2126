from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from nlp.datasets import Example, TaskData
from nlp.evaluate import baseline, evaluate_task, format_report, metrics
from nlp.heads import HEADS
from tests.nlp.test_datasets import write_tiny_data


def test_metrics_by_hand_with_a_label_never_predicted() -> None:
    gold = ["a", "a", "b", "b", "c"]
    pred = ["a", "b", "b", "b", "a"]
    m = metrics(gold, pred, ["a", "b", "c"])
    assert m["n"] == 5
    assert m["accuracy"] == pytest.approx(3 / 5)
    # F1: a = 2PR/(P+R) with P = R = 1/2 -> 0.5; b: P = 2/3, R = 1 -> 0.8; c never predicted -> 0
    assert m["macro_f1"] == pytest.approx((0.5 + 0.8 + 0.0) / 3)
    assert m["confusion"] == [[1, 1, 0], [0, 2, 0], [1, 0, 0]]  # rows gold, columns predicted


def test_metrics_follow_the_label_order() -> None:
    m = metrics(["x", "y"], ["x", "x"], ["y", "x"])
    assert m["confusion"] == [[0, 1], [0, 1]]


def test_metrics_reject_unknown_labels_and_length_mismatch() -> None:
    with pytest.raises(ValueError, match="'z'"):
        metrics(["a"], ["z"], ["a", "b"])
    with pytest.raises(ValueError, match="2 gold labels but 1"):
        metrics(["a", "b"], ["a"], ["a", "b"])


def test_metrics_of_nothing() -> None:
    assert metrics([], [], ["a"]) == {"accuracy": 0.0, "macro_f1": 0.0, "n": 0, "confusion": [[0]]}


class FixedPredictor:
    """Returns the same probability row for every text."""

    head = "sentiment"
    labels = HEADS["sentiment"]
    version = "fixed-1"

    def __init__(self, row: Sequence[float]) -> None:
        self.row = np.asarray(row)

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        return np.tile(self.row, (len(texts), 1))


def test_evaluate_task_restricts_argmax_to_eval_labels() -> None:
    task = TaskData(
        name="covid_weibo_posneg",
        head="sentiment",
        labels=HEADS["sentiment"],
        test=[Example("好", "positive"), Example("差", "negative")],
        eval_labels=("negative", "positive"),
    )
    # neutral is the most probable column, but only negative/positive are scored
    result = evaluate_task(task, FixedPredictor([0.2, 0.5, 0.3]))
    assert result["confusion"] == [[0, 1], [0, 1]]
    assert result["accuracy"] == 0.5 and result["labels"] == ["negative", "positive"]
    assert result["version"] == "fixed-1" and result["task"] == "covid_weibo_posneg"


def test_evaluate_task_refuses_the_wrong_head() -> None:
    task = TaskData("chnsenticorp", "review", HEADS["review"], [], HEADS["review"])
    with pytest.raises(ValueError, match="needs the review head"):
        evaluate_task(task, FixedPredictor([1, 0, 0]))


def test_baseline_on_tiny_data(tmp_path: Path) -> None:
    data = write_tiny_data(tmp_path / "data")
    result = baseline("thucnews", data)
    assert result["n"] == 200 and result["accuracy"] > 0.9
    assert result["params"]["vectorizer"]["sublinear_tf"] is True


def test_format_report_shows_scores_baseline_and_confusion() -> None:
    ours = {
        "chnsenticorp": {
            "accuracy": 0.93,
            "macro_f1": 0.9299,
            "n": 3,
            "labels": ["negative", "positive"],
            "confusion": [[1, 0], [1, 1]],
            "version": "linear-abc",
        }
    }
    base = {"chnsenticorp": {"accuracy": 0.9225, "macro_f1": 0.92}}
    text = format_report(ours, base)
    assert "chnsenticorp" in text and "0.9300" in text and "0.9225" in text
    assert "linear-abc" in text and "positive" in text.splitlines()[-1]
    assert "-" in format_report(ours, None).splitlines()[1]
