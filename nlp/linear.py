"""The fast default backend: hashed n-grams, TF-IDF, multinomial logistic regression.

Features of ``model_text(raw)``: character 1-3-grams plus word unigrams and bigrams (jieba
dictionary through ``nlp.segment``, HMM on, no user words), hashed into ``n_features``
buckets (sklearn ``HashingVectorizer``, no sign flipping); sublinear TF ``1 + log(tf)``, times
an IDF learned on the train split (``log((1 + n) / (1 + df)) + 1``; buckets seen in fewer than
``min_df`` train texts count as unseen and get ``log(1 + n) + 1``), L2-normalized. ``C`` and
the class weighting are chosen on val by macro-F1 from ``DEFAULT_GRID``.

Chosen on val (seed 13, grid best of each): word n-grams added +1.9 macro-F1 points on emotion,
+0.3 on review, -0.1 on topic and -0.4 on sentiment; char 1-4-grams and ``min_df`` 1 or 3 did
not help (and 1-4 or ``min_df`` 1 doubled the model size).

A model file is a compressed ``.npz`` read with ``allow_pickle=False``: a JSON ``config``
(head, labels, features, recipe), the kept buckets (delta-coded), their IDF and coefficients
(float16) and the intercepts. Only buckets seen in ``min_df`` train texts have a weight, so a
rare n-gram costs nothing but its share of the L2 norm.

Reproduce the shipped models (deterministic; a few minutes a head on one core)::

    from nlp.datasets import default_data_dir
    from nlp.linear import DEFAULT_MODEL_DIR, train_linear
    for head in ("review", "emotion", "topic", "sentiment"):
        train_linear(head, default_data_dir(), DEFAULT_MODEL_DIR, seed=13)

or ``tingfeng nlp train --backend linear``.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from nlp.datasets import Example, head_data, label_counts
from nlp.heads import HEADS, argmax_labels
from nlp.normalize import model_text, sanitize
from nlp.segment import Segmenter

logger = logging.getLogger(__name__)

DEFAULT_MODEL_DIR = Path(__file__).resolve().parent / "data" / "models" / "linear"
FORMAT = 1
#: (C, class_weight) pairs tried on val; ties go to the earlier pair.
DEFAULT_GRID: tuple[tuple[float, str | None], ...] = tuple(
    (c, w) for w in (None, "balanced") for c in (3.0, 10.0, 30.0, 100.0)
)


@dataclass(frozen=True)
class FeatureConfig:
    # A file without "hasher" in its config was written by the first release: sklearn's murmur.
    """How texts become feature vectors (one bundle computes them once for all its heads)."""

    n_features: int = 2**20
    ngram_min: int = 1
    ngram_max: int = 3
    min_df: int = 2
    words: bool = True  # also word unigrams and bigrams (jieba dictionary, HMM on)
    hasher: str = "murmur"  # "murmur": sklearn HashingVectorizer; "mix64": our numpy hashing

    @cached_property
    def _vectorizers(self) -> list[Any]:
        from sklearn.feature_extraction.text import HashingVectorizer

        common = {"alternate_sign": False, "norm": None, "n_features": self.n_features}
        ngrams = (self.ngram_min, self.ngram_max)
        chars = HashingVectorizer(analyzer="char", ngram_range=ngrams, dtype=np.float32, **common)
        if not self.words:
            return [chars]
        return [chars, HashingVectorizer(analyzer=_word_features, dtype=np.float32, **common)]

    def counts(self, texts: Sequence[str]) -> sp.csr_matrix:
        """Raw n-gram counts of ``model_text`` of each raw text, one row per text."""
        if len(texts) == 0:  # HashingVectorizer cannot transform an empty list
            return sp.csr_matrix((0, self.n_features), dtype=np.float32)
        prepared = [model_text(safe_text(t)) for t in texts]
        if self.hasher == "mix64":
            return _mix64_counts(prepared, self)
        first, *others = self._vectorizers
        total = first.transform(prepared)
        for vectorizer in others:
            total = total + vectorizer.transform(prepared)
        return sp.csr_matrix(total)


_MUL = np.uint64(0x9E3779B97F4A7C15)
_MIX = np.uint64(0xBF58476D1CE4E5B9)
_BOUNDARY = -1  # between texts: no n-gram crosses it


def _mix(h: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser: spreads every input bit over the whole 64-bit word."""
    h = h ^ (h >> np.uint64(30))
    h = h * _MIX
    h = h ^ (h >> np.uint64(27))
    return h ^ (h >> np.uint64(31))


