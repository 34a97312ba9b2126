"""The labelled data every model backend trains and is measured on (``../shared/data``).

Four evaluation *tasks*, each scored on one head (``nlp.heads.HEADS``):

=====================  =========  ==========================================================
task                   head       test split
=====================  =========  ==========================================================
chnsenticorp           review     sentiment/chnsenticorp/test.jsonl (0 negative, 1 positive)
smp2020_usual          emotion    sentiment/smp2020_ewect/usual_test_labeled.json
thucnews               topic      interest/thucnews_titles/test.txt (ids named by class.txt)
covid_weibo_posneg     sentiment  sentiment/covid_weibo_emotion.csv, emotions mapped to
                                  negative/positive (surprise dropped); scored by argmax over
                                  the negative and positive columns only
=====================  =========  ==========================================================

``head_data`` gives the only training data any backend uses, as (train, val); the test splits
above, ``virus_test_labeled.json`` and the whole COVID CSV never reach it: every train or val
example whose ``model_text`` equals that of a test text is dropped (the leak guard).
"""

from __future__ import annotations

import csv
import json
import logging
import os
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from crawlers.errors import TingfengError
from nlp.heads import HEADS
from nlp.normalize import model_text

logger = logging.getLogger(__name__)

DATA_ENV = "TINGFENG_DATA_DIR"
TASKS: tuple[str, ...] = ("chnsenticorp", "smp2020_usual", "thucnews", "covid_weibo_posneg")
TASK_HEADS: dict[str, str] = {
    "chnsenticorp": "review",
    "smp2020_usual": "emotion",
    "thucnews": "topic",
    "covid_weibo_posneg": "sentiment",
}
#: Share of the pooled SMP2020 data (emotion, sentiment) and of THUCNews dev held out as val.
VAL_FRACTION = 0.1
#: Whether the sentiment head also trains on ChnSentiCorp train. Hotel reviews lowered the
#: linear model's Weibo val macro-F1 from 0.804 to 0.791, so they stay out by default.
SENTIMENT_WITH_REVIEWS = False

_CHNSENTI = Path("sentiment/chnsenticorp")
_SMP = Path("sentiment/smp2020_ewect")
_THUC = Path("interest/thucnews_titles")
_COVID = Path("sentiment/covid_weibo_emotion.csv")
_SMP_TRAIN_FILES = ("usual_eval_labeled.json", "virus_train.json", "virus_eval_labeled.json")
_SMP_TEST_FILES = ("usual_test_labeled.json", "virus_test_labeled.json")
_REVIEW_LABELS = {0: "negative", 1: "positive"}
_COVID_POSNEG = {
    "0": "negative",  # fear
    "1": "negative",  # disgust
    "2": "positive",  # optimism
    "4": "positive",  # gratitude
    "5": "negative",  # sadness
    "6": "negative",  # anger
}  # 3 (surprise) has no polarity and is dropped
_EMOTION_TO_SENTIMENT = {
    "happy": "positive",
    "angry": "negative",
    "sad": "negative",
    "fear": "negative",
    "neutral": "neutral",
}  # surprise has no polarity and is dropped


class DataError(TingfengError):
    """Labelled data cannot be read (a usage problem: exit code 2, as for settings)."""

    exit_code = 2


class DataMissing(DataError):
    """A data file is absent."""

    def __init__(self, path: Path) -> None:
        self.path = path
        super().__init__(
            f"data file {path} does not exist: point {DATA_ENV} or --data-dir at the folder "
            "that holds sentiment/ and interest/ (../shared/data beside the checkout)"
        )


class DataFormatError(DataError):
    """A line of a data file is not what it should be."""

    def __init__(self, path: Path, line: int, problem: str) -> None:
        self.path, self.line = path, line
        super().__init__(f"{path}, line {line}: {problem}")


class UnknownTask(DataError):
    def __init__(self, name: str) -> None:
        super().__init__(f"unknown task {name!r}; the tasks are {', '.join(TASKS)}")


@dataclass(frozen=True)
class Example:
    text: str  # raw text; models read model_text(text)
    label: str


@dataclass(frozen=True)
class TaskData:
    name: str
    head: str
    labels: tuple[str, ...]  # the head's labels (the predictor's columns)
    test: list[Example]
    eval_labels: tuple[str, ...]  # the labels scored: argmax is taken over these columns only


