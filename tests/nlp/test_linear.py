from __future__ import annotations

import hashlib
import random
from pathlib import Path

import numpy as np
import pytest

from nlp.datasets import Example
from nlp.heads import HEADS, HeadPredictor
from nlp.linear import (
    DEFAULT_MODEL_DIR,
    FeatureConfig,
    LinearBundle,
    LinearHead,
    fit_head,
    train_linear,
)
from tests.nlp.test_datasets import write_tiny_data

WORDS = {
    "negative": ("难吃", "失望", "生气", "太差"),
    "neutral": ("今天", "开会", "通知", "出门"),
    "positive": ("好吃", "开心", "满意", "喜欢"),
}
FILLER = "我们你他的了在是有这那就都也和咖啡店"
#: Small hash space and one grid point: the tests check the mechanics, not the accuracy.
SMALL = FeatureConfig(n_features=2**16)
GRID = ((10.0, None),)

BAD_INPUTS = [
    "",
    "😀😂🙏",  # only emoji
    "https://example.com/a?b=1",  # only a URL: model_text makes it empty
    "好" * 10_000,  # far over MODEL_MAX_CHARS
    "日本語のテキストとEnglish words 混合",
    "\udcff",  # a lone surrogate: invalid UTF-8 decoded with surrogateescape
    b"caf\xe9 \xff\xfe".decode("utf-8", "surrogateescape"),
    "a\x00b\x00好吃",  # NUL characters
    "   \n\t ",
]


def _examples(labels: tuple[str, ...], n: int, seed: int) -> list[Example]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        label = labels[i % len(labels)]
        word = rng.choice(WORDS.get(label, (label,)))
        filler = "".join(rng.choice(FILLER) for _ in range(rng.randint(2, 8)))
        out.append(Example(filler + word + filler[::-1], label))
    return out


def _fit(head: str, path: Path) -> dict[str, object]:
    labels = HEADS[head]
    return fit_head(
        head, _examples(labels, 90, 1), _examples(labels, 30, 2), path, SMALL, grid=GRID
    )


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("linear")
    for head in ("sentiment", "review"):  # three classes (softmax) and two (binary logistic)
        _fit(head, folder / f"{head}.npz")
    return folder


@pytest.mark.parametrize("head", ["sentiment", "review"])
def test_trained_head_learns_and_round_trips(models: Path, head: str) -> None:
    model = LinearHead(models / f"{head}.npz")
    assert isinstance(model, HeadPredictor)
    assert model.head == head and model.labels == HEADS[head]
    test = _examples(HEADS[head], 30, 3)
    proba = model.predict_proba([ex.text for ex in test])
    assert proba.shape == (30, len(HEADS[head]))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    right = sum(
        p == ex.label for p, ex in zip(model.predict([ex.text for ex in test]), test, strict=True)
    )
    assert right >= 27  # 90% on easy synthetic texts
    again = LinearHead(models / f"{head}.npz").predict_proba([ex.text for ex in test])
    np.testing.assert_array_equal(proba, again)


def test_file_loads_without_pickle_and_version_is_its_hash(models: Path) -> None:
    path = models / "sentiment.npz"
    with np.load(path, allow_pickle=False) as npz:
        assert {"config", "idx_delta", "idf", "coef", "intercept"} <= set(npz.files)
        assert all(npz[key].dtype != object for key in npz.files)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert LinearHead(path).version == "linear-" + digest[:10]


def test_training_is_deterministic(models: Path, tmp_path: Path) -> None:
    report = _fit("sentiment", tmp_path / "sentiment.npz")
    assert (tmp_path / "sentiment.npz").read_bytes() == (models / "sentiment.npz").read_bytes()
    assert report["n_train"] == 90 and report["C"] == 10.0


def test_bundle_equals_the_heads_one_by_one(models: Path) -> None:
    bundle = LinearBundle.from_dir(models, ["sentiment", "review"])
    texts = [ex.text for ex in _examples(HEADS["sentiment"], 12, 4)] + BAD_INPUTS
    many = bundle.predict_many(texts)
    assert set(many) == {"sentiment", "review"}
    for head, proba in many.items():
        np.testing.assert_array_equal(
            proba, LinearHead(models / f"{head}.npz").predict_proba(texts)
        )


def test_bundle_rejects_different_feature_configs(models: Path, tmp_path: Path) -> None:
    labels = HEADS["review"]
    other = tmp_path / "review.npz"
    fit_head("review", _examples(labels, 40, 1), _examples(labels, 10, 2), other,
             FeatureConfig(n_features=2**15), grid=GRID)  # fmt: skip
    with pytest.raises(ValueError, match="feature configs differ"):
        LinearBundle([models / "sentiment.npz", other])


@pytest.mark.parametrize("text", BAD_INPUTS)
def test_bad_input_never_crashes(models: Path, text: str) -> None:
    proba = LinearHead(models / "sentiment.npz").predict_proba([text])
    assert proba.shape == (1, 3) and np.isfinite(proba).all()
    assert proba.sum() == pytest.approx(1.0, rel=1e-5)


def test_no_texts_gives_an_empty_matrix(models: Path) -> None:
    assert LinearHead(models / "review.npz").predict_proba([]).shape == (0, 2)


def test_train_linear_end_to_end_on_tiny_data(tmp_path: Path) -> None:
    data = write_tiny_data(tmp_path / "data")
    report = train_linear("topic", data, tmp_path / "out", features=SMALL, grid=GRID)
    assert report["n_train"] == 180 and report["n_val"] == 20
    assert report["val_macro_f1"] > 0.9
    assert LinearHead(tmp_path / "out" / "topic.npz").labels == HEADS["topic"]


def test_missing_training_label_is_refused(tmp_path: Path) -> None:
    train = _examples(("negative", "positive"), 20, 1)  # no neutral
    with pytest.raises(ValueError, match="neutral"):
        fit_head("sentiment", train, train, tmp_path / "s.npz", SMALL, grid=GRID)


SHIPPED_CASES = [
    ("review", "房间干净，服务热情，下次还住这家酒店", "positive"),
    ("review", "房间又小又脏，服务太差了", "negative"),
    ("sentiment", "今天好开心啊哈哈哈[哈哈]", "positive"),
    ("sentiment", "气死我了，什么垃圾服务", "negative"),
    ("emotion", "气死我了，什么垃圾服务", "angry"),
    ("topic", "国足晋级世界杯决赛", "sports"),
]


def test_shipped_models_load_and_stay_small() -> None:
    paths = sorted(DEFAULT_MODEL_DIR.glob("*.npz"))
    if not paths:
        pytest.skip(f"no trained linear models in {DEFAULT_MODEL_DIR}")
    assert {p.stem for p in paths} == set(HEADS)
    assert sum(p.stat().st_size for p in paths) < 8 * 2**20
    bundle = LinearBundle(paths)
    texts = [text for _, text, _ in SHIPPED_CASES]
    many = bundle.predict_many(texts + BAD_INPUTS)
    for head, proba in many.items():
        assert proba.shape == (len(texts) + len(BAD_INPUTS), len(HEADS[head]))
    for i, (head, _, label) in enumerate(SHIPPED_CASES):
        assert HEADS[head][int(many[head][i].argmax())] == label