#: What ``train_linear`` and ``fit_head`` use unless told otherwise (the shipped models). On val
#: the numpy hashing scored as the murmur one (macro-F1 within 0.1 point on every head; review
#: +0.3) and computes features ~1.8x faster.
TRAIN_FEATURES = FeatureConfig(hasher="mix64")


def _mix64_counts(texts: Sequence[str], cfg: FeatureConfig) -> sp.csr_matrix:
    """Char n-gram (and word uni/bigram) counts hashed with numpy over the whole batch at
    once: ~10x faster than ``HashingVectorizer``'s per-n-gram Python loop. Lower-cased, as
    sklearn's ``char`` analyzer does; n-grams never cross from one text into the next."""
    lowered = [t.lower() for t in texts]
    lengths = np.fromiter((len(t) + 1 for t in lowered), dtype=np.int64, count=len(lowered))
    joined = "\x00".join(lowered) + "\x00"
    codes = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
    codes[codes == 0] = _BOUNDARY
    row_of = np.repeat(np.arange(len(lowered), dtype=np.int64), lengths)
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    mask = np.uint64(cfg.n_features - 1)
    valid = codes != _BOUNDARY
    ucodes = codes.astype(np.uint64)
    for n in range(cfg.ngram_min, cfg.ngram_max + 1):
        m = len(codes) - n + 1
        if m <= 0:
            continue
        ok = valid[:m].copy()
        h = np.full(m, np.uint64(n), dtype=np.uint64)
        for k in range(n):
            ok &= valid[k : k + m]
            h = _mix(h * _MUL + ucodes[k : k + m])
        rows.append(row_of[:m][ok])
        cols.append((h[ok] & mask).astype(np.int64))
    if cfg.words:
        word_rows, word_cols = _word_hashes(lowered, mask)
        rows.append(word_rows)
        cols.append(word_cols)
    r = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
    c = np.concatenate(cols) if cols else np.zeros(0, dtype=np.int64)
    counts = sp.csr_matrix(
        (np.ones(len(r), dtype=np.float32), (r, c)), shape=(len(texts), cfg.n_features)
    )
    counts.sum_duplicates()
    return counts


def _word_hashes(texts: Sequence[str], mask: np.uint64) -> tuple[np.ndarray, np.ndarray]:
    """Word unigrams and bigrams (jieba, HMM on), hashed apart from the char n-grams."""
    cut = _segmenter().cut
    hashes: list[int] = []
    crc = zlib.crc32
    counts: list[int] = []
    for text in texts:
        words = [crc(w.encode("utf-8", "replace")) for w in cut(text, hmm=True) if not w.isspace()]
        counts.append(len(words))
        hashes.extend(words)
    if not hashes:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    uni = np.array(hashes, dtype=np.uint64)
    n_words = np.array(counts, dtype=np.int64)
    text_of = np.repeat(np.arange(len(texts), dtype=np.int64), n_words)
    # bigrams: neighbours within one text (the next word's text index is the same)
    same = text_of[1:] == text_of[:-1]
    bi = (uni[:-1][same] << np.uint64(32)) | uni[1:][same]
    rows_arr = np.concatenate([text_of, text_of[:-1][same]])
    h = np.concatenate([uni, bi]) ^ np.uint64(0xD6E8FEB86659FD93)  # apart from the chars
    return rows_arr, (_mix(h) & mask).astype(np.int64)


def _word_features(text: str) -> list[str]:
    """Word unigrams and bigrams, marked so that they never share a bucket with a character
    n-gram of the same text (a one-character word would otherwise double its character)."""
    words = ["\x02" + w for w in _segmenter().cut(text, hmm=True) if w.strip()]
    return words + [a + "\x03" + b for a, b in zip(words, words[1:], strict=False)]


@lru_cache(maxsize=1)
def _segmenter() -> Segmenter:
    # No user words: the features must not change with a campaign's brand terms.
    return Segmenter(())


def safe_text(raw: Any) -> str:
    """``raw`` as text that every stage can encode (``nlp.normalize.sanitize``: lone
    surrogates from bytes decoded with ``surrogateescape`` become U+FFFD); non-strings ``""``."""
    return sanitize(raw) if isinstance(raw, str) else ""


