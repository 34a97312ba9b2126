"""Trained heads at inference: ``OnnxHead`` (ONNX Runtime, no torch) and ``TorchHead``.

Both implement ``nlp.heads.HeadPredictor``: raw texts in, softmax probabilities out, one row per
text, columns in ``labels`` order (the model's ``id2label``). Texts are read through
``model_text``; batches hold texts of similar length and results come back in input order.
Any text works, the empty one included (it is read as ``[CLS] [SEP]``).

This module must not import torch at import time: the labelling stage runs ONNX models in
processes that never load it (``import torch, transformers`` alone takes ~12 s here).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from crawlers.errors import TingfengError
from nlp.normalize import model_text
from nlp.transformer import tokenizer as chartok

ONNX_FILE = "model.onnx"
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
HEAD_FILE = "head.json"


class ModelError(TingfengError):
    """A transformer model cannot be made or loaded."""


class ModelMissing(ModelError):
    def __init__(self, path: Path, backend: str) -> None:
        self.path = path
        kind = {"onnx": "ONNX (model.onnx)", "torch": "HF (model.safetensors)"}.get(backend, "")
        super().__init__(
            f"no {kind or 'ONNX or HF'} model in {path}: train one with `tingfeng nlp train`"
            + (" and export it" if backend == "onnx" else "")
        )


class UnknownLabels(ModelError):
    def __init__(self, unknown: Sequence[str], labels: Sequence[str]) -> None:
        super().__init__(
            f"training labels {sorted(unknown)} are not among the head's labels {list(labels)}: "
            "map them to the head's labels first (nlp.heads.HEADS)"
        )


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def version_of(kind: str, *files: Path) -> str:
    """``kind-`` + 10 hex of sha256 over the weight (and tokenizer) bytes."""
    digest = hashlib.sha256()
    for path in files:
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return f"{kind}-{digest.hexdigest()[:10]}"


def read_labels(model_dir: Path) -> tuple[str, ...]:
    """The labels of ``config.json``'s ``id2label``, in id order."""
    config = json.loads((model_dir / "config.json").read_text())
    id2label = config["id2label"]
    return tuple(id2label[k] for k in sorted(id2label, key=int))


def read_head(model_dir: Path) -> dict[str, Any]:
    """``head.json`` (head name, labels, max_len, max_positions); defaults without one."""
    path = model_dir / HEAD_FILE
    return json.loads(path.read_text()) if path.exists() else {"head": model_dir.name}


def model_texts(texts: Sequence[str]) -> list[str]:
    return [model_text(chartok.clean(text or "")) for text in texts]


class OnnxHead:
    """An exported head (``export.export_onnx``) run by ONNX Runtime on the CPU."""

    def __init__(
        self,
        model_dir: str | Path,
        batch_size: int = 32,
        max_len: int = 128,
        threads: int | None = 1,
    ) -> None:
        import onnxruntime as ort  # deferred: only the transformer backend needs it

        path = Path(model_dir)
        info = read_head(path)
        self.head: str = info["head"]
        self.labels: tuple[str, ...] = read_labels(path)
        self.version: str = version_of("onnx", path / ONNX_FILE, path / chartok.TOKENIZER_FILE)
        self.batch_size = batch_size
        self.max_len = min(max_len, info.get("max_positions", max_len))
        self.pad_id: int = info.get("pad_id", 0)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or 1  # two threads were slower than one here
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(
            str(path / ONNX_FILE), options, providers=["CPUExecutionProvider"]
        )
        self.inputs = {i.name for i in self.session.get_inputs()}
        self.tokenizer = chartok.load(path)

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        rows = chartok.encode_ids(self.tokenizer, model_texts(texts), self.max_len)
        out = np.zeros((len(rows), len(self.labels)), dtype=np.float32)
        for batch in chartok.sorted_batches([len(r) for r in rows], self.batch_size):
            ids, attention = chartok.pad_batch([rows[i] for i in batch], self.pad_id)
            feeds = {"input_ids": ids, "attention_mask": attention}
            if "token_type_ids" in self.inputs:
                feeds["token_type_ids"] = np.zeros_like(ids)
            out[batch] = softmax(self.session.run(["logits"], feeds)[0])
        return out


class TorchHead:
    """A fine-tuned HF model dir run by torch (CUDA when present)."""

    def __init__(
        self,
        model_dir: str | Path,
        device: str = "auto",
        batch_size: int = 64,
        max_len: int = 128,
        threads: int | None = None,
    ) -> None:
        import torch
        from transformers import AutoModelForSequenceClassification

        from nlp.transformer.pretrain import pick_device

        path = Path(model_dir)
        if threads:
            torch.set_num_threads(threads)
        self.device = pick_device(device)
        self.model = AutoModelForSequenceClassification.from_pretrained(str(path))
        self.model.to(self.device).eval()
        self.head: str = read_head(path)["head"]
        self.labels: tuple[str, ...] = read_labels(path)
        weights = next(path / name for name in WEIGHT_FILES if (path / name).exists())
        self.version: str = version_of("torch", weights, path / chartok.TOKENIZER_FILE)
        self.batch_size = batch_size
        self.max_len = min(max_len, self.model.config.max_position_embeddings)
        self.pad_id: int = self.model.config.pad_token_id or 0
        self.tokenizer = chartok.load(path)

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        from nlp.transformer.finetune import predict_logits

        rows = chartok.encode_ids(self.tokenizer, model_texts(texts), self.max_len)
        logits = predict_logits(self.model, rows, self.pad_id, self.batch_size, self.device)
        return softmax(logits)


def load_head(path: str | Path, backend: str = "auto") -> OnnxHead | TorchHead:
    """The head in ``path``: ``model.onnx`` -> ``OnnxHead``, HF weights -> ``TorchHead``
    (``backend`` "onnx" or "torch" insists on one)."""
    path = Path(path)
    has_onnx = (path / ONNX_FILE).exists()
    has_torch = any((path / name).exists() for name in WEIGHT_FILES)
    if backend in ("auto", "onnx") and has_onnx:
        return OnnxHead(path)
    if backend in ("auto", "torch") and has_torch:
        return TorchHead(path)
    raise ModelMissing(path, backend)