def default_data_dir() -> Path:
    """``$TINGFENG_DATA_DIR``, else ``shared/data`` beside the checkout, else ``../shared/data``."""
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env)
    beside = Path(__file__).resolve().parents[2] / "shared" / "data"
    return beside if beside.is_dir() else Path.cwd() / ".." / "shared" / "data"


def load_task(name: str, data_dir: Path) -> TaskData:
    """The test split of task ``name``."""
    if name not in TASK_HEADS:
        raise UnknownTask(name)
    head = TASK_HEADS[name]
    labels = HEADS[head]
    eval_labels = ("negative", "positive") if name == "covid_weibo_posneg" else labels
    return TaskData(name, head, labels, _TEST_LOADERS[name](Path(data_dir)), eval_labels)


def head_data(
    head: str, data_dir: Path, seed: int = 13, with_reviews: bool | None = None
) -> tuple[list[Example], list[Example]]:
    """(train, val) for ``head``; never any test text (see the module docstring).

    ``with_reviews`` (sentiment only; default ``SENTIMENT_WITH_REVIEWS``) adds ChnSentiCorp
    train to the sentiment train set; val stays Weibo-only.
    """
    data_dir = Path(data_dir)
    if head == "review":
        train = _leak_guard(_read_jsonl_reviews(data_dir / _CHNSENTI / "train.jsonl"), data_dir)
        val = _leak_guard(_read_jsonl_reviews(data_dir / _CHNSENTI / "validation.jsonl"), data_dir)
    elif head == "topic":
        train, val = _split(_leak_guard(_read_thucnews(data_dir, "dev.txt"), data_dir), seed)
    elif head in ("emotion", "sentiment"):
        # One split of the SMP2020 pool, stratified by emotion, for both heads: no sentiment
        # val post is an emotion train post, so the heads can be compared or combined.
        pool = [ex for name in _SMP_TRAIN_FILES for ex in _read_smp(data_dir / _SMP / name)]
        train, val = _split(_leak_guard(pool, data_dir), seed)
        if head == "sentiment":
            train, val = _to_sentiment(train), _to_sentiment(val)
            if SENTIMENT_WITH_REVIEWS if with_reviews is None else with_reviews:
                reviews = _read_jsonl_reviews(data_dir / _CHNSENTI / "train.jsonl")
                train += _leak_guard(reviews, data_dir)
    else:
        raise ValueError(f"unknown head {head!r}; the heads are {', '.join(HEADS)}")
    return train, val


def test_texts(data_dir: Path) -> set[str]:
    """``model_text`` of every test text of every task, the whole COVID CSV and virus_test."""
    return set(_test_texts(str(Path(data_dir).resolve())))


test_texts.__test__ = False  # type: ignore[attr-defined]  # not a test for pytest to collect


def load_jsonl(path: Path, labels: Sequence[str] | None = None) -> list[Example]:
    """Examples from a JSON Lines file of ``{"text": ..., "label": ...}`` (blank lines skipped).

    With ``labels``, every label must be one of them.
    """
    path = Path(path)
    if not path.is_file():
        raise DataMissing(path)
    out = []
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if line.strip():
                out.append(_jsonl_example(path, number, line, labels))
    return out


def _jsonl_example(path: Path, number: int, line: str, labels: Sequence[str] | None) -> Example:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise DataFormatError(path, number, f"not valid JSON ({exc.msg})") from exc
    if not isinstance(row, dict):
        raise DataFormatError(path, number, 'expected an object {"text": ..., "label": ...}')
    for key in ("text", "label"):
        if key not in row:
            raise DataFormatError(path, number, f'missing key "{key}"')
        if not isinstance(row[key], str):
            found = type(row[key]).__name__
            raise DataFormatError(path, number, f'"{key}" must be a string, not {found}')
    if labels is not None and row["label"] not in labels:
        allowed = ", ".join(labels)
        raise DataFormatError(path, number, f"unknown label {row['label']!r}; allowed: {allowed}")
    return Example(row["text"], row["label"])


def _need(path: Path) -> Path:
    if not path.is_file():
        raise DataMissing(path)
    return path