@dataclass(frozen=True)
class _Weights:
    """One head's IDF and linear layer over the kept buckets."""

    idx: np.ndarray  # int64, sorted bucket ids with a weight
    idf: np.ndarray  # float32, IDF of those buckets
    idf_default: float  # IDF of every other bucket
    coef: np.ndarray  # float32, (len(idx), n_columns); one column = binary logistic
    intercept: np.ndarray  # float32, (n_columns,)

    @cached_property
    def _column(self) -> np.ndarray:
        column = np.full(int(self.idx.max(initial=0)) + 1, -1, dtype=np.int32)
        column[self.idx] = np.arange(len(self.idx), dtype=np.int32)
        return column

    def features(self, counts: sp.csr_matrix) -> sp.csr_matrix:
        """TF-IDF rows over the kept buckets, L2-normalized over all buckets."""
        indices = counts.indices
        column = np.full(len(indices), -1, dtype=np.int32)
        inside = indices < len(self._column)
        column[inside] = self._column[indices[inside]]
        kept = column >= 0
        idf = np.full(len(indices), self.idf_default, dtype=np.float32)
        idf[kept] = self.idf[column[kept]]
        values = (1.0 + np.log(counts.data, dtype=np.float32)) * idf
        rows = np.repeat(np.arange(counts.shape[0]), np.diff(counts.indptr))
        norms = np.sqrt(np.bincount(rows, values * values, minlength=counts.shape[0]))
        values /= np.maximum(norms, 1e-12)[rows].astype(np.float32)
        indptr = np.concatenate(([0], np.cumsum(kept)))[counts.indptr]
        shape = (counts.shape[0], len(self.idx))
        return sp.csr_matrix((values[kept], column[kept], indptr), shape=shape)

    def proba(self, counts: sp.csr_matrix) -> np.ndarray:
        z = np.asarray(self.features(counts) @ self.coef) + self.intercept
        if z.shape[1] == 1:  # binary logistic regression: columns (0, z) under softmax
            z = np.hstack([np.zeros_like(z), z])
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)


class LinearHead:
    """A trained linear head read from its ``.npz`` (implements ``HeadPredictor``)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        raw = self.path.read_bytes()
        self.version = "linear-" + hashlib.sha256(raw).hexdigest()[:10]
        with np.load(io.BytesIO(raw), allow_pickle=False) as npz:
            self.config: dict[str, Any] = json.loads(str(npz["config"]))
            self.weights = _Weights(
                idx=np.cumsum(npz["idx_delta"].astype(np.int64)),
                idf=npz["idf"].astype(np.float32),
                idf_default=float(self.config["idf_default"]),
                coef=npz["coef"].astype(np.float32),
                intercept=npz["intercept"].astype(np.float32),
            )
        self.head: str = self.config["head"]
        self.labels: tuple[str, ...] = tuple(self.config["labels"])
        self.features = FeatureConfig(**self.config["features"])

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        return self.proba_from_counts(self.features.counts(texts))

    def proba_from_counts(self, counts: sp.csr_matrix) -> np.ndarray:
        if counts.shape[0] == 0:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        return self.weights.proba(counts).astype(np.float32)

    def predict(self, texts: Sequence[str]) -> list[str]:
        return argmax_labels(self.predict_proba(texts), self.labels)


class LinearBundle:
    """Several linear heads sharing one feature config: n-grams are counted once per text."""

    def __init__(self, paths: Iterable[Path]) -> None:
        self.heads = {h.head: h for h in (LinearHead(p) for p in paths)}
        configs = {h.features for h in self.heads.values()}
        if len(configs) > 1:
            raise ValueError(f"the heads' feature configs differ: {sorted(map(str, configs))}")
        self.features = next(iter(configs)) if configs else FeatureConfig()

    @classmethod
    def from_dir(cls, model_dir: Path, heads: Iterable[str]) -> LinearBundle:
        return cls(Path(model_dir) / f"{head}.npz" for head in heads)

    def predict_many(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """``{head: probabilities}``, each in its head's ``labels`` order."""
        counts = self.features.counts(texts)
        return {name: head.proba_from_counts(counts) for name, head in self.heads.items()}


def train_linear(
    head: str,
    data_dir: Path,
    out_dir: Path,
    seed: int = 13,
    features: FeatureConfig | None = None,
    grid: Sequence[tuple[float, str | None]] = DEFAULT_GRID,
) -> dict[str, Any]:
    """Train ``head`` on ``head_data(head, data_dir, seed)``, pick (C, class_weight) on val by
    macro-F1, write ``out_dir/<head>.npz`` and return a report."""
    train, val = head_data(head, data_dir, seed=seed)
    report = fit_head(head, train, val, out_dir / f"{head}.npz", features, grid)
    report["seed"] = seed
    return report


