"""The classification heads every model backend provides, and the interface they share.

A *head* is one classification task with fixed label names. The labelling stage uses
``sentiment`` (Weibo-domain, three classes), ``emotion`` (the six SMP2020-EWECT emotions) and
``topic`` (the THUCNews classes, mapped to interests); ``review`` is the ChnSentiCorp review
sentiment head that ``tingfeng nlp eval`` measures against the published figures.

A backend (linear, transformers, ONNX Runtime) loads one ``HeadPredictor`` per head. Texts are
raw post texts: each predictor normalizes them with ``nlp.normalize.model_text`` itself, so
training and inference read the same thing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

HEADS: dict[str, tuple[str, ...]] = {
    "sentiment": ("negative", "neutral", "positive"),
    "emotion": ("happy", "angry", "sad", "fear", "surprise", "neutral"),
    "topic": (
        "finance",
        "realty",
        "stocks",
        "education",
        "science",
        "society",
        "politics",
        "sports",
        "game",
        "entertainment",
    ),
    "review": ("negative", "positive"),
}


@runtime_checkable
class HeadPredictor(Protocol):
    """One trained head: ``predict_proba`` gives one row per text, columns in ``labels`` order."""

    head: str
    labels: tuple[str, ...]
    version: str  # changes whenever the weights or the preprocessing change

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray: ...


def argmax_labels(proba: np.ndarray, labels: Sequence[str]) -> list[str]:
    """The most probable label of each row."""
    if len(proba) == 0:
        return []
    return [labels[i] for i in np.asarray(proba).argmax(axis=1)]