def _read_jsonl_reviews(path: Path) -> list[Example]:
    with _need(path).open(encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    return [Example(r["text"], _REVIEW_LABELS[int(r["label"])]) for r in rows]


def _read_smp(path: Path) -> list[Example]:
    rows = json.loads(_need(path).read_text(encoding="utf-8"))
    return [Example(r["content"], r["label"]) for r in rows]


def _read_thucnews(data_dir: Path, name: str) -> list[Example]:
    folder = data_dir / _THUC
    classes = _need(folder / "class.txt").read_text(encoding="utf-8").split()
    out = []
    for line in _need(folder / name).read_text(encoding="utf-8").splitlines():
        if line.strip():
            title, cls = line.rsplit("\t", 1)
            out.append(Example(title, classes[int(cls)]))
    return out


def _read_covid(data_dir: Path) -> list[tuple[str, str]]:
    """(text, emotion id) of every row of the COVID Weibo CSV."""
    with _need(data_dir / _COVID).open(encoding="utf-8-sig", newline="") as fh:
        return [(r["review"], r["label"]) for r in csv.DictReader(fh)]


def _test_chnsenticorp(data_dir: Path) -> list[Example]:
    return _read_jsonl_reviews(data_dir / _CHNSENTI / "test.jsonl")


def _test_smp_usual(data_dir: Path) -> list[Example]:
    return _read_smp(data_dir / _SMP / "usual_test_labeled.json")


def _test_thucnews(data_dir: Path) -> list[Example]:
    return _read_thucnews(data_dir, "test.txt")


def _test_covid_posneg(data_dir: Path) -> list[Example]:
    rows = _read_covid(data_dir)
    return [Example(text, _COVID_POSNEG[e]) for text, e in rows if e in _COVID_POSNEG]


_TEST_LOADERS: dict[str, Callable[[Path], list[Example]]] = {
    "chnsenticorp": _test_chnsenticorp,
    "smp2020_usual": _test_smp_usual,
    "thucnews": _test_thucnews,
    "covid_weibo_posneg": _test_covid_posneg,
}


@lru_cache(maxsize=4)
def _test_texts(data_dir: str) -> frozenset[str]:
    root = Path(data_dir)
    raw: list[str] = [t for t, _ in _read_covid(root)]  # every row, surprise included
    raw += [ex.text for ex in _read_smp(root / _SMP / "virus_test_labeled.json")]
    for name in ("chnsenticorp", "smp2020_usual", "thucnews"):
        raw += [ex.text for ex in _TEST_LOADERS[name](root)]
    return frozenset(model_text(t) for t in raw)


def _leak_guard(examples: list[Example], data_dir: Path) -> list[Example]:
    """``examples`` less those whose ``model_text`` is that of a test text."""
    banned = _test_texts(str(Path(data_dir).resolve()))
    kept = [ex for ex in examples if model_text(ex.text) not in banned]
    if len(kept) < len(examples):
        dropped = len(examples) - len(kept)
        logger.info("leak guard: dropped %d of %d examples in %s", dropped, len(examples), data_dir)
    return kept


def _split(examples: list[Example], seed: int) -> tuple[list[Example], list[Example]]:
    """Stratified, seeded (train, val) with ``VAL_FRACTION`` of each label in val."""
    rng = np.random.default_rng(seed)
    by_label: dict[str, list[int]] = defaultdict(list)
    for i, ex in enumerate(examples):
        by_label[ex.label].append(i)
    val_idx: set[int] = set()
    for label in sorted(by_label):
        idx = np.array(by_label[label])
        rng.shuffle(idx)
        val_idx.update(idx[: round(len(idx) * VAL_FRACTION)].tolist())
    train = [ex for i, ex in enumerate(examples) if i not in val_idx]
    return train, [ex for i, ex in enumerate(examples) if i in val_idx]


def _to_sentiment(examples: Iterable[Example]) -> list[Example]:
    return [
        Example(ex.text, _EMOTION_TO_SENTIMENT[ex.label])
        for ex in examples
        if ex.label in _EMOTION_TO_SENTIMENT
    ]


def label_counts(examples: Iterable[Example]) -> dict[str, int]:
    """How many examples carry each label (sorted by label)."""
    counts: dict[str, int] = defaultdict(int)
    for ex in examples:
        counts[ex.label] += 1
    return dict(sorted(counts.items()))