def fit_head(
    head: str,
    train: list[Example],
    val: list[Example],
    path: Path,
    features: FeatureConfig | None = None,
    grid: Sequence[tuple[float, str | None]] = DEFAULT_GRID,
) -> dict[str, Any]:
    """Fit on ``train``, choose on ``val``, save to ``path`` and score the saved file on val."""
    from sklearn.linear_model import LogisticRegression

    labels = HEADS[head]
    features = features or TRAIN_FEATURES
    missing = set(labels) - {ex.label for ex in train}
    if missing:
        raise ValueError(f"no training example for the labels {sorted(missing)}")
    y_train = _label_ids(train, labels)
    y_val = _label_ids(val, labels)
    counts = features.counts([ex.text for ex in train])
    idf_weights = _fit_idf(counts, features.min_df)
    x_train = idf_weights.features(counts)
    x_val = idf_weights.features(features.counts([ex.text for ex in val]))
    scores: list[dict[str, Any]] = []
    best: tuple[float, Any, tuple[float, str | None]] | None = None
    for c, class_weight in grid:
        model = LogisticRegression(C=c, class_weight=class_weight, max_iter=3000, tol=1e-4)
        model.fit(x_train, y_train)
        score = _macro_f1(y_val, model.predict(x_val), len(labels))
        scores.append({"C": c, "class_weight": class_weight, "val_macro_f1": round(score, 4)})
        logger.info("%s C=%s class_weight=%s val macro-F1 %.4f", head, c, class_weight, score)
        if best is None or score > best[0]:
            best = (score, model, (c, class_weight))
    assert best is not None, "the grid is empty"
    _, model, (c, class_weight) = best
    recipe = {"C": c, "class_weight": class_weight, "grid": scores, "solver": "lbfgs"}
    _save(path, head, labels, features, idf_weights, model, recipe, len(train), len(val))
    saved = LinearHead(path)
    val_pred = saved.predict([ex.text for ex in val])
    return {
        "head": head,
        "path": str(path),
        "version": saved.version,
        "size_bytes": path.stat().st_size,
        "n_train": len(train),
        "n_val": len(val),
        "train_labels": label_counts(train),
        "grid": scores,
        "C": c,
        "class_weight": class_weight,
        "val_macro_f1": round(_macro_f1(y_val, _label_ids_of(val_pred, labels), len(labels)), 4),
        "val_accuracy": round(
            float(np.mean(np.array(_label_ids_of(val_pred, labels)) == y_val)), 4
        ),
        "n_buckets": len(idf_weights.idx),
    }


def _fit_idf(counts: sp.csr_matrix, min_df: int) -> _Weights:
    n = counts.shape[0]
    df = np.bincount(counts.indices, minlength=counts.shape[1])
    idx = np.flatnonzero(df >= min_df)
    idf = (np.log((1.0 + n) / (1.0 + df[idx])) + 1.0).astype(np.float16).astype(np.float32)
    idf_default = float(np.float16(np.log(1.0 + n) + 1.0))
    empty = np.zeros((len(idx), 0), dtype=np.float32)
    return _Weights(idx, idf, idf_default, empty, np.zeros(0, dtype=np.float32))


def _save(
    path: Path,
    head: str,
    labels: tuple[str, ...],
    features: FeatureConfig,
    weights: _Weights,
    model: Any,
    recipe: dict[str, Any],
    n_train: int,
    n_val: int,
) -> None:
    import sklearn

    coef = np.asarray(model.coef_, dtype=np.float32).T  # (n_kept, n_columns)
    config = {
        "format": FORMAT,
        "head": head,
        "labels": list(labels),
        "features": asdict(features),
        "idf_default": weights.idf_default,
        "recipe": {**recipe, "n_train": n_train, "n_val": n_val, "sklearn": sklearn.__version__},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        np.savez_compressed(
            fh,
            config=np.array(json.dumps(config, ensure_ascii=False, sort_keys=True)),
            idx_delta=np.diff(weights.idx, prepend=0).astype(np.uint32),
            idf=weights.idf.astype(np.float16),
            coef=coef.astype(np.float16),
            intercept=np.asarray(model.intercept_, dtype=np.float32),
        )


def _label_ids(examples: Sequence[Example], labels: tuple[str, ...]) -> np.ndarray:
    return np.array(_label_ids_of([ex.label for ex in examples], labels))


def _label_ids_of(names: Sequence[str], labels: tuple[str, ...]) -> list[int]:
    index = {label: i for i, label in enumerate(labels)}
    return [index[name] for name in names]


def _macro_f1(gold: np.ndarray | Sequence[int], pred: np.ndarray | Sequence[int], k: int) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(gold, pred, average="macro", labels=list(range(k))))
